"""Supply-chain events: EPCIS 2.0 shapes with CBV 2.0 vocabulary, one ledger entry each.

Each recorded event is an EPCIS ``ObjectEvent`` (harvest, packing, cooling, storing, shipping,
receiving, inspecting) or ``TransformationEvent`` (processing), stored in the ledger inside an
entry ``{"type": "event", "step": ..., "epcis": {...}, ...}``. Its ``eventID`` is an RFC 6920
named-information URI over the SHA-256 of the RFC 8785 canonical event without the ID
(``ni:///sha-256;<hex>``); this is not GS1's event-hash algorithm (docs/adr/0004-events.md).
Decimal quantities and temperatures are decimal strings inside ledger entries (RFC 8785
without floats) and become JSON numbers in the EPCIS export.

Rules, all checked before anything is written (ConflictError / InvalidInputError /
NotFoundError otherwise):

- only the facility that holds the lot records its events; receiving is recorded by the
  destination of an open shipment of the lot (custody is derived from the shipping and
  receiving events themselves, never stored twice);
- the event time is not in the future and not before the lot's harvest date;
- a recalled lot takes no further events except inspections; a suspended facility records none;
- a certified claim needs a certificate of the recording facility valid at the event's date;
- a transformation consumes no more of an input lot than remains, and its outputs weigh no
  more than its inputs.

Custody, remaining quantity and standing are read only after the lots concerned are locked
and their facilities held (:mod:`agritrace.trace.locks`), so concurrent requests cannot
both ship the same lot or both consume its last kilogram; each check and its ledger entry
commit under those locks, in ledger order.

Corrections are appended (an EPCIS ``errorDeclaration``), never edits; the original stays in
the ledger and is shown as corrected.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from agritrace.db import begin_write, utcnow
from agritrace.errors import ConflictError, InvalidInputError, NotFoundError
from agritrace.ledger.canonical import to_canonical_bytes
from agritrace.ledger.store import NewEntry
from agritrace.trace.disclosure import append_sealed, revealed_entry
from agritrace.trace.event_models import (
    EventCorrection,
    EventLot,
    LotInput,
    LotRole,
    Step,
    TraceEvent,
)
from agritrace.trace.locks import lock_lots, share_facilities
from agritrace.trace.models import Facility, FacilityStatus, Lot, LotStatus
from agritrace.trace.registry import (
    facility_subject,
    get_facility,
    get_lot,
    lot_subject,
    valid_certificate,
)
from agritrace.trace.validation import check_text, parse_decimal

__all__ = [
    "CLOCK_SKEW",
    "Custody",
    "EventSpec",
    "LotAmount",
    "RecordedEvent",
    "correct_event",
    "custody",
    "event_record",
    "facility_uri",
    "list_events",
    "lot_uri",
    "parse_event_time",
    "record_event",
    "record_events",
    "record_transformation",
    "remaining_quantity",
]

#: How far in the future an event time may be (clocks of phones and servers drift).
CLOCK_SKEW = dt.timedelta(minutes=5)
MIN_TEMPERATURE_C = Decimal(-60)
MAX_TEMPERATURE_C = Decimal(60)

#: CBV 2.0 business step and disposition for each step.
_CBV: dict[Step, tuple[str, str, str]] = {
    # step: (EPCIS action, bizStep, disposition)
    Step.HARVEST: ("ADD", "commissioning", "active"),
    Step.PACKING: ("OBSERVE", "packing", "in_progress"),
    Step.COOLING: ("OBSERVE", "storing", "in_progress"),
    Step.STORING: ("OBSERVE", "storing", "in_progress"),
    Step.SHIPPING: ("OBSERVE", "shipping", "in_transit"),
    Step.RECEIVING: ("OBSERVE", "receiving", "in_progress"),
    Step.INSPECTING: ("OBSERVE", "inspecting", "conformant"),
    Step.PROCESSING: ("", "commissioning", "active"),
}

#: UN/CEFACT codes EPCIS uses for units of measure.
_UOM = {"kg": "KGM", "g": "GRM", "t": "TNE", "l": "LTR", "box": "XBX", "bag": "XBG"}
_TO_KG = {"kg": Decimal(1), "g": Decimal("0.001"), "t": Decimal(1000)}

_OFFSET = re.compile(r"[+-](0\d|1[0-4]):[0-5]\d")


@dataclass(frozen=True, slots=True)
class LotAmount:
    """A lot and how much of it an event concerns (``quantity`` None: the whole lot)."""

    lot_ref: str
    quantity: Decimal | str | None = None
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    event_id: str
    ledger_index: int
    step: Step
    event_pk: int


@dataclass(frozen=True, slots=True)
class Custody:
    holder: Facility | None
    in_transit_to: Facility | None


def lot_uri(lot: Lot) -> str:
    """The lot's EPCIS class identifier: GS1 Digital Link with a GTIN, else a URN of ours."""
    if lot.product.gtin:
        return f"https://id.gs1.org/01/{lot.product.gtin}/10/{lot.code}"
    return f"urn:agritrace:lot:{lot.facility.code}:{lot.code}"


