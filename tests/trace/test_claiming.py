"""Claims of scratch-off claim codes and reviews of flagged stamps, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy.orm import Session

from agritrace.db import make_engine, make_sessionmaker
from agritrace.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from agritrace.ledger import store
from agritrace.stamps import claims
from agritrace.trace import claiming, issuance, registry
from agritrace.trace.claiming import ClaimLockedError, ClaimOutcome
from agritrace.trace.models import StampBatch, StampScanState, User
from tests.trace.factories import certified_lot

PREFIX = "HTTPS://TRACE.EXAMPLE.VN/S/"


def _batch(session: Session, now: dt.datetime, *, claim_codes: bool = True) -> StampBatch:
    certified_lot(session, now)
    return issuance.issue_batch(
        session,
        lot_ref="HD-VAI-01/L1",
        count=5,
        key_id=0,
        prefix=PREFIX,
        now=now,
        claim_codes=claim_codes,
    )


def _right(batch: StampBatch, serial: int) -> str:
    assert batch.claim_key is not None
    return claims.claim_code(bytes.fromhex(batch.claim_key), serial)


def _claim(session: Session, serial: int, text: str, client: str, now: dt.datetime) -> ClaimOutcome:
    return claiming.claim_stamp(
        session, serial=serial, text=text, client=client, province=None, now=now
    )


def test_first_claim_then_the_same_client_then_a_clone(session: Session, now: dt.datetime) -> None:
    batch = _batch(session, now)
    serial = batch.first_serial
    right = claims.to_text(_right(batch, serial))
    assert _claim(session, serial, right, "buyer", now) is ClaimOutcome.CLAIMED
    assert _claim(session, serial, right, "buyer", now) is ClaimOutcome.YOURS
    assert _claim(session, serial, right, "other", now) is ClaimOutcome.CLONE
    state = session.get(StampScanState, serial)
    assert state is not None
    assert (state.claimed_at, state.clone_at, state.claim_client) == (now, now, "buyer")


def test_wrong_codes_are_limited_per_stamp_per_day(session: Session, now: dt.datetime) -> None:
    batch = _batch(session, now)
    serial = batch.first_serial
    right = _right(batch, serial)
    wrong = f"{(int(right[:-1]) + 1) % 10**9:09d}"
    wrong += str(claims.check_digit(wrong))
    for n in range(claims.MAX_CLAIM_FAILURES):
        with pytest.raises(InvalidInputError, match="not the claim code"):
            _claim(session, serial, wrong, f"c{n}", now)
    with pytest.raises(ClaimLockedError):
        _claim(session, serial, right, "buyer", now)
    tomorrow = now + dt.timedelta(days=1)
    assert _claim(session, serial, right, "buyer", tomorrow) is ClaimOutcome.CLAIMED


def test_a_stamp_without_claim_codes_cannot_be_claimed(session: Session, now: dt.datetime) -> None:
    batch = _batch(session, now, claim_codes=False)
    with pytest.raises(InvalidInputError, match="no claim code"):
        _claim(
            session,
            batch.first_serial,
            "123456789" + str(claims.check_digit("123456789")),
            "b",
            now,
        )


def test_a_province_outside_the_list_is_refused(session: Session, now: dt.datetime) -> None:
    batch = _batch(session, now)
    right = _right(batch, batch.first_serial)
    with pytest.raises(InvalidInputError, match="province"):
        claiming.claim_stamp(
            session, serial=batch.first_serial, text=right, client="b", province="Atlantis", now=now
        )


def _user(session: Session, role: str, facility: str | None = None) -> User:
    return registry.add_user(
        session,
        username=f"{role}-{facility or 'all'}",
        password="a long enough password",
        role=role,
        facility_code=facility,
    )


def test_another_facilitys_operator_may_not_review(session: Session, now: dt.datetime) -> None:
    batch = _batch(session, now)
    certified_lot(session, now, facility="HN-KHO-02", lot="L9")
    stranger = _user(session, "operator", "HN-KHO-02")
    size = store.head(session).size
    with pytest.raises(PermissionDeniedError):
        claiming.review_stamp(
            session,
            serial=batch.first_serial,
            decision="cleared",
            reason="not mine",
            user=stranger,
            now=now,
        )
    session.rollback()
    assert store.head(session).size == size


def test_the_lots_operator_reviews_and_the_decision_is_a_ledger_entry(
    session: Session, now: dt.datetime
) -> None:
    batch = _batch(session, now)
    owner = _user(session, "operator", "HD-VAI-01")
    index = claiming.review_stamp(
        session, serial=batch.first_serial, decision="cleared", reason="ok", user=owner, now=now
    )
    assert store.get_entry(session, index).kind == "stamp-review"
    assert store.indices_for_subject(session, claiming.stamp_subject(batch.first_serial)) == [index]


@pytest.mark.parametrize(
    ("serial", "decision", "error"),
    [
        (2**62, "cleared", NotFoundError),
        (-1, "cleared", NotFoundError),
        (None, "maybe", InvalidInputError),
    ],
)
def test_reviews_of_nothing_or_with_no_decision_are_refused(
    session: Session, now: dt.datetime, serial: int | None, decision: str, error: type[Exception]
) -> None:
    batch = _batch(session, now)
    inspector = _user(session, "inspector")
    with pytest.raises(error):
        claiming.review_stamp(
            session,
            serial=batch.first_serial if serial is None else serial,
            decision=decision,
            reason="x",
            user=inspector,
            now=now,
        )


def test_two_clients_claiming_at_once_give_one_claim_and_one_clone(
    fresh_db_url: str, now: dt.datetime
) -> None:
    engine = make_engine(fresh_db_url)
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        batch = _batch(session, now)
        serial, right = batch.first_serial, _right(batch, batch.first_serial)
    outcomes: list[ClaimOutcome] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def claim(client: str) -> None:
        try:
            start.wait()
            with sessions() as session:
                outcomes.append(_claim(session, serial, right, client, now))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    workers = [threading.Thread(target=claim, args=(f"client-{n}",)) for n in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    try:
        assert errors == []
        assert sorted(outcomes) == sorted([ClaimOutcome.CLAIMED] + [ClaimOutcome.CLONE] * 3)
    finally:
        engine.dispose()
