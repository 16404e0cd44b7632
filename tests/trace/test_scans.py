"""Stamp verdicts and scan recording, on SQLite and PostgreSQL, with a fixed clock."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import threading
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from agritrace.db import make_engine, make_sessionmaker
from agritrace.errors import InvalidInputError
from agritrace.ledger import store
from agritrace.ledger.store import NewEntry
from agritrace.stamps.codec import Stamp, short_code, sign_stamp
from agritrace.trace import claiming, issuance, recalls, registry, scans
from agritrace.trace.models import (
    CertificateStatus,
    FacilityStatus,
    Lot,
    LotStatus,
    StampBatch,
    StampScanClient,
    StampScanPlace,
    StampScanState,
)
from agritrace.trace.scans import Caution, Note, Reason, Verdict
from tests.trace.factories import certified_lot

PREFIX = "HTTPS://TRACE.EXAMPLE.VN/S/"
HANOI = (Decimal("21.03"), Decimal("105.85"))
HAI_PHONG = (Decimal("20.86"), Decimal("106.68"))
SAIGON = (Decimal("10.78"), Decimal("106.70"))


class Issuer:
    """A signing key published as stamp key 0, and a lot with a batch of stamps."""

    def __init__(self, session: Session, now: dt.datetime) -> None:
        self.session = session
        self.now = now
        self.key = Ed25519PrivateKey.generate()
        self.public_keys: dict[int, Ed25519PublicKey] = {0: self.key.public_key()}
        self.lot: Lot = certified_lot(session, now)
        self.batch: StampBatch = issuance.issue_batch(
            session, lot_ref="HD-VAI-01/L1", count=10, key_id=0, prefix=PREFIX, now=now
        )
        self._clients = itertools.count()

    def stamp(self, serial: int | None = None, *, key_id: int = 0) -> Stamp:
        serial = self.batch.first_serial if serial is None else serial
        return sign_stamp(serial, key_id=key_id, private_key=self.key, prefix=PREFIX)

    def code(self, serial: int | None = None) -> str:
        return self.stamp(serial).to_text()

    def check(self, code: str, *, at: dt.datetime | None = None) -> scans.StampCheck:
        return scans.check_stamp(
            self.session, code, prefix=PREFIX, public_keys=self.public_keys, now=at or self.now
        )

    def scan(
        self,
        code: str | None = None,
        *,
        at: dt.datetime | None = None,
        place: scans.Place | None = None,
        count: bool = True,
        client: str | None = None,
    ) -> scans.StampCheck:
        """Scan as ``client`` (default: a client never seen before)."""
        who = client or f"client-{next(self._clients)}"
        return scans.scan_stamp(
            self.session,
            self.code() if code is None else code,
            prefix=PREFIX,
            public_keys=self.public_keys,
            now=at or self.now,
            client=lambda _serial: who,
            place=place,
            count=count,
        )


@pytest.fixture
def issuer(session: Session, now: dt.datetime) -> Issuer:
    return Issuer(session, now)


def _recall(session: Session, lot: Lot, now: dt.datetime, reason: str = "Listeria") -> int:
    """What the recall service does, as far as scans care: the status and a ledger entry."""
    lot.status = LotStatus.RECALLED
    [entry] = store.append(
        session,
        [
            NewEntry(
                body={
                    "type": "recall",
                    "lot": f"{lot.facility.code}/{lot.code}",
                    "facility": lot.facility.code,
                    "reason": reason,
                    "recalled_at": now.isoformat(),
                },
                subjects=(registry.lot_subject(lot),),
            )
        ],
    )
    session.commit()
    return entry.index


def _rows(session: Session, model: type[object]) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


# -- verdicts -------------------------------------------------------------------------------


def test_issued_stamp_is_genuine_with_its_lot_facility_and_certificate(issuer: Issuer) -> None:
    check = issuer.check(issuer.code())
    assert check.verdict is Verdict.GENUINE
    assert (check.reason, check.reasons, check.cautions) == (None, (), ())
    assert check.serial == issuer.batch.first_serial
    assert check.lot is not None
    assert check.lot.ref == "HD-VAI-01/L1"
    assert check.lot.harvest_date == dt.date(2026, 6, 10)
    assert check.facility is not None
    assert check.facility.name == "HTX Vải thiều"
    assert check.product is not None
    assert check.product.code == "VAI"
    assert check.certificate is not None
    assert check.certificate.number == "VG-HD-VAI-01"
    assert check.certificate_valid_at_harvest
    assert check.batch is not None
    assert check.batch.ledger_index == issuer.batch.ledger_index


def test_journey_has_the_batch_step_with_its_ledger_index(issuer: Issuer) -> None:
    check = issuer.check(issuer.code())
    issued = [step for step in check.journey if step.step == "stamps-issued"]
    assert [step.ledger_index for step in issued] == [issuer.batch.ledger_index]


@pytest.mark.parametrize("shape", ["lower", "url", "url-lower", "padded"])
def test_any_case_and_the_full_url_are_accepted(issuer: Issuer, shape: str) -> None:
    code = issuer.code()
    text = {
        "lower": code.lower(),
        "url": PREFIX + code,
        "url-lower": (PREFIX + code).lower(),
        "padded": f"  {code}\n",
    }[shape]
    assert issuer.check(text).verdict is Verdict.GENUINE


def _flip(code: str, position: int) -> str:
    stamp = Stamp.from_text(code)
    raw = bytearray(stamp.to_bytes())
    raw[position] ^= 0x01
    return Stamp.from_bytes(bytes(raw)).to_text()


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda i: "", Reason.MALFORMED),
        (lambda i: "HELLO", Reason.MALFORMED),
        (lambda i: i.code()[:-1], Reason.MALFORMED),
        (lambda i: i.code() + "A" * 2000, Reason.MALFORMED),
        (lambda i: i.code().replace(i.code()[5], "1", 1), Reason.MALFORMED),
        (lambda i: "HTTPS://TRACE.EXAMPLE.VN/X/" + i.code(), Reason.MALFORMED),
        (lambda i: _flip(i.code(), 40), Reason.BAD_SIGNATURE),
        (lambda i: _flip(i.code(), 6), Reason.BAD_SIGNATURE),
        (lambda i: i.stamp(key_id=9).to_text(), Reason.UNKNOWN_KEY),
        (lambda i: "HTTPS://FAKE.EXAMPLE.VN/S/" + i.code(), Reason.WRONG_ISSUER),
        (lambda i: i.code(999_999), Reason.UNKNOWN_SERIAL),
        (lambda i: i.code(i.batch.last_serial + 1), Reason.UNKNOWN_SERIAL),
    ],
    ids=[
        "empty",
        "word",
        "short",
        "long",
        "alphabet",
        "path",
        "signature-bit",
        "serial-bit",
        "unknown-key",
        "wrong-issuer",
        "never-issued",
        "after-batch",
    ],
)
def test_codes_that_are_not_issued_stamps_are_not_genuine(
    issuer: Issuer, make: object, reason: Reason
) -> None:
    code = make(issuer)  # type: ignore[operator]
    check = issuer.scan(code)
    assert check.verdict is Verdict.NOT_GENUINE
    assert check.reason is reason
    assert (check.lot, check.facility, check.journey, check.recorded) == (None, None, (), False)
    assert _rows(issuer.session, StampScanState) == 0  # forgeries are never recorded


def test_a_stamp_signed_with_another_published_key_than_its_batch_is_not_genuine(
    issuer: Issuer,
) -> None:
    leaked = Ed25519PrivateKey.generate()
    issuer.public_keys[1] = leaked.public_key()
    forged = sign_stamp(issuer.batch.first_serial, key_id=1, private_key=leaked, prefix=PREFIX)
    check = issuer.check(forged.to_text())
    assert (check.verdict, check.reason) == (Verdict.NOT_GENUINE, Reason.WRONG_KEY)


def test_recalled_lot_makes_its_stamps_recalled_with_the_reason(issuer: Issuer) -> None:
    index = _recall(issuer.session, issuer.lot, issuer.now, reason="Listeria found")
    check = issuer.check(issuer.code())
    assert (check.verdict, check.reason) == (Verdict.RECALLED, Reason.LOT_RECALLED)
    assert check.recall is not None
    assert check.recall.ledger_index == index
    assert check.recall.details["reason"] == "Listeria found"
    assert check.lot is not None
    assert check.lot.recalled


def test_recall_outranks_suspicion_but_keeps_its_reasons(issuer: Issuer) -> None:
    for _ in range(scans.MAX_PLAUSIBLE_SCANS + 1):
        issuer.scan()
    _review(issuer, "confirmed")
    _recall(issuer.session, issuer.lot, issuer.now)
    check = issuer.check(issuer.code())
    assert check.verdict is Verdict.RECALLED
    assert check.reasons == (Reason.LOT_RECALLED, Reason.REVIEW_CONFIRMED)
    assert check.notes == (Note.MANY_SCANS,)


def test_suspended_facility_is_a_caution_not_a_verdict(issuer: Issuer) -> None:
    facility = issuer.lot.facility
    facility.status = FacilityStatus.SUSPENDED
    facility.status_reason = "pesticide residue"
    issuer.session.commit()
    check = issuer.check(issuer.code())
    assert check.verdict is Verdict.GENUINE
    assert check.cautions == (Caution.FACILITY_SUSPENDED,)
    assert check.facility is not None
    assert check.facility.status_reason == "pesticide residue"


def test_certificate_suspended_since_harvest_is_not_valid_at_harvest(issuer: Issuer) -> None:
    [certificate] = issuer.lot.facility.certificates
    certificate.status = CertificateStatus.SUSPENDED
    issuer.session.commit()
    check = issuer.check(issuer.code())
    assert check.verdict is Verdict.GENUINE
    assert check.cautions == (Caution.NO_VALID_CERTIFICATE,)
    assert check.certificate is not None
    assert (check.certificate.number, check.certificate.suspended) == ("VG-HD-VAI-01", True)
    assert not check.certificate_valid_at_harvest


# -- scan counts ----------------------------------------------------------------------------


def test_scans_are_counted_with_the_first_scan_time(issuer: Issuer) -> None:
    first = issuer.scan()
    assert first.recorded
    assert first.scans.count == 1
    assert first.scans.first_scan_at == issuer.now
    later = issuer.now + dt.timedelta(days=2)
    second = issuer.scan(at=later)
    assert second.scans.count == 2
    assert (second.scans.first_scan_at, second.scans.last_scan_at) == (issuer.now, later)
    assert issuer.check(issuer.code()).scans.count == 2  # checking alone records nothing


def test_only_scanned_stamps_have_rows(issuer: Issuer) -> None:
    issuer.check(issuer.code())
    assert _rows(issuer.session, StampScanState) == 0
    issuer.scan()
    issuer.scan(issuer.code(issuer.batch.first_serial + 1))
    assert _rows(issuer.session, StampScanState) == 2


def test_more_than_the_plausible_number_of_clients_is_a_note_not_a_verdict(
    issuer: Issuer,
) -> None:
    for _ in range(scans.MAX_PLAUSIBLE_SCANS):
        check = issuer.scan()
    assert (check.verdict, check.notes) == (Verdict.GENUINE, ())
    check = issuer.scan()
    assert check.scans.count == scans.MAX_PLAUSIBLE_SCANS + 1
    assert (check.verdict, check.reason, check.notes) == (
        Verdict.GENUINE,
        None,
        (Note.MANY_SCANS,),
    )


def test_one_client_counts_once_per_stamp_per_day(issuer: Issuer) -> None:
    for minute in range(100):
        check = issuer.scan(client="same", at=issuer.now + dt.timedelta(minutes=minute))
    assert check.scans.count == 1
    tomorrow = issuer.now + dt.timedelta(days=1)
    assert issuer.scan(client="same", at=tomorrow).scans.count == 2
    # only today's client keys are kept
    assert _rows(issuer.session, StampScanClient) == 1


def _review(issuer: Issuer, decision: str, reason: str = "checked in the shop") -> int:
    inspector = registry.add_user(
        issuer.session,
        username=f"inspector-{decision}",
        password="a long enough password",
        role="inspector",
    )
    return claiming.review_stamp(
        issuer.session,
        serial=issuer.batch.first_serial,
        decision=decision,
        reason=reason,
        user=inspector,
        now=issuer.now,
    )


def test_a_confirmed_review_makes_the_stamp_suspicious_with_its_reason(issuer: Issuer) -> None:
    index = _review(issuer, "confirmed", "copies found at a market")
    check = issuer.check(issuer.code())
    assert (check.verdict, check.reason) == (Verdict.SUSPICIOUS, Reason.REVIEW_CONFIRMED)
    assert check.scans.review_reason == "copies found at a market"
    entry = store.get_entry(issuer.session, index)
    assert b'"decision":"confirmed"' in entry.content
    assert entry.kind == "stamp-review"


def test_a_cleared_review_makes_the_stamp_genuine_again(issuer: Issuer) -> None:
    _review(issuer, "confirmed")
    _review(issuer, "cleared")
    assert issuer.check(issuer.code()).verdict is Verdict.GENUINE


def test_scan_without_counting_adds_only_the_place(issuer: Issuer) -> None:
    issuer.scan()
    check = issuer.scan(place=HANOI, count=False)
    assert (check.scans.count, check.recorded) == (1, False)
    state = issuer.session.get(StampScanState, issuer.batch.first_serial)
    assert state is not None
    assert (state.last_place_lat, state.last_place_lon) == (Decimal("21.0"), Decimal("105.8"))


# -- places ---------------------------------------------------------------------------------


def test_places_are_stored_rounded_and_nothing_about_the_visitor(issuer: Issuer) -> None:
    issuer.scan(place=(Decimal("21.0468"), Decimal("-105.8412")))
    place = issuer.session.scalars(select(StampScanPlace)).one()
    assert (place.lat, place.lon) == (Decimal("21.0"), Decimal("-105.8"))
    columns = {
        table: {c["name"] for c in inspect(issuer.session.connection()).get_columns(table)}
        for table in ("stamp_scan_state", "stamp_scan_place")
    }
    assert columns == {
        "stamp_scan_state": {
            "serial",
            "scan_count",
            "first_scan_at",
            "last_scan_at",
            "last_place_lat",
            "last_place_lon",
            "last_place_at",
            "distant_places_at",
            "claimed_at",
            "claim_province",
            "claim_client",
            "clone_at",
            "claim_failures",
            "claim_failures_period",
            "review",
            "review_reason",
            "reviewed_at",
            "review_ledger_index",
        },
        "stamp_scan_place": {"id", "serial", "lat", "lon", "at", "client"},
    }


def test_distant_places_from_several_clients_are_a_note_and_stay_so(issuer: Issuer) -> None:
    issuer.scan(place=HANOI)
    issuer.scan(place=HAI_PHONG)
    check = issuer.scan(place=SAIGON, at=issuer.now + dt.timedelta(hours=1))
    assert check.notes == ()  # one client in the south is not evidence yet
    check = issuer.scan(place=SAIGON, at=issuer.now + dt.timedelta(hours=2))
    assert (check.verdict, check.notes) == (Verdict.GENUINE, (Note.DISTANT_PLACES,))
    week_later = issuer.now + dt.timedelta(days=7)
    assert issuer.check(issuer.code(), at=week_later).notes == (Note.DISTANT_PLACES,)


def test_places_from_one_client_are_never_evidence(issuer: Issuer) -> None:
    for hour, place in enumerate((HANOI, SAIGON, HANOI, SAIGON)):
        check = issuer.scan(place=place, client="one", at=issuer.now + dt.timedelta(hours=hour))
    assert check.notes == ()
    assert _rows(issuer.session, StampScanPlace) == 1  # one place per client per window


def test_distant_places_further_apart_in_time_are_travel_not_copies(issuer: Issuer) -> None:
    issuer.scan(place=HANOI)
    issuer.scan(place=HANOI)
    hours = scans.DISTANT_WINDOW_H + 1
    issuer.scan(place=SAIGON, at=issuer.now + dt.timedelta(hours=hours))
    check = issuer.scan(place=SAIGON, at=issuer.now + dt.timedelta(hours=hours))
    assert check.notes == ()


def test_nearby_places_within_hours_are_fine(issuer: Issuer) -> None:
    for place in (HANOI, HANOI, HAI_PHONG, HAI_PHONG):
        check = issuer.scan(place=place, at=issuer.now + dt.timedelta(minutes=30))
    assert check.notes == ()


@given(
    st.lists(
        st.tuples(
            st.sampled_from([HANOI, HAI_PHONG, SAIGON]), st.sampled_from(["a", "b", "c", "d"])
        ),
        max_size=12,
    )
)
def test_distant_evidence_needs_two_clients_on_each_side(
    reports: list[tuple[scans.Place, str]],
) -> None:
    north = {c for p, c in reports if p != SAIGON}
    south = {c for p, c in reports if p == SAIGON}
    expected = len(north) >= scans.PLACE_MIN_CLIENTS and len(south) >= scans.PLACE_MIN_CLIENTS
    assert scans.distant_evidence(reports) is expected


def test_recent_places_are_bounded_and_pruned_after_the_window(issuer: Issuer) -> None:
    for minute in range(scans.RECENT_PLACES_KEPT + 5):
        issuer.scan(
            place=HANOI, at=issuer.now + dt.timedelta(minutes=minute), count=False, client=None
        )
    assert _rows(issuer.session, StampScanPlace) == scans.RECENT_PLACES_KEPT
    issuer.scan(place=HANOI, at=issuer.now + dt.timedelta(hours=scans.DISTANT_WINDOW_H + 1))
    assert _rows(issuer.session, StampScanPlace) == 1


@pytest.mark.parametrize(
    ("lat", "lon", "expected"),
    [
        ("21.0468", "105.8412", (Decimal("21.0"), Decimal("105.8"))),
        ("21,06", " 105,86 ", (Decimal("21.1"), Decimal("105.9"))),
        ("-0.04", "0", (Decimal("0.0"), Decimal("0.0"))),
        ("90", "-180", (Decimal("90.0"), Decimal("-180.0"))),
    ],
)
def test_parse_place_rounds_to_one_decimal(
    lat: str, lon: str, expected: tuple[Decimal, Decimal]
) -> None:
    assert scans.parse_place(lat, lon) == expected


@pytest.mark.parametrize(
    ("lat", "lon"),
    [
        ("", "105"),
        ("abc", "105"),
        ("91", "105"),
        ("21", "181"),
        ("NaN", "1"),
        ("1e2", "1"),
        ("1_0", "1"),
        ("٣", "1"),
        ("21", "105.1234567890123"),
    ],
)
def test_parse_place_refuses_what_is_not_a_place(lat: str, lon: str) -> None:
    with pytest.raises(InvalidInputError, match=r"latitude|longitude"):
        scans.parse_place(lat, lon)


def test_distance_between_hanoi_and_saigon() -> None:
    assert 1100 < scans.distance_km(HANOI, SAIGON) < 1200
    assert scans.distance_km(HANOI, HANOI) == 0


# -- output ---------------------------------------------------------------------------------


def test_check_serialises_to_json(issuer: Issuer) -> None:
    issuer.scan()
    data = json.loads(json.dumps(issuer.check(issuer.code()).to_json()))
    assert data["verdict"] == "genuine"
    assert data["lot"]["ref"] == "HD-VAI-01/L1"
    assert data["certificate"]["valid_at_harvest"] is True
    assert data["scans"]["count"] == 1
    assert data["short_code"] == short_code(issuer.batch.first_serial)
    assert any(step["step"] == "stamps-issued" for step in data["journey"])


def test_concurrent_scans_of_one_stamp_are_all_counted(fresh_db_url: str, now: dt.datetime) -> None:
    engine = make_engine(fresh_db_url)
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        issuer = Issuer(session, now)
        serial = issuer.batch.first_serial
    threads, scans_each = 4, 10
    errors: list[BaseException] = []

    def scan_many(worker: int) -> None:
        try:
            for i in range(scans_each):
                with sessions() as session:
                    place = HANOI if (worker + i) % 2 else HAI_PHONG
                    client = f"{worker}-{i}"
                    scans.record_scan(session, serial, client=client, place=place, now=now)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    workers = [threading.Thread(target=scan_many, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    try:
        assert errors == []
        with sessions() as session:
            state = session.get(StampScanState, serial)
            assert state is not None
            assert state.scan_count == threads * scans_each
            assert _rows(session, StampScanPlace) <= scans.RECENT_PLACES_KEPT
    finally:
        engine.dispose()


def test_concurrent_page_scans_each_see_their_own_count(
    fresh_db_url: str, now: dt.datetime
) -> None:
    """The scan page's count path (one statement on PostgreSQL, in autocommit): scans of one
    stamp from many threads are all counted, and each is told a different count."""
    engine = make_engine(fresh_db_url)
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        issuer = Issuer(session, now)
    code, keys = issuer.code(), issuer.public_keys
    cache = scans.ScanCache()
    threads, scans_each = 4, 15
    clients = itertools.count()  # a new client per scan (next() on a count is thread-safe)
    seen: list[int] = []
    errors: list[BaseException] = []

    def scan_many() -> None:
        try:
            for _ in range(scans_each):
                with sessions() as session:
                    who = f"client-{next(clients)}"
                    check = scans.scan_stamp(
                        session,
                        code,
                        prefix=PREFIX,
                        public_keys=keys,
                        now=now,
                        client=lambda _serial, who=who: who,
                        cache=cache,
                    )
                    assert check.recorded
                    seen.append(check.scans.count)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    workers = [threading.Thread(target=scan_many) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    try:
        assert errors == []
        assert sorted(seen) == list(range(1, threads * scans_each + 1))
        with sessions() as session:
            state = session.get(StampScanState, issuer.batch.first_serial)
            assert state is not None
            assert state.scan_count == threads * scans_each
            assert state.first_scan_at == now
    finally:
        engine.dispose()


def test_page_scan_notices_a_recall_committed_elsewhere(
    fresh_db_url: str, now: dt.datetime
) -> None:
    """The count statement also reads the ledger size, which is how the per-process cache
    learns that another process recorded a recall."""
    engine = make_engine(fresh_db_url)
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        issuer = Issuer(session, now)
    cache = scans.ScanCache()
    visits = itertools.count()
    try:

        def scan() -> scans.StampCheck:
            with sessions() as session:
                return scans.scan_stamp(
                    session,
                    issuer.code(),
                    prefix=PREFIX,
                    public_keys=issuer.public_keys,
                    now=now,
                    client=lambda serial: f"visitor-{serial}-{next(visits)}",
                    cache=cache,
                )

        assert scan().verdict is Verdict.GENUINE
        with sessions() as session:
            recalls.recall_lot(
                session, lot_ref="HD-VAI-01/L1", reason="residue", signer=(0, issuer.key), now=now
            )
        again = scan()
        assert again.verdict is Verdict.RECALLED
        assert again.scans.count == 2
    finally:
        engine.dispose()