def facility_uri(facility: Facility) -> str:
    """The facility's EPCIS location identifier: GS1 Digital Link with a GLN, else a URN."""
    if facility.gln:
        return f"https://id.gs1.org/414/{facility.gln}"
    return f"urn:agritrace:facility:{facility.code}"


def parse_event_time(raw: str | dt.datetime, *, zone: dt.tzinfo) -> dt.datetime:
    """An ISO 8601 date-time; one without an offset is read in ``zone``."""
    if isinstance(raw, dt.datetime):
        moment = raw
    else:
        try:
            moment = dt.datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidInputError(key="event.time_format", field="event time", raw=raw) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment


def _offset_text(moment: dt.datetime) -> str:
    offset = moment.utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _event_id(epcis: dict[str, Any]) -> str:
    return "ni:///sha-256;" + hashlib.sha256(to_canonical_bytes(epcis)).hexdigest()


def _live_events(session: Session, lot: Lot, *steps: Step) -> list[TraceEvent]:
    """The lot's events of ``steps`` that were not corrected, in ledger order."""
    corrected = select(EventCorrection.event_pk)
    query = (
        select(TraceEvent)
        .join(EventLot, EventLot.event_pk == TraceEvent.id)
        .where(EventLot.lot_id == lot.id, TraceEvent.id.not_in(corrected))
        .order_by(TraceEvent.ledger_index)
    )
    if steps:
        query = query.where(TraceEvent.step.in_(steps))
    return list(session.scalars(query))


def custody(session: Session, lot: Lot) -> Custody:
    """Who holds the lot now, derived from its shipping and receiving events."""
    held = _Batch(session, utcnow()).held(lot)
    return Custody(holder=held.holder, in_transit_to=held.in_transit_to)


def _in_kg(amount: Decimal, unit: str) -> Decimal | None:
    factor = _TO_KG.get(unit.lower())
    return None if factor is None else amount * factor


def remaining_quantity(session: Session, lot: Lot) -> Decimal:
    """The lot's quantity less what transformations have consumed (in the lot's unit)."""
    used = Decimal(0)
    rows = session.scalars(
        select(EventLot)
        .join(TraceEvent, TraceEvent.id == EventLot.event_pk)
        .where(
            EventLot.lot_id == lot.id,
            EventLot.role == LotRole.INPUT,
            TraceEvent.id.not_in(select(EventCorrection.event_pk)),
        )
    )
    for row in rows:
        used += _convert(row.quantity or Decimal(0), row.uom or lot.quantity_unit, lot)
    return lot.quantity - used


def _convert(amount: Decimal, unit: str, lot: Lot) -> Decimal:
    """``amount`` in ``unit`` expressed in the lot's own unit; refuses incomparable units."""
    if unit.lower() == lot.quantity_unit.lower():
        return amount
    mine, theirs = _in_kg(Decimal(1), lot.quantity_unit), _in_kg(amount, unit)
    if mine is None or theirs is None:
        raise InvalidInputError(
            key="event.unit_mismatch",
            field="unit",
            unit=unit,
            lot=lot.ref,
            lot_unit=lot.quantity_unit,
        )
    return theirs / mine


