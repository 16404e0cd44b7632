"""Exports of a lot's records: an EPCIS 2.0 JSON-LD document and an FSMA 204 sortable
spreadsheet (CSV). Each export is bytes plus a manifest naming the signed checkpoint it was
taken at and the export's own SHA-256.

The EPCIS document carries master data (facilities with their certificates, products, lots)
in ``epcisHeader.epcisMasterData`` so another agritrace (or any EPCIS system) can rebuild
the chain; events appear in ledger order, each with ``agt:step`` and ``agt:ledgerIndex``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from agritrace.errors import InvalidInputError
from agritrace.ledger.store import LedgerCheckpoint, LedgerEntry, LedgerSubject
from agritrace.trace.disclosure import revealed_body
from agritrace.trace.event_models import EventCorrection, EventLot, Step, TraceEvent
from agritrace.trace.events import facility_uri, lot_uri
from agritrace.trace.models import Facility, Lot
from agritrace.trace.provenance import ProvenanceNode, lot_provenance
from agritrace.trace.registry import lot_subject
from agritrace.trace.spreadsheets import csv_writer

__all__ = [
    "EPCIS_CONTEXT",
    "Export",
    "epcis_document",
    "fsma_csv",
    "lots_with_upstream",
]

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
AGT_NS = "urn:agritrace:"
VTYPE_LOCATION = "urn:epcglobal:epcis:vtype:BusinessLocation"
VTYPE_CLASS = "urn:epcglobal:epcis:vtype:EPCClass"

FSMA_COLUMNS = (
    "Traceability Lot Code",
    "Product Description",
    "Quantity",
    "Unit of Measure",
    "Critical Tracking Event",
    "Event Date",
    "Event Time",
    "Location Description",
    "Location Identifier",
    "Ship From",
    "Ship To",
    "Traceability Lot Code Source",
    "Reference Document",
    "Ledger Index",
    "Event ID",
    "Corrected",
)

#: FSMA 204 critical tracking events for our steps (others are kept as "Other").
_CTE = {
    Step.HARVEST: "Harvesting",
    Step.COOLING: "Cooling",
    Step.PACKING: "Initial Packing",
    Step.SHIPPING: "Shipping",
    Step.RECEIVING: "Receiving",
    Step.PROCESSING: "Transformation",
}


@dataclass(frozen=True, slots=True)
class Export:
    content: bytes
    media_type: str
    checkpoint: LedgerCheckpoint

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    def manifest(self, name: str) -> dict[str, Any]:
        return {
            "file": name,
            "sha256": self.sha256,
            "bytes": len(self.content),
            "media_type": self.media_type,
            "checkpoint": {
                "size": self.checkpoint.size,
                "note": self.checkpoint.note,
            },
        }


def lots_with_upstream(tree: ProvenanceNode) -> list[Lot]:
    found: dict[int, Lot] = {}

    def walk(node: ProvenanceNode) -> None:
        found.setdefault(node.lot.id, node.lot)
        for child in node.inputs:
            walk(child)

    walk(tree)
    return list(found.values())


def _number(text: str) -> int | float:
    value = Decimal(text)
    return int(value) if value == value.to_integral() else float(value)


def _numbers(epcis: dict[str, Any]) -> dict[str, Any]:
    """EPCIS JSON numbers for the decimal strings kept in ledger entries."""
    out = json.loads(json.dumps(epcis))
    for key in ("quantityList", "inputQuantityList", "outputQuantityList"):
        for element in out.get(key, []):
            element["quantity"] = _number(element["quantity"])
    for sensor in out.get("sensorElementList", []):
        for report in sensor.get("sensorReport", []):
            if "value" in report:
                report["value"] = _number(report["value"])
    return dict(out)


def _attrs(pairs: Iterable[tuple[str, Any]]) -> list[dict[str, Any]]:
    return [{"id": f"agt:{key}", "attribute": value} for key, value in pairs if value is not None]


def _facility_element(facility: Facility) -> dict[str, Any]:
    certificates = [
        {
            "scheme": c.scheme.value,
            "number": c.number,
            "issuer": c.issuer,
            "valid_from": c.valid_from.isoformat(),
            "valid_to": c.valid_to.isoformat(),
            "scope": c.scope,
            "status": c.status.value,
        }
        for c in facility.certificates
    ]
    return {
        "id": facility_uri(facility),
        "attributes": _attrs(
            [
                ("code", facility.code),
                ("name", facility.name),
                ("province", facility.province),
                ("address", facility.address),
                ("gln", facility.gln),
                ("certificates", certificates),
            ]
        ),
    }


def _lot_element(lot: Lot) -> dict[str, Any]:
    product = lot.product
    return {
        "id": lot_uri(lot),
        "attributes": _attrs(
            [
                ("facility", lot.facility.code),
                ("lot", lot.code),
                ("product", product.code),
                ("productName", product.name),
                ("category", product.category),
                ("unit", product.unit),
                ("gtin", product.gtin),
                ("units", lot.units),
                ("quantity", format(lot.quantity, "f")),
                ("quantityUnit", lot.quantity_unit),
                ("harvestDate", lot.harvest_date.isoformat()),
                ("packDate", lot.pack_date.isoformat() if lot.pack_date else None),
                ("originArea", lot.origin_area),
            ]
        ),
    }


def _event_entries(session: Session, lots: Sequence[Lot]) -> list[tuple[int, dict[str, Any]]]:
    subjects = [lot_subject(lot) for lot in lots]
    rows = session.execute(
        select(LedgerEntry.idx, LedgerEntry.content)
        .where(
            LedgerEntry.idx.in_(
                select(LedgerSubject.idx).where(LedgerSubject.subject.in_(subjects))
            ),
            LedgerEntry.kind.in_(["event", "correction"]),
        )
        .order_by(LedgerEntry.idx)
    )
    # The export is for those who may see the lot's records: private fields are restored
    # (and verified against their commitments) from the openings kept beside the ledger.
    return [(idx, revealed_body(session, idx, json.loads(content))) for idx, content in rows]


def epcis_document(
    session: Session, lot: Lot, *, checkpoint: LedgerCheckpoint, now: dt.datetime
) -> Export:
    """The lot's and its upstream lots' events as one EPCIS 2.0 document."""
    lots = lots_with_upstream(lot_provenance(session, lot))
    facility_ids: dict[int, Facility] = {}
    for item in lots:
        facility_ids.setdefault(item.facility.id, item.facility)
    entries = _event_entries(session, lots)
    codes = {str(body.get("facility")) for _, body in entries}
    for found in session.scalars(select(Facility).where(Facility.code.in_(codes))):
        facility_ids.setdefault(found.id, found)
    # Destinations and sources named by events belong in the master data too.
    for moved in session.scalars(
        select(TraceEvent)
        .join(EventLot, EventLot.event_pk == TraceEvent.id)
        .where(EventLot.lot_id.in_([item.id for item in lots]))
    ):
        if moved.other_facility is not None:
            facility_ids.setdefault(moved.other_facility.id, moved.other_facility)
    event_list = []
    for index, body in entries:
        if index >= checkpoint.size:
            continue  # only what the named checkpoint vouches for
        if not isinstance(body.get("epcis"), dict):
            continue  # not an EPCIS event (every event recorded here carries one)
        shaped = _numbers(body["epcis"])
        shaped["agt:step"] = body["step"]
        shaped["agt:ledgerIndex"] = index
        event_list.append(shaped)
    document = {
        "@context": [EPCIS_CONTEXT, {"agt": AGT_NS}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": now.astimezone(dt.UTC).isoformat(timespec="seconds"),
        "epcisHeader": {
            "epcisMasterData": {
                "vocabularyList": [
                    {
                        "type": VTYPE_LOCATION,
                        "vocabularyElementList": [
                            _facility_element(f)
                            for f in sorted(facility_ids.values(), key=lambda f: f.code)
                        ],
                    },
                    {
                        "type": VTYPE_CLASS,
                        "vocabularyElementList": [_lot_element(item) for item in lots],
                    },
                ]
            }
        },
        "epcisBody": {"eventList": event_list},
        "agt:checkpoint": {"size": checkpoint.size, "note": checkpoint.note},
    }
    content = json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")
    return Export(content=content, media_type="application/ld+json", checkpoint=checkpoint)


def fsma_csv(
    session: Session,
    *,
    checkpoint: LedgerCheckpoint,
    lots: Sequence[Lot] | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    zone: dt.tzinfo = dt.UTC,
) -> Export:
    """One row per critical tracking event of ``lots``, or of every lot between ``start``
    and ``end`` (inclusive dates in ``zone``): the FSMA 204 sortable spreadsheet."""
    if lots is None and (start is None or end is None):
        raise InvalidInputError(key="export.scope")
    if start is not None and end is not None and end < start:
        raise InvalidInputError(key="export.range_reversed", field="to", start=start, end=end)
    query = select(TraceEvent).where(TraceEvent.ledger_index < checkpoint.size)
    if lots is not None:
        query = query.where(
            TraceEvent.id.in_(
                select(EventLot.event_pk).where(EventLot.lot_id.in_([lot.id for lot in lots]))
            )
        )
    if start is not None and end is not None:
        lower = dt.datetime.combine(start, dt.time(), zone)
        upper = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), zone)
        query = query.where(TraceEvent.event_time >= lower, TraceEvent.event_time < upper)
    buffer = io.StringIO()
    writer = csv_writer(buffer)  # names and addresses are free text: no formulas
    writer.writerow(FSMA_COLUMNS)
    corrected = {
        index
        for (index,) in session.execute(
            select(TraceEvent.ledger_index).join(
                EventCorrection, EventCorrection.event_pk == TraceEvent.id
            )
        )
    }
    for event in session.scalars(query.order_by(TraceEvent.event_time, TraceEvent.ledger_index)):
        local = event.event_time.astimezone(zone)
        ship_from = ship_to = ""
        if event.step is Step.SHIPPING and event.other_facility is not None:
            ship_from, ship_to = event.facility.name, event.other_facility.name
        if event.step is Step.RECEIVING and event.other_facility is not None:
            ship_from, ship_to = event.other_facility.name, event.facility.name
        for row in event.lots:
            if lots is not None and event.step is not Step.PROCESSING and row.lot not in lots:
                continue
            lot = row.lot
            cte = _CTE.get(event.step, f"Other ({event.step.value})")
            if event.step is Step.PROCESSING:
                cte = f"Transformation ({row.role.value})"
            writer.writerow(
                [
                    lot.ref,
                    lot.product.name,
                    format(row.quantity, "f") if row.quantity is not None else "",
                    row.uom or "",
                    cte,
                    local.date().isoformat(),
                    local.strftime("%H:%M%z"),
                    f"{event.facility.name}, {event.facility.address}",
                    facility_uri(event.facility),
                    ship_from,
                    ship_to,
                    lot.facility.name,
                    f"ledger #{event.ledger_index}",
                    event.ledger_index,
                    event.event_id,
                    "yes" if event.ledger_index in corrected else "",
                ]
            )
    content = buffer.getvalue().encode("utf-8")
    return Export(content=content, media_type="text/csv", checkpoint=checkpoint)
