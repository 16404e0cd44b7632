"""Provenance: a lot's journey read back from the ledger, and its upstream lots.

Every step shown to a consumer comes from a ledger entry about the lot (its subject
``lot:<id>``), so each step carries the ledger index a proof can be fetched for. Entries
are shown in event-time order; an entry corrected by a later ``correction`` entry stays
visible, marked corrected with the reason.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from agritrace.ledger.store import LedgerEntry, LedgerSubject
from agritrace.trace.models import Lot
from agritrace.trace.registry import lot_subject

__all__ = [
    "EntryDescription",
    "JourneyStep",
    "ProvenanceNode",
    "describe_entry",
    "lot_journey",
    "lot_provenance",
    "step_from_entry",
]

MAX_UPSTREAM_DEPTH = 8


@dataclass(frozen=True, slots=True)
class JourneyStep:
    """One ledger-backed step of a lot's journey, ready to display."""

    ledger_index: int
    kind: str
    """The ledger entry type (``lot``, ``stamp-batch``, ``event``, ``recall``, ...)."""
    step: str
    """What happened, as a slug: harvest, packing, cooling, storing, shipping, receiving,
    processing, inspecting, registered, stamps-issued, recalled, facility-suspended."""
    time: dt.datetime
    facility_code: str
    facility_name: str
    details: dict[str, str] = field(default_factory=dict)
    corrected: bool = False
    correction_reason: str | None = None


@dataclass(frozen=True, slots=True)
class ProvenanceNode:
    lot: Lot
    steps: tuple[JourneyStep, ...]
    inputs: tuple[ProvenanceNode, ...]


def _time(body: dict[str, Any]) -> dt.datetime:
    for key in ("eventTime", "issued_at", "recalled_at", "registered_at", "at"):
        raw = body.get(key)
        if isinstance(raw, str):
            try:
                moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
            except ValueError:
                continue
            return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return dt.datetime.min.replace(tzinfo=dt.UTC)


def step_from_entry(index: int, body: dict[str, Any]) -> JourneyStep:
    """Turn one ledger entry body into a journey step (pure: no database)."""
    kind = str(body.get("type", "unknown"))
    step = str(
        body.get("step")
        or {"stamp-batch": "stamps-issued", "lot": "registered", "recall": "recalled"}.get(
            kind, kind
        )
    )
    details = {
        str(k): str(v) for k, v in (body.get("display") or {}).items() if isinstance(v, (str, int))
    }
    if kind == "stamp-batch":
        details.setdefault("stamps", str(body.get("count", "")))
    if kind == "recall":
        details.setdefault("reason", str(body.get("reason", "")))
    return JourneyStep(
        ledger_index=index,
        kind=kind,
        step=step,
        time=_time(body),
        facility_code=str(body.get("facility", "")),
        facility_name=str(body.get("facility_name", "")),
        details=details,
    )


@dataclass(frozen=True, slots=True)
class EntryDescription:
    """What one ledger entry records, for a person: its step (what, when, where) and its
    other facts as ``(slug, text)`` pairs in reading order (slugs: ``lot``, ``product``,
    ``certificate``, ``validity``, ``serials``, ``cascade``, then the entry's own display
    details such as ``quantity`` or ``temperature``)."""

    step: JourneyStep
    facts: tuple[tuple[str, str], ...]
    corrects: int | None
    """The ledger index of the entry this one corrects (a ``correction``), if any."""


def _text(value: object) -> str | None:
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else None


def describe_entry(index: int, body: dict[str, Any]) -> EntryDescription:
    """Describe any ledger entry body (pure: no database); unknown fields are left out."""
    step = step_from_entry(index, body)
    facts: dict[str, str] = {}
    lots = body.get("lots")
    if isinstance(lots, list) and all(isinstance(lot, str) for lot in lots) and lots:
        facts["lot"] = ", ".join(lots)
    elif _text(body.get("lot")):
        facts["lot"] = str(body["lot"])
    product = _text(body.get("product_name")) or _text(body.get("product"))
    if product:
        facts["product"] = product
    if step.kind in ("certificate", "certificate-suspension") and _text(body.get("number")):
        facts["certificate"] = f"{body.get('scheme', '')} {body['number']}".strip()
    if _text(body.get("valid_from")) and _text(body.get("valid_to")):
        facts["validity"] = f"{body['valid_from']} – {body['valid_to']}"
    first, count = body.get("first_serial"), body.get("count")
    if isinstance(first, int) and isinstance(count, int) and count > 0:
        facts["serials"] = f"{first}–{first + count - 1}"
    cascade = body.get("cascade")
    if isinstance(cascade, list) and cascade:
        facts["cascade"] = ", ".join(str(lot) for lot in cascade)
    for slug, text in step.details.items():
        facts.setdefault(slug, text)
    corrects = body.get("corrects")
    return EntryDescription(
        step=step,
        facts=tuple(facts.items()),
        corrects=corrects if isinstance(corrects, int) and not isinstance(corrects, bool) else None,
    )


def lot_journey(session: Session, lot: Lot) -> list[JourneyStep]:
    """The lot's steps from the ledger, in event-time order (ties by ledger index)."""
    rows = session.execute(
        select(LedgerEntry.idx, LedgerEntry.content)
        .join(LedgerSubject, LedgerSubject.idx == LedgerEntry.idx)
        .where(LedgerSubject.subject == lot_subject(lot))
        .order_by(LedgerEntry.idx)
    )
    steps: list[JourneyStep] = []
    corrections: dict[int, str] = {}
    for index, content in rows:
        body = json.loads(content)
        if body.get("type") == "correction" and isinstance(body.get("corrects"), int):
            corrections[body["corrects"]] = str(body.get("reason", ""))
        steps.append(step_from_entry(index, body))
    marked = [
        JourneyStep(
            ledger_index=s.ledger_index,
            kind=s.kind,
            step=s.step,
            time=s.time,
            facility_code=s.facility_code,
            facility_name=s.facility_name,
            details=s.details,
            corrected=s.ledger_index in corrections,
            correction_reason=corrections.get(s.ledger_index),
        )
        for s in steps
    ]
    return sorted(marked, key=lambda s: (s.time, s.ledger_index))


def lot_provenance(session: Session, lot: Lot, *, _depth: int = 0) -> ProvenanceNode:
    """The lot's journey and, through transformations, its upstream lots as a tree."""
    from agritrace.trace.event_models import LotInput

    inputs: tuple[ProvenanceNode, ...] = ()
    if _depth < MAX_UPSTREAM_DEPTH:
        upstream = session.scalars(
            select(Lot)
            .join(LotInput, LotInput.input_lot_id == Lot.id)
            .where(LotInput.output_lot_id == lot.id)
            .order_by(Lot.id)
        )
        inputs = tuple(lot_provenance(session, up, _depth=_depth + 1) for up in upstream)
    return ProvenanceNode(lot=lot, steps=tuple(lot_journey(session, lot)), inputs=inputs)