def _check_time(lot: Lot, moment: dt.datetime, now: dt.datetime) -> None:
    if moment > now + CLOCK_SKEW:
        raise InvalidInputError(
            key="event.time_in_future", field="event time", time=moment.isoformat()
        )
    local_day = moment.date()
    if local_day < lot.harvest_date:
        raise InvalidInputError(
            key="event.time_before_harvest",
            field="event time",
            time=moment.isoformat(),
            lot=lot.ref,
            harvest=lot.harvest_date,
        )


def _require_holder(held: _Held, lot: Lot, actor: Facility) -> None:
    """Only the facility holding the lot records its events."""
    if held.holder is not None and held.holder.id == actor.id:
        return
    if held.in_transit_to is not None:
        key, holder = "event.not_holder_in_transit", held.in_transit_to.code
    elif held.holder is not None:
        key, holder = "event.not_holder_held", held.holder.code
    else:
        key, holder = "event.not_holder_nobody", ""
    raise ConflictError(key=key, facility=actor.code, lot=lot.ref, holder=holder)


def _quantity(lot: Lot, amount: LotAmount) -> tuple[Decimal, str]:
    unit = (amount.unit or lot.quantity_unit).strip()
    if amount.quantity is None or amount.quantity == "":
        return lot.quantity, lot.quantity_unit
    value = parse_decimal(amount.quantity, field="quantity", minimum=Decimal(0))
    check_text(unit, field="unit", max_len=20)
    return value, unit


def _quantity_element(uri: str, quantity: Decimal, unit: str) -> dict[str, Any]:
    return {
        "epcClass": uri,
        "quantity": format(quantity, "f"),
        "uom": _UOM.get(unit.lower(), unit),
    }


def _certification(actor: Facility, day: dt.date) -> dict[str, str]:
    certificate = valid_certificate(actor, day)
    return {"scheme": certificate.scheme.value, "number": certificate.number}


def _refuse_recorded(session: Session, event_ids: Sequence[str]) -> None:
    """Refuse an event recorded before (its eventID hashes its whole content): sealed
    entries carry fresh salts, so the ledger itself no longer sees the repetition."""
    index = session.scalar(
        select(TraceEvent.ledger_index).where(TraceEvent.event_id.in_(set(event_ids))).limit(1)
    )
    if index is not None:
        raise ConflictError(key="event.duplicate", ledger_index=index)
    if len(set(event_ids)) < len(event_ids):
        raise ConflictError(key="event.duplicate_in_batch")


def _append(
    session: Session,
    *,
    step: Step,
    actor: Facility,
    moment: dt.datetime,
    epcis: dict[str, Any],
    lots: Sequence[tuple[Lot, LotRole, Decimal, str]],
    display: dict[str, str],
    other: Facility | None,
    now: dt.datetime,
) -> RecordedEvent:
    event_id = _event_id(epcis)
    epcis = {**epcis, "eventID": event_id}
    body = {
        "type": "event",
        "step": step.value,
        "facility": actor.code,
        "facility_name": actor.name,
        "lots": [lot.ref for lot, _, _, _ in lots],
        "eventTime": epcis["eventTime"],
        "epcis": epcis,
        "display": display,
    }
    subjects = [lot_subject(lot) for lot, _, _, _ in lots] + [facility_subject(actor)]
    if other is not None:
        subjects.append(facility_subject(other))
    _refuse_recorded(session, [event_id])
    [appended] = append_sealed(session, [NewEntry(body=body, subjects=subjects)])
    event = TraceEvent(
        ledger_index=appended.index,
        event_id=event_id,
        step=step,
        facility=actor,
        other_facility=other,
        event_time=moment,
        recorded_at=now,
    )
    session.add(event)
    session.flush()
    for lot, role, quantity, unit in lots:
        session.add(EventLot(event=event, lot=lot, role=role, quantity=quantity, uom=unit))
    return RecordedEvent(event_id, appended.index, step, event.id)


