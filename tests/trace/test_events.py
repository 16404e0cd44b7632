"""Event rules, corrections, recalls and provenance, on both databases."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from agritrace.errors import ConflictError, InvalidInputError, NotFoundError
from agritrace.ledger import store
from agritrace.stamps.revocations import is_revoked, verify_revocations
from agritrace.trace import disclosure, events, issuance, provenance, recalls, registry
from agritrace.trace.events import LotAmount
from agritrace.trace.models import LotStatus
from tests.trace.chain import NOW, at, dried_lot, facilities, farm_lot, three_stages

L1, D1 = "HD-VAI-01/L1", "HN-PACK-02/D1"
FARM, PACKER, SHOP = "HD-VAI-01", "HN-PACK-02", "HN-SHOP-03"


@pytest.fixture
def farm(session: Session) -> Session:
    facilities(session)
    farm_lot(session)
    return session


def _record(session: Session, **kwargs: object) -> events.RecordedEvent:
    args: dict[str, object] = {"lot_ref": L1, "facility_code": FARM, "now": NOW}
    args.update(kwargs)
    return events.record_event(session, **args)  # type: ignore[arg-type]


def _refused(
    session: Session, error: type[Exception], message: str, action: Callable[[], object]
) -> None:
    before = store.head(session).size
    with pytest.raises(error, match=message):
        action()
    session.rollback()
    assert store.head(session).size == before


def test_event_is_one_ledger_entry_with_an_epcis_object_event(farm: Session) -> None:
    recorded = _record(farm, step="harvest", event_time=at(10, 6), certified=True)
    body = disclosure.revealed_entry(farm, recorded.ledger_index)  # as recorded
    epcis = body["epcis"]
    assert body["type"] == "event"
    assert epcis["type"] == "ObjectEvent"
    assert (epcis["action"], epcis["bizStep"], epcis["disposition"]) == (
        "ADD",
        "commissioning",
        "active",
    )
    assert epcis["eventTimeZoneOffset"] == "+07:00"
    assert epcis["ilmd"]["cbvmda:harvestStartDate"] == "2026-06-10"
    assert epcis["quantityList"] == [
        {"epcClass": "urn:agritrace:lot:HD-VAI-01:L1", "quantity": "2000", "uom": "KGM"}
    ]
    assert epcis["certificationInfo"] == "urn:agritrace:certificate:vietgap:VG-HD-VAI-01"
    assert epcis["eventID"] == recorded.event_id
    assert recorded.event_id.startswith("ni:///sha-256;")


def test_cooling_carries_a_temperature_reading(farm: Session) -> None:
    recorded = _record(farm, step="cooling", event_time=at(10, 9), temperature_c="4.5")
    epcis = disclosure.revealed_entry(farm, recorded.ledger_index)["epcis"]
    [element] = epcis["sensorElementList"]
    assert element["sensorReport"] == [{"type": "Temperature", "value": "4.5", "uom": "CEL"}]


def test_custody_follows_shipping_and_receiving(farm: Session) -> None:
    facility = registry.get_facility
    lot = registry.get_lot(farm, L1)
    assert events.custody(farm, lot).holder == facility(farm, FARM)
    _record(farm, step="shipping", event_time=at(11), destination=PACKER)
    held = events.custody(farm, lot)
    assert (held.holder, held.in_transit_to) == (None, facility(farm, PACKER))
    _record(farm, step="receiving", event_time=at(11, 12), facility_code=PACKER)
    assert events.custody(farm, lot).holder == facility(farm, PACKER)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"step": "packing", "facility_code": PACKER}, ConflictError, "does not hold lot"),
        ({"step": "receiving", "facility_code": PACKER}, ConflictError, "no open shipment"),
        (
            {"step": "packing", "event_time": dt.datetime(2026, 12, 1, tzinfo=dt.UTC)},
            InvalidInputError,
            "in the future",
        ),
        (
            {"step": "packing", "event_time": at(9, 23)},
            InvalidInputError,
            "before lot HD-VAI-01/L1's harvest date",
        ),
        ({"step": "shipping"}, InvalidInputError, "needs a destination"),
        ({"step": "shipping", "destination": FARM}, InvalidInputError, "another facility"),
        ({"step": "shipping", "destination": "NOPE"}, NotFoundError, "unknown facility"),
        ({"step": "packing", "destination": PACKER}, InvalidInputError, "only a shipment"),
        ({"step": "dancing"}, InvalidInputError, "unknown step"),
        ({"step": "packing", "lot_ref": "HD-VAI-01/NOPE"}, NotFoundError, "unknown lot"),
        ({"step": "cooling", "temperature_c": "99"}, InvalidInputError, "outside"),
        ({"step": "packing", "quantity": "-2"}, InvalidInputError, "greater than 0"),
        (
            {"step": "packing", "event_time": dt.datetime(2026, 6, 10, 8)},  # noqa: DTZ001 - naive on purpose
            InvalidInputError,
            "time zone",
        ),
    ],
)
def test_event_rules_refuse_and_append_nothing(
    farm: Session, kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    args: dict[str, object] = {"event_time": at(10, 12)}
    args.update(kwargs)
    _refused(farm, error, message, lambda: _record(farm, **args))


def test_certified_claim_needs_a_valid_certificate(farm: Session) -> None:
    registry.suspend_certificate(farm, scheme="vietgap", number="VG-HD-VAI-01", reason="audit")
    _refused(
        farm,
        InvalidInputError,
        "suspended",
        lambda: _record(farm, step="harvest", event_time=at(10), certified=True),
    )
    _record(farm, step="harvest", event_time=at(10))  # an uncertified claim is still recorded


def test_suspended_facility_records_nothing(farm: Session) -> None:
    registry.suspend_facility(farm, FARM, reason="audit failed")
    _refused(
        farm, ConflictError, "suspended", lambda: _record(farm, step="packing", event_time=at(10))
    )


def test_only_one_harvest_per_lot(farm: Session) -> None:
    _record(farm, step="harvest", event_time=at(10, 6))
    _refused(
        farm,
        ConflictError,
        "already has a harvest",
        lambda: _record(farm, step="harvest", event_time=at(10, 7)),
    )


def test_the_same_event_twice_is_refused(farm: Session) -> None:
    first = _record(farm, step="packing", event_time=at(10, 12))
    _refused(
        farm,
        ConflictError,
        f"already recorded as ledger entry #{first.ledger_index}",
        lambda: _record(farm, step="packing", event_time=at(10, 12)),
    )


def test_transformation_links_output_to_input(session: Session) -> None:
    three_stages(session)
    dried = registry.get_lot(session, D1)
    tree = provenance.lot_provenance(session, dried)
    assert [node.lot.code for node in tree.inputs] == ["L1"]
    assert [s.step for s in tree.inputs[0].steps if s.kind == "event"] == [
        "harvest",
        "cooling",
        "shipping",
        "receiving",
        "processing",
    ]
    assert events.remaining_quantity(session, registry.get_lot(session, L1)) == 0


def _at_packer(session: Session) -> None:
    facilities(session)
    farm_lot(session)
    dried_lot(session)
    _record(session, step="shipping", event_time=at(11), destination=PACKER)
    _record(session, step="receiving", event_time=at(11, 12), facility_code=PACKER)


@pytest.mark.parametrize(
    ("inputs", "outputs", "error", "message"),
    [
        (
            [LotAmount(L1, "2500", "kg")],
            [LotAmount(D1, "400", "kg")],
            InvalidInputError,
            "has 2000 kg left",
        ),
        (
            [LotAmount(L1, "300", "kg")],
            [LotAmount(D1, "400", "kg")],
            InvalidInputError,
            r"outputs \(400 kg\) exceed inputs \(300 kg\)",
        ),
        (
            [LotAmount(L1, "2", "t")],
            [LotAmount(D1, "2001", "kg")],
            InvalidInputError,
            "exceed inputs",
        ),
        (
            [LotAmount(L1, "10", "box")],
            [LotAmount(D1, "1", "kg")],
            InvalidInputError,
            "cannot compare",
        ),
        ([], [LotAmount(D1, "1", "kg")], InvalidInputError, "at least one input"),
        (
            [LotAmount(D1, "1", "kg")],
            [LotAmount(D1, "1", "kg")],
            InvalidInputError,
            "named twice|both input and output",
        ),
    ],
)
def test_transformation_rules(
    session: Session,
    inputs: list[LotAmount],
    outputs: list[LotAmount],
    error: type[Exception],
    message: str,
) -> None:
    _at_packer(session)
    _refused(
        session,
        error,
        message,
        lambda: events.record_transformation(
            session,
            facility_code=PACKER,
            event_time=at(12),
            inputs=inputs,
            outputs=outputs,
            now=NOW,
        ),
    )


def test_transformation_needs_custody_of_inputs(session: Session) -> None:
    facilities(session)
    farm_lot(session)
    dried_lot(session)
    _refused(
        session,
        ConflictError,
        "does not hold lot HD-VAI-01/L1",
        lambda: events.record_transformation(
            session,
            facility_code=PACKER,
            event_time=at(12),
            inputs=[LotAmount(L1, "10", "kg")],
            outputs=[LotAmount(D1, "1", "kg")],
            now=NOW,
        ),
    )


def test_correction_is_appended_and_the_original_stays_marked(farm: Session) -> None:
    shipped = _record(farm, step="shipping", event_time=at(11), destination=PACKER)
    correction = events.correct_event(
        farm,
        ledger_index=shipped.ledger_index,
        facility_code=FARM,
        reason="wrong destination",
        now=NOW,
    )
    assert correction.ledger_index > shipped.ledger_index
    body = disclosure.revealed_entry(farm, correction.ledger_index)
    assert body["epcis"]["errorDeclaration"]["reason"] == "incorrect_data"
    assert body["epcis"]["eventID"] == shipped.event_id
    lot = registry.get_lot(farm, L1)
    journey = provenance.lot_journey(farm, lot)
    [original] = [s for s in journey if s.ledger_index == shipped.ledger_index]
    assert original.corrected
    assert original.correction_reason == "wrong destination"
    # the corrected shipment no longer moves custody: the farm still holds the lot
    assert events.custody(farm, lot).holder == registry.get_facility(farm, FARM)
    _refused(
        farm,
        ConflictError,
        "already corrected",
        lambda: events.correct_event(
            farm, ledger_index=shipped.ledger_index, facility_code=FARM, reason="again", now=NOW
        ),
    )


def test_only_the_recorder_corrects(farm: Session) -> None:
    shipped = _record(farm, step="shipping", event_time=at(11), destination=PACKER)
    _refused(
        farm,
        ConflictError,
        "only it can correct",
        lambda: events.correct_event(
            farm, ledger_index=shipped.ledger_index, facility_code=PACKER, reason="x", now=NOW
        ),
    )
    _refused(
        farm,
        NotFoundError,
        "is not an event",
        lambda: events.correct_event(farm, ledger_index=0, facility_code=FARM, reason="x", now=NOW),
    )


def test_recall_of_an_input_recalls_the_output_and_its_stamps(session: Session) -> None:
    three_stages(session)
    key = Ed25519PrivateKey.generate()
    prefix = "HTTPS://TRACE.EXAMPLE.VN/S/"
    batch = issuance.issue_batch(session, lot_ref=D1, count=50, key_id=0, prefix=prefix, now=NOW)
    done = recalls.recall_lot(
        session, lot_ref=L1, reason="pesticide residue", signer=(0, key), now=NOW
    )
    assert [recalls.recall_record(r)["lot"] for r in done] == [L1, D1]
    assert registry.get_lot(session, D1).status is LotStatus.RECALLED
    body = json.loads(store.get_entry(session, done[0].ledger_index).content)
    assert body["cascade"] == [D1]
    assert body["serial_ranges"] == [[batch.first_serial, batch.last_serial]]
    document = recalls.latest_revocations(session)
    assert document is not None
    payload = verify_revocations(document, public_keys={0: key.public_key()})
    entry = is_revoked(payload, batch.first_serial + 7)
    assert entry is not None
    assert entry["lot"] == D1
    assert is_revoked(payload, batch.last_serial + 1) is None
    _refused(
        session,
        ConflictError,
        "already recalled",
        lambda: recalls.recall_lot(session, lot_ref=L1, reason="again", signer=(0, key), now=NOW),
    )
    _refused(
        session,
        ConflictError,
        "recalled",
        lambda: events.record_event(
            session, step="packing", lot_ref=D1, facility_code=SHOP, event_time=at(15), now=NOW
        ),
    )


def test_journey_steps_are_in_event_time_order_with_ledger_indices(session: Session) -> None:
    three_stages(session)
    journey = provenance.lot_journey(session, registry.get_lot(session, L1))
    times = [s.time for s in journey]
    assert times == sorted(times)
    for step in journey:
        assert json.loads(store.get_entry(session, step.ledger_index).content)["type"] == step.kind


def test_a_batch_follows_custody_through_its_own_shipments(farm: Session) -> None:
    spec = events.EventSpec
    recorded = events.record_events(
        farm,
        [
            spec(step="harvest", lot_ref=L1, facility_code=FARM, event_time=at(10, 6)),
            spec(
                step="shipping",
                lot_ref=L1,
                facility_code=FARM,
                event_time=at(11),
                destination=PACKER,
            ),
            spec(step="receiving", lot_ref=L1, facility_code=PACKER, event_time=at(11, 12)),
            spec(step="packing", lot_ref=L1, facility_code=PACKER, event_time=at(11, 14)),
        ],
        now=NOW,
    )
    assert [r.step.value for r in recorded] == ["harvest", "shipping", "receiving", "packing"]
    assert [r.ledger_index for r in recorded] == list(
        range(recorded[0].ledger_index, recorded[0].ledger_index + 4)
    )
    assert events.custody(farm, registry.get_lot(farm, L1)).holder == registry.get_facility(
        farm, PACKER
    )


def test_a_batch_is_all_or_nothing(farm: Session) -> None:
    spec = events.EventSpec
    batch = [
        spec(step="harvest", lot_ref=L1, facility_code=FARM, event_time=at(10, 6)),
        spec(
            step="cooling", lot_ref=L1, facility_code=FARM, event_time=at(10, 7), temperature_c="4"
        ),
        spec(step="packing", lot_ref=L1, facility_code=PACKER, event_time=at(10, 8)),
    ]
    _refused(
        farm, ConflictError, "does not hold lot", lambda: events.record_events(farm, batch, now=NOW)
    )
    assert events.list_events(farm, lot_ref=L1) == []


def test_a_batch_refuses_the_same_event_twice(farm: Session) -> None:
    same = events.EventSpec(step="packing", lot_ref=L1, facility_code=FARM, event_time=at(10, 9))
    _refused(
        farm,
        ConflictError,
        "already recorded",
        lambda: events.record_events(farm, [same, same], now=NOW),
    )
    _refused(
        farm,
        ConflictError,
        "already has a harvest",
        lambda: events.record_events(
            farm,
            [
                events.EventSpec(
                    step="harvest", lot_ref=L1, facility_code=FARM, event_time=at(10, 6)
                ),
                events.EventSpec(
                    step="harvest", lot_ref=L1, facility_code=FARM, event_time=at(10, 7)
                ),
            ],
            now=NOW,
        ),
    )
