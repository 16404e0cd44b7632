"""Sealed event entries (agritrace.trace.disclosure): what the public entry holds, who may
see the rest, and that sealing weakens no proof (docs/adr/0013-what-the-ledger-reveals.md)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from agritrace.errors import ConflictError
from agritrace.ledger import store
from agritrace.ledger.audit import audit
from agritrace.ledger.canonical import to_canonical_bytes
from agritrace.ledger.commitment import CommitmentError, is_sealed
from agritrace.ledger.store import NewEntry
from agritrace.trace import disclosure, events, provenance, registry
from agritrace.trace.disclosure import EntryOpening
from agritrace.trace.models import Role, User
from tests.ledger.ledgerutil import ORIGIN, signer
from tests.trace.chain import NOW, at, facilities, farm_lot

FARM, PACKER, SHOP = "HD-VAI-01", "HN-PACK-02", "HN-SHOP-03"
L1 = f"{FARM}/L1"


@pytest.fixture
def shipped(session: Session) -> events.RecordedEvent:
    facilities(session)
    farm_lot(session)
    events.record_event(
        session, step="harvest", lot_ref=L1, facility_code=FARM, event_time=at(10, 6), now=NOW
    )
    return events.record_event(
        session,
        step="shipping",
        lot_ref=L1,
        facility_code=FARM,
        event_time=at(11),
        quantity="1999.5",
        destination=PACKER,
        temperature_c="4.25",
        note="giá riêng",
        now=NOW,
    )


def _public(session: Session, index: int) -> bytes:
    return store.get_entry(session, index).content


def test_the_public_entry_commits_to_partner_quantity_temperature_and_note(
    session: Session, shipped: events.RecordedEvent
) -> None:
    content = _public(session, shipped.ledger_index)
    public = json.loads(content)
    assert is_sealed(public)
    for secret in ("HN-PACK-02", "Công ty Sấy", "1999.5", "4.25", "giá riêng", shipped.event_id):
        assert secret.encode() not in content
    assert {"display.to", "epcis.destinationList", "epcis.sensorElementList"} <= set(
        public["private"]
    )
    assert (public["step"], public["facility"], public["lots"]) == ("shipping", FARM, [L1])


def test_revealed_entry_is_the_event_as_recorded(
    session: Session, shipped: events.RecordedEvent
) -> None:
    body = disclosure.revealed_entry(session, shipped.ledger_index)
    assert not is_sealed(body)
    assert body["epcis"]["eventID"] == shipped.event_id
    assert body["display"]["to"] == "Công ty Sấy khô Hà Nội"
    assert body["epcis"]["quantityList"][0]["quantity"] == "1999.5"
    assert body["epcis"]["agt:note"] == "giá riêng"


def _allow_rewrites(session: Session) -> None:
    """Drop entry_opening's append-only triggers inside the test's transaction."""
    if session.get_bind().dialect.name == "sqlite":
        for action in ("update", "delete"):
            session.execute(text(f"DROP TRIGGER IF EXISTS entry_opening_no_{action}"))
    else:
        session.execute(text("DROP TRIGGER IF EXISTS entry_opening_append_only ON entry_opening"))


def test_the_database_refuses_to_change_an_opening(
    session: Session, shipped: events.RecordedEvent
) -> None:
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(
            update(EntryOpening)
            .where(EntryOpening.idx == shipped.ledger_index)
            .values(value=to_canonical_bytes("Someone else").decode())
        )
    session.rollback()


def test_a_changed_opening_row_is_refused(session: Session, shipped: events.RecordedEvent) -> None:
    _allow_rewrites(session)
    session.execute(
        update(EntryOpening)
        .where(EntryOpening.idx == shipped.ledger_index, EntryOpening.field == "display.to")
        .values(value=to_canonical_bytes("Someone else").decode())
    )
    with pytest.raises(CommitmentError, match="does not match its commitment"):
        disclosure.revealed_entry(session, shipped.ledger_index)


def test_the_audit_passes_on_a_ledger_of_plain_and_sealed_entries(
    session: Session, shipped: events.RecordedEvent
) -> None:
    store.append(session, [NewEntry(body={"type": "event", "step": "packing", "display": {}})])
    session.commit()
    key, verifiers = signer()
    store.sign_checkpoint(session, origin=ORIGIN, private_key=key)
    kinds = [is_sealed(json.loads(_public(session, i))) for i in range(store.head(session).size)]
    assert True in kinds
    assert False in kinds
    report = audit(session, verifiers=verifiers, workers=1)
    assert report.size == len(kinds)


def test_the_journey_shows_public_details_only(
    session: Session, shipped: events.RecordedEvent
) -> None:
    journey = provenance.lot_journey(session, registry.get_lot(session, L1))
    [step] = [s for s in journey if s.ledger_index == shipped.ledger_index]
    assert step.facility_code == FARM
    assert step.step == "shipping"
    assert not {"to", "quantity", "temperature", "note"} & set(step.details)


def test_correcting_a_sealed_event_keeps_its_details_private(
    session: Session, shipped: events.RecordedEvent
) -> None:
    done = events.correct_event(
        session, ledger_index=shipped.ledger_index, facility_code=FARM, reason="sai", now=NOW
    )
    content = _public(session, done.ledger_index)
    assert b"1999.5" not in content
    assert b"HN-PACK-02" not in content
    body = disclosure.revealed_entry(session, done.ledger_index)
    assert body["epcis"]["eventID"] == shipped.event_id
    assert body["epcis"]["errorDeclaration"]["agt:reason"] == "sai"


def test_recording_the_same_event_again_is_refused(
    session: Session, shipped: events.RecordedEvent
) -> None:
    farm_lot(session, "L2")
    packing = events.EventSpec(
        step="packing", lot_ref=f"{FARM}/L2", facility_code=FARM, event_time=at(10, 9), quantity="5"
    )
    first = events.record_events(session, [packing], now=NOW)[0]
    with pytest.raises(
        ConflictError, match=f"already recorded as ledger entry #{first.ledger_index}"
    ):
        events.record_events(session, [packing], now=NOW)


def _user(session: Session, role: Role, facility: str | None = None) -> User:
    return registry.add_user(
        session,
        username=f"{role.value}-{facility or 'x'}".lower(),
        password="a long enough password",
        role=role.value,
        facility_code=facility,
    )


@pytest.mark.parametrize(
    ("role", "facility", "allowed"),
    [
        (Role.ADMIN, None, True),
        (Role.INSPECTOR, None, True),
        (Role.OPERATOR, FARM, True),  # the shipper, owner of the lot
        (Role.OPERATOR, PACKER, True),  # the trading partner
        (Role.OPERATOR, SHOP, False),  # not its business
    ],
)
def test_who_may_see_the_private_fields(
    session: Session, shipped: events.RecordedEvent, role: Role, facility: str | None, allowed: bool
) -> None:
    user = _user(session, role, facility)
    assert disclosure.may_reveal(session, user, shipped.ledger_index) is allowed
    assert disclosure.may_reveal(session, None, shipped.ledger_index) is False
    public = json.loads(_public(session, shipped.ledger_index))
    shown = disclosure.disclose(session, user, shipped.ledger_index, public)
    assert shown.sealed
    assert shown.revealed is allowed


def test_the_partner_may_see_the_correction_of_its_shipment(
    session: Session, shipped: events.RecordedEvent
) -> None:
    done = events.correct_event(
        session, ledger_index=shipped.ledger_index, facility_code=FARM, reason="sai", now=NOW
    )
    assert disclosure.may_reveal(session, _user(session, Role.OPERATOR, PACKER), done.ledger_index)
    assert not disclosure.may_reveal(
        session, _user(session, Role.OPERATOR, SHOP), done.ledger_index
    )


def test_revealed_entries_replays_the_whole_ledger_as_recorded(
    session: Session, shipped: events.RecordedEvent
) -> None:
    replayed = list(disclosure.revealed_entries(session, batch=3))
    size = store.head(session).size
    assert [index for index, _ in replayed] == list(range(size))
    assert all(body == disclosure.revealed_entry(session, i) for i, body in replayed)
    assert not any(is_sealed(body) for _, body in replayed)