@dataclass(frozen=True, slots=True)
class EventSpec:
    """One ObjectEvent to record for one lot, by ``facility_code`` (see :func:`record_event`)."""

    step: Step | str
    lot_ref: str
    facility_code: str
    event_time: dt.datetime
    quantity: Decimal | str | None = None
    unit: str | None = None
    destination: str | None = None
    temperature_c: Decimal | str | None = None
    certified: bool = False
    passed: bool = True
    note: str | None = None


@dataclass(slots=True)
class _Held:
    holder: Facility | None
    in_transit_to: Facility | None
    shipper: Facility | None
    harvested: bool


@dataclass(frozen=True, slots=True)
class _Prepared:
    body: dict[str, Any]
    subjects: list[str]
    step: Step
    actor: Facility
    other: Facility | None
    moment: dt.datetime
    lot: Lot
    amount: Decimal
    unit: str
    event_id: str


class _Batch:
    """Validation state for a batch: records read once, custody followed in memory."""

    def __init__(self, session: Session, now: dt.datetime) -> None:
        self.session = session
        self.now = now
        self._facilities: dict[str, Facility] = {}
        self._lots: dict[str, Lot] = {}
        self._held: dict[int, _Held] = {}

    def facility(self, code: str) -> Facility:
        key = code.strip().upper()
        if key not in self._facilities:
            self._facilities[key] = get_facility(self.session, key)
        return self._facilities[key]

    def actor(self, code: str) -> Facility:
        facility = self.facility(code)
        if facility.status is not FacilityStatus.ACTIVE:
            raise ConflictError(key="facility.suspended_events", facility=facility.code)
        return facility

    def lot(self, ref: str) -> Lot:
        key = ref.strip().upper()
        if key not in self._lots:
            self._lots[key] = get_lot(self.session, key)
        return self._lots[key]

    def held(self, lot: Lot) -> _Held:
        if lot.id not in self._held:
            moves = _live_events(self.session, lot, Step.SHIPPING, Step.RECEIVING, Step.HARVEST)
            held = _Held(holder=lot.facility, in_transit_to=None, shipper=None, harvested=False)
            for event in moves:
                if event.step is Step.HARVEST:
                    held.harvested = True
                else:
                    self._move(held, event.step, event.facility, event.other_facility)
            self._held[lot.id] = held
        return self._held[lot.id]

    @staticmethod
    def _move(held: _Held, step: Step, actor: Facility, other: Facility | None) -> None:
        if step is Step.SHIPPING:
            held.holder, held.in_transit_to, held.shipper = None, other, actor
        elif step is Step.RECEIVING:
            held.holder, held.in_transit_to, held.shipper = actor, None, None

    def prepare(self, spec: EventSpec) -> _Prepared:
        try:
            kind = Step(spec.step)
        except ValueError as exc:
            known = ", ".join(s.value for s in Step if s is not Step.PROCESSING)
            raise InvalidInputError(
                key="event.step_unknown_of", step=spec.step, known=known
            ) from exc
        if kind is Step.PROCESSING:
            raise InvalidInputError(key="event.processing_is_transformation")
        moment = spec.event_time
        if moment.tzinfo is None:
            raise InvalidInputError(key="event.time_needs_offset", field="event time")
        temperature = None
        if spec.temperature_c not in (None, ""):
            temperature = parse_decimal(spec.temperature_c, field="temperature", places=2)
            if not MIN_TEMPERATURE_C <= temperature <= MAX_TEMPERATURE_C:
                raise InvalidInputError(
                    key="event.temperature_range",
                    field="temperature",
                    temperature=temperature,
                    low=MIN_TEMPERATURE_C,
                    high=MAX_TEMPERATURE_C,
                )
        note_text = check_text(spec.note, field="note", max_len=300) if spec.note else None
        if kind is Step.SHIPPING and not spec.destination:
            raise InvalidInputError(key="event.shipment_needs_destination", field="destination")
        if kind is not Step.SHIPPING and spec.destination:
            raise InvalidInputError(key="event.destination_only_for_shipment", field="destination")
        actor = self.actor(spec.facility_code)
        lot = self.lot(spec.lot_ref)
        ref = lot.ref
        if lot.status is LotStatus.RECALLED and kind is not Step.INSPECTING:
            raise ConflictError(key="event.lot_recalled", lot=ref)
        _check_time(lot, moment, self.now)
        held = self.held(lot)
        other: Facility | None = None
        if kind is Step.RECEIVING:
            if held.in_transit_to is None or held.in_transit_to.id != actor.id:
                raise ConflictError(key="event.no_open_shipment", lot=ref, facility=actor.code)
            other = held.shipper
        else:
            _require_holder(held, lot, actor)
        if kind is Step.SHIPPING:
            other = self.facility(spec.destination or "")
            if other.id == actor.id:
                raise InvalidInputError(key="event.destination_is_self")
        if kind is Step.HARVEST:
            if lot.facility_id != actor.id:
                raise ConflictError(key="event.harvest_by_owner", owner=lot.facility.code, lot=ref)
            if held.harvested:
                raise ConflictError(key="event.already_harvested", lot=ref)
        amount, amount_unit = _quantity(lot, LotAmount(ref, spec.quantity, spec.unit))
        action, biz_step, disposition = _CBV[kind]
        if kind is Step.INSPECTING and not spec.passed:
            disposition = "non_conformant"
        location = {"id": facility_uri(actor)}
        epcis: dict[str, Any] = {
            "type": "ObjectEvent",
            "eventTime": moment.isoformat(),
            "eventTimeZoneOffset": _offset_text(moment),
            "action": action,
            "bizStep": biz_step,
            "disposition": disposition,
            "quantityList": [_quantity_element(lot_uri(lot), amount, amount_unit)],
            "readPoint": location,
            "bizLocation": location,
        }
        display = {"quantity": f"{format(amount, 'f')} {amount_unit}"}
        if kind is Step.HARVEST:
            epcis["ilmd"] = {
                "cbvmda:harvestStartDate": lot.harvest_date.isoformat(),
                "cbvmda:countryOfOrigin": "VN",
                "agt:growingArea": lot.origin_area,
            }
            display["origin"] = lot.origin_area
        if kind is Step.SHIPPING and other is not None:
            epcis["destinationList"] = [{"type": "location", "destination": facility_uri(other)}]
            display["to"] = other.name
        if kind is Step.RECEIVING and other is not None:
            epcis["sourceList"] = [{"type": "location", "source": facility_uri(other)}]
            display["from"] = other.name
        if temperature is not None:
            epcis["sensorElementList"] = [
                {
                    "sensorMetadata": {"time": moment.isoformat()},
                    "sensorReport": [
                        {"type": "Temperature", "value": format(temperature, "f"), "uom": "CEL"}
                    ],
                }
            ]
            display["temperature"] = f"{format(temperature, 'f')} °C"
        if spec.certified:
            claim = _certification(actor, moment.date())
            epcis["certificationInfo"] = (
                f"urn:agritrace:certificate:{claim['scheme']}:{claim['number']}"
            )
            display["certificate"] = claim["number"]
        if kind is Step.INSPECTING:
            display["result"] = "passed" if spec.passed else "failed"
        if note_text:
            epcis["agt:note"] = note_text
            display["note"] = note_text
        event_id = _event_id(epcis)
        epcis["eventID"] = event_id
        body = {
            "type": "event",
            "step": kind.value,
            "facility": actor.code,
            "facility_name": actor.name,
            "lots": [ref],
            "eventTime": epcis["eventTime"],
            "epcis": epcis,
            "display": display,
        }
        subjects = [lot_subject(lot), facility_subject(actor)]
        if other is not None:
            subjects.append(facility_subject(other))
        # Later events of this batch see the lot where this one leaves it.
        if kind is Step.HARVEST:
            held.harvested = True
        self._move(held, kind, actor, other)
        return _Prepared(
            body, subjects, kind, actor, other, moment, lot, amount, amount_unit, event_id
        )


