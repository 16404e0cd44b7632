"""Exports (EPCIS 2.0, FSMA 204) and the EPCIS import, including the round trip into a fresh
database that must give the same provenance."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from agritrace.db import make_engine, make_sessionmaker
from agritrace.ledger import store
from agritrace.ledger.store import LedgerCheckpoint
from agritrace.trace import events, exports, provenance, registry
from agritrace.trace.epcis_import import EpcisImportError, import_epcis
from agritrace.trace.provenance import ProvenanceNode
from tests.trace.chain import NOW, VN, at, three_stages

ORIGIN = "trace.example.vn/agritrace/ledger"


def _checkpoint(session: Session) -> LedgerCheckpoint:
    return store.sign_checkpoint(session, origin=ORIGIN, private_key=Ed25519PrivateKey.generate())


def _shape(node: ProvenanceNode) -> tuple[object, ...]:
    """Provenance without ledger indices (which differ between databases)."""
    steps = tuple(
        (s.step, s.time, s.facility_code, tuple(sorted(s.details.items())), s.corrected)
        for s in node.steps
        if s.kind in ("event", "correction")
    )
    return (
        f"{node.lot.facility.code}/{node.lot.code}",
        steps,
        tuple(_shape(i) for i in node.inputs),
    )


def test_epcis_document_names_its_checkpoint_and_hash(session: Session) -> None:
    three_stages(session)
    checkpoint = _checkpoint(session)
    export = exports.epcis_document(
        session, registry.get_lot(session, "HN-PACK-02/D1"), checkpoint=checkpoint, now=NOW
    )
    document = json.loads(export.content)
    assert document["type"] == "EPCISDocument"
    assert document["schemaVersion"] == "2.0"
    assert document["@context"][0] == exports.EPCIS_CONTEXT
    assert document["agt:checkpoint"]["size"] == checkpoint.size
    kinds = [e["type"] for e in document["epcisBody"]["eventList"]]
    assert kinds.count("TransformationEvent") == 1
    assert len(kinds) == 8  # the farm lot's four events, the transformation, three of the dried lot
    quantities = [
        e["quantityList"][0]["quantity"]
        for e in document["epcisBody"]["eventList"]
        if "quantityList" in e
    ]
    assert all(isinstance(q, int | float) for q in quantities)
    assert export.manifest("d1.json")["sha256"] == hashlib.sha256(export.content).hexdigest()


def test_export_then_import_into_a_fresh_database_gives_the_same_provenance(
    session: Session, fresh_db_url: str
) -> None:
    three_stages(session)
    lot = registry.get_lot(session, "HN-PACK-02/D1")
    export = exports.epcis_document(session, lot, checkpoint=_checkpoint(session), now=NOW)
    original_ids = [e["eventID"] for e in json.loads(export.content)["epcisBody"]["eventList"]]
    engine = make_engine(fresh_db_url)
    report = import_epcis(engine, export.content, now=NOW)
    assert (report.facilities_created, report.lots_created, report.events_recorded) == (3, 2, 8)
    assert list(report.event_ids) == original_ids  # the same EPCIS content, hashed the same
    with make_sessionmaker(engine)() as other:
        imported = provenance.lot_provenance(other, registry.get_lot(other, "HN-PACK-02/D1"))
        assert _shape(imported) == _shape(provenance.lot_provenance(session, lot))
    engine.dispose()


def test_import_replays_corrections(session: Session, fresh_db_url: str) -> None:
    three_stages(session)
    lot = registry.get_lot(session, "HN-PACK-02/D1")
    last = events.list_events(session, lot_ref="HN-PACK-02/D1")[-1]
    events.correct_event(
        session,
        ledger_index=last.ledger_index,
        facility_code="HN-SHOP-03",
        reason="wrong day",
        now=NOW,
    )
    export = exports.epcis_document(session, lot, checkpoint=_checkpoint(session), now=NOW)
    engine = make_engine(fresh_db_url)
    report = import_epcis(engine, export.content, now=NOW)
    assert report.corrections == 1
    with make_sessionmaker(engine)() as other:
        imported = provenance.lot_provenance(other, registry.get_lot(other, "HN-PACK-02/D1"))
        assert _shape(imported) == _shape(provenance.lot_provenance(session, lot))
    engine.dispose()


def _document(session: Session) -> dict[str, object]:
    three_stages(session)
    lot = registry.get_lot(session, "HN-PACK-02/D1")
    return dict(
        json.loads(
            exports.epcis_document(session, lot, checkpoint=_checkpoint(session), now=NOW).content
        )
    )


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(type="Nope"), "not an EPCIS document"),
        (lambda d: d.update(schemaVersion="1.2"), "only EPCIS 2.0"),
        (
            lambda d: d["epcisBody"]["eventList"][0].update(bizLocation={"id": "urn:x:unknown"}),
            r"event 1 \(ni:///sha-256;[0-9a-f]+\): field 'bizLocation': unknown location",
        ),
        (
            lambda d: d["epcisBody"]["eventList"][1].pop("eventTime"),
            "event 2 .* field 'eventTime': missing",
        ),
        (
            lambda d: d["epcisBody"]["eventList"][2].update({"agt:step": "dancing"}),
            "event 3 .* field 'agt:step'",
        ),
        (
            lambda d: d["epcisBody"]["eventList"][3].update(type="AggregationEvent"),
            "event 4 .* field 'type'",
        ),
        (
            lambda d: d["epcisBody"]["eventList"][2]["quantityList"][0].update(
                epcClass="urn:x:lot"
            ),
            "event 3 .* field 'quantityList.epcClass': unknown lot",
        ),
        (
            lambda d: d["epcisBody"]["eventList"][4]["outputQuantityList"][0].update(
                quantity=99999
            ),
            "event 5 .* exceed inputs",
        ),
        (
            lambda d: d["epcisBody"]["eventList"][0].update(eventTime="2099-01-01T00:00:00+07:00"),
            "event 1 .* in the future",
        ),
    ],
)
def test_bad_documents_name_the_event_and_field_and_write_nothing(
    session: Session,
    fresh_db_url: str,
    mutate,
    message: str,  # type: ignore[no-untyped-def]
) -> None:
    document = _document(session)
    mutate(document)
    engine = make_engine(fresh_db_url)
    with pytest.raises(EpcisImportError, match=message):
        import_epcis(engine, json.dumps(document).encode(), now=NOW)
    with make_sessionmaker(engine)() as other:
        assert store.head(other).size == 0
        assert registry.list_facilities(other) == []
    engine.dispose()


def test_garbage_is_refused(fresh_db_url: str) -> None:
    engine = make_engine(fresh_db_url)
    with pytest.raises(EpcisImportError, match="not JSON"):
        import_epcis(engine, b"\xff{", now=NOW)
    engine.dispose()


def test_fsma_spreadsheet_has_one_row_per_critical_tracking_event(session: Session) -> None:
    three_stages(session)
    checkpoint = _checkpoint(session)
    lot = registry.get_lot(session, "HD-VAI-01/L1")
    export = exports.fsma_csv(session, checkpoint=checkpoint, lots=[lot], zone=VN)
    rows = list(csv.DictReader(io.StringIO(export.content.decode())))
    assert [r["Critical Tracking Event"] for r in rows] == [
        "Harvesting",
        "Cooling",
        "Shipping",
        "Receiving",
        "Transformation (input)",
        "Transformation (output)",
    ]
    shipping = rows[2]
    assert (shipping["Ship From"], shipping["Ship To"]) == (
        "HTX Vải thiều Thanh Hà",
        "Công ty Sấy khô Hà Nội",
    )
    assert shipping["Event Date"] == "2026-06-11"
    assert shipping["Traceability Lot Code"] == "HD-VAI-01/L1"


def test_fsma_by_date_range(session: Session) -> None:
    three_stages(session)
    checkpoint = _checkpoint(session)
    export = exports.fsma_csv(
        session,
        checkpoint=checkpoint,
        start=dt.date(2026, 6, 13),
        end=dt.date(2026, 6, 14),
        zone=VN,
    )
    rows = list(csv.DictReader(io.StringIO(export.content.decode())))
    assert [r["Critical Tracking Event"] for r in rows] == [
        "Initial Packing",
        "Shipping",
        "Receiving",
    ]
    with pytest.raises(Exception, match="ends"):
        exports.fsma_csv(
            session, checkpoint=checkpoint, start=dt.date(2026, 6, 14), end=dt.date(2026, 6, 13)
        )
    assert at(1).tzinfo == VN