def record_events(
    session: Session, specs: Sequence[EventSpec], *, now: dt.datetime | None = None
) -> list[RecordedEvent]:
    """Record ObjectEvents in one transaction, all or nothing, in the order given. Commits.

    Every event is checked against the rules as if recorded one by one (custody moves with
    the batch's own shipments and receipts); then all ledger entries are appended at once
    and the event index rows inserted in bulk. Raises the first rule broken, naming it.
    """
    if not specs:
        return []
    batch = _Batch(session, now or utcnow())
    begin_write(session)
    # Custody and standing are read under locks on the lots and facilities (locks.py).
    lock_lots(session, [spec.lot_ref for spec in specs])
    share_facilities(session, [c for s in specs for c in (s.facility_code, s.destination)])
    prepared = [batch.prepare(spec) for spec in specs]
    _refuse_recorded(session, [item.event_id for item in prepared])
    appended = append_sealed(
        session, [NewEntry(body=item.body, subjects=item.subjects) for item in prepared]
    )
    ids = session.scalars(
        insert(TraceEvent).returning(TraceEvent.id, sort_by_parameter_order=True),
        [
            {
                "ledger_index": result.index,
                "event_id": item.event_id,
                "step": item.step,
                "facility_id": item.actor.id,
                "other_facility_id": item.other.id if item.other else None,
                "event_time": item.moment,
                "recorded_at": batch.now,
            }
            for item, result in zip(prepared, appended, strict=True)
        ],
    ).all()
    session.execute(
        insert(EventLot),
        [
            {
                "event_pk": pk,
                "lot_id": item.lot.id,
                "role": LotRole.OBJECT,
                "quantity": item.amount,
                "uom": item.unit,
            }
            for item, pk in zip(prepared, ids, strict=True)
        ],
    )
    session.commit()
    return [
        RecordedEvent(item.event_id, result.index, item.step, pk)
        for item, result, pk in zip(prepared, appended, ids, strict=True)
    ]


def record_event(
    session: Session,
    *,
    step: Step | str,
    lot_ref: str,
    facility_code: str,
    event_time: dt.datetime,
    quantity: Decimal | str | None = None,
    unit: str | None = None,
    destination: str | None = None,
    temperature_c: Decimal | str | None = None,
    certified: bool = False,
    passed: bool = True,
    note: str | None = None,
    now: dt.datetime | None = None,
) -> RecordedEvent:
    """Record an ObjectEvent for one lot, by ``facility_code``. Commits.

    ``destination`` (a facility code) is required for shipping; ``temperature_c`` is a sensor
    reading (cooling, storing, shipping, receiving); ``passed`` is the inspection outcome.
    """
    spec = EventSpec(
        step=step,
        lot_ref=lot_ref,
        facility_code=facility_code,
        event_time=event_time,
        quantity=quantity,
        unit=unit,
        destination=destination,
        temperature_c=temperature_c,
        certified=certified,
        passed=passed,
        note=note,
    )
    [recorded] = record_events(session, [spec], now=now)
    return recorded


def record_transformation(
    session: Session,
    *,
    facility_code: str,
    event_time: dt.datetime,
    inputs: Sequence[LotAmount],
    outputs: Sequence[LotAmount],
    certified: bool = False,
    note: str | None = None,
    now: dt.datetime | None = None,
) -> RecordedEvent:
    """Record processing (an EPCIS TransformationEvent): input lots into output lots.

    The facility must hold every input lot and own every output lot; each input may give no
    more than remains of it; outputs may not weigh more than inputs. Commits.
    """
    if not inputs or not outputs:
        raise InvalidInputError(key="transform.needs_lots")
    moment_now = now or utcnow()
    if event_time.tzinfo is None:
        raise InvalidInputError(key="event.time_needs_offset", field="event time")
    note_text = check_text(note, field="note", max_len=300) if note else None
    begin_write(session)
    # What remains of each input, and who holds it, is read under the lots' locks.
    lock_lots(session, [amount.lot_ref for amount in (*inputs, *outputs)])
    share_facilities(session, [facility_code])
    batch = _Batch(session, moment_now)
    actor = batch.actor(facility_code)
    used: list[tuple[Lot, LotRole, Decimal, str]] = []
    input_kg = Decimal(0)
    output_kg = Decimal(0)
    seen: set[int] = set()
    for amount in inputs:
        lot = batch.lot(amount.lot_ref)
        ref = lot.ref
        if lot.id in seen:
            raise InvalidInputError(key="transform.lot_twice", lot=ref)
        seen.add(lot.id)
        if lot.status is LotStatus.RECALLED:
            raise ConflictError(key="transform.input_recalled", lot=ref)
        _check_time(lot, event_time, moment_now)
        _require_holder(batch.held(lot), lot, actor)
        quantity, unit = _quantity(lot, amount)
        left = remaining_quantity(session, lot)
        if _convert(quantity, unit, lot) > left:
            raise InvalidInputError(
                key="transform.input_short",
                lot=ref,
                left=format(left, "f"),
                lot_unit=lot.quantity_unit,
                quantity=format(quantity, "f"),
                unit=unit,
            )
        kg = _in_kg(quantity, unit)
        if kg is None:
            raise InvalidInputError(key="transform.not_weight", field="unit", unit=unit)
        input_kg += kg
        used.append((lot, LotRole.INPUT, quantity, unit))
    for amount in outputs:
        lot = batch.lot(amount.lot_ref)
        ref = lot.ref
        if lot.id in seen:
            raise InvalidInputError(key="transform.input_and_output", lot=ref)
        seen.add(lot.id)
        if lot.facility_id != actor.id:
            raise ConflictError(
                key="transform.output_elsewhere",
                lot=ref,
                owner=lot.facility.code,
                facility=actor.code,
            )
        if _live_events(session, lot):
            raise ConflictError(key="transform.output_has_events", lot=ref)
        _check_time(lot, event_time, moment_now)
        quantity, unit = _quantity(lot, amount)
        kg = _in_kg(quantity, unit)
        if kg is None:
            raise InvalidInputError(key="transform.not_weight", field="unit", unit=unit)
        output_kg += kg
        used.append((lot, LotRole.OUTPUT, quantity, unit))
    if output_kg > input_kg:
        raise InvalidInputError(
            key="transform.outputs_exceed_inputs",
            output_kg=format(output_kg.normalize(), "f"),
            input_kg=format(input_kg.normalize(), "f"),
        )
    location = {"id": facility_uri(actor)}
    epcis: dict[str, Any] = {
        "type": "TransformationEvent",
        "eventTime": event_time.isoformat(),
        "eventTimeZoneOffset": _offset_text(event_time),
        "bizStep": _CBV[Step.PROCESSING][1],
        "disposition": _CBV[Step.PROCESSING][2],
        "inputQuantityList": [
            _quantity_element(lot_uri(lot), q, u)
            for lot, role, q, u in used
            if role is LotRole.INPUT
        ],
        "outputQuantityList": [
            _quantity_element(lot_uri(lot), q, u)
            for lot, role, q, u in used
            if role is LotRole.OUTPUT
        ],
        "readPoint": location,
        "bizLocation": location,
    }
    display = {
        "inputs": ", ".join(
            f"{lot.ref} {format(q, 'f')} {u}" for lot, r, q, u in used if r is LotRole.INPUT
        ),
        "outputs": ", ".join(
            f"{lot.ref} {format(q, 'f')} {u}" for lot, r, q, u in used if r is LotRole.OUTPUT
        ),
    }
    if certified:
        claim = _certification(actor, event_time.date())
        epcis["certificationInfo"] = (
            f"urn:agritrace:certificate:{claim['scheme']}:{claim['number']}"
        )
        display["certificate"] = claim["number"]
    if note_text:
        epcis["agt:note"] = note_text
        display["note"] = note_text
    recorded = _append(
        session,
        step=Step.PROCESSING,
        actor=actor,
        moment=event_time,
        epcis=epcis,
        lots=used,
        display=display,
        other=None,
        now=moment_now,
    )
    for out_lot, role, _, _ in used:
        if role is not LotRole.OUTPUT:
            continue
        for in_lot, in_role, _, _ in used:
            if in_role is LotRole.INPUT:
                session.add(
                    LotInput(
                        output_lot_id=out_lot.id,
                        input_lot_id=in_lot.id,
                        event_pk=recorded.event_pk,
                    )
                )
    session.commit()
    return recorded


def correct_event(
    session: Session,
    *,
    ledger_index: int,
    facility_code: str,
    reason: str,
    now: dt.datetime | None = None,
) -> RecordedEvent:
    """Declare a recorded event erroneous (EPCIS errorDeclaration). The original stays in the
    ledger, marked corrected; custody and quantities ignore it from now on. Commits."""
    why = check_text(reason, field="reason", max_len=500)
    moment_now = now or utcnow()
    begin_write(session)
    event = session.scalar(select(TraceEvent).where(TraceEvent.ledger_index == ledger_index))
    if event is not None:
        # Undoing a shipment or a consumption changes custody and quantities: lock the lots
        # (before the facility, as every writer does).
        lock_lots(session, [row.lot.ref for row in event.lots])
    share_facilities(session, [facility_code])
    actor = _Batch(session, moment_now).actor(facility_code)
    if event is None:
        raise NotFoundError(key="event.not_an_event", index=ledger_index)
    if event.facility_id != actor.id:
        raise ConflictError(
            key="event.correct_not_yours", index=ledger_index, owner=event.facility.code
        )
    if session.scalar(select(EventCorrection.id).where(EventCorrection.event_pk == event.id)):
        raise ConflictError(key="event.already_corrected", index=ledger_index)
    if event.step in (Step.SHIPPING, Step.PROCESSING):
        later = session.scalar(
            select(func.count())
            .select_from(TraceEvent)
            .join(EventLot, EventLot.event_pk == TraceEvent.id)
            .where(
                EventLot.lot_id.in_([row.lot_id for row in event.lots]),
                TraceEvent.ledger_index > ledger_index,
                TraceEvent.id.not_in(select(EventCorrection.event_pk)),
            )
        )
        if later:
            raise ConflictError(key="event.correct_later_first", index=ledger_index)
    original = revealed_entry(session, ledger_index)
    declared = original["epcis"] | {
        "errorDeclaration": {
            "declarationTime": moment_now.isoformat(timespec="seconds"),
            "reason": "incorrect_data",
            "agt:reason": why,
        }
    }
    body = {
        "type": "correction",
        "step": original["step"],
        "corrects": ledger_index,
        "reason": why,
        "facility": actor.code,
        "facility_name": actor.name,
        "lots": original["lots"],
        "at": moment_now.isoformat(timespec="seconds"),
        "epcis": declared,
        "display": {"reason": why},
    }
    subjects = [lot_subject(row.lot) for row in event.lots] + [facility_subject(actor)]
    [appended] = append_sealed(session, [NewEntry(body=body, subjects=subjects)])
    session.add(
        EventCorrection(
            event_pk=event.id, ledger_index=appended.index, reason=why, declared_at=moment_now
        )
    )
    session.commit()
    return RecordedEvent(original["epcis"]["eventID"], appended.index, event.step, event.id)


def list_events(session: Session, *, lot_ref: str) -> list[TraceEvent]:
    lot = get_lot(session, lot_ref)
    query = (
        select(TraceEvent)
        .join(EventLot, EventLot.event_pk == TraceEvent.id)
        .where(EventLot.lot_id == lot.id)
        .order_by(TraceEvent.event_time, TraceEvent.ledger_index)
    )
    return list(session.scalars(query))


def event_record(session: Session, event: TraceEvent) -> dict[str, Any]:
    correction = session.scalar(select(EventCorrection).where(EventCorrection.event_pk == event.id))
    return {
        "event_id": event.event_id,
        "ledger_index": event.ledger_index,
        "step": event.step.value,
        "facility": event.facility.code,
        "event_time": event.event_time.isoformat(),
        "lots": [
            {
                "lot": row.lot.ref,
                "role": row.role.value,
                "quantity": format(row.quantity, "f") if row.quantity is not None else None,
                "unit": row.uom,
            }
            for row in event.lots
        ],
        "other_facility": event.other_facility.code if event.other_facility else None,
        "corrected_by": correction.ledger_index if correction else None,
        "correction_reason": correction.reason if correction else None,
    }
