"""Read-only views for the portal, the inspector's console and the API: pages of records,
scans of a facility's stamps, daily series for charts, and proofs checked step by step.

Nothing here writes. Pages are keyset-paginated (``after``: the last id of the previous
page), so a page costs the same however deep it is.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from agritrace.errors import NotFoundError, VerificationError
from agritrace.ledger import merkle, store
from agritrace.ledger.checkpoint import Checkpoint, NoteVerifier, open_note
from agritrace.ledger.store import LedgerCheckpoint, LedgerEntry
from agritrace.trace.event_models import EventLot, Recall, TraceEvent
from agritrace.trace.models import Facility, Lot, StampBatch, StampScanState
from agritrace.trace.scans import MAX_PLAUSIBLE_SCANS, Review

__all__ = [
    "ConsistencyCheck",
    "DayCount",
    "InclusionCheck",
    "ProofStep",
    "ScanRow",
    "batches_page",
    "check_consistency",
    "check_entry",
    "check_inclusion",
    "checkpoint_sizes",
    "count_rows",
    "daily_counts",
    "entries_page",
    "entry_summary",
    "events_page",
    "facility_scans",
    "in_transit_to",
    "lots_page",
    "recalls_page",
]


def lots_page(
    session: Session, *, facility_id: int | None, after: int | None, limit: int
) -> list[Lot]:
    query = select(Lot).order_by(Lot.id).limit(limit)
    if facility_id is not None:
        query = query.where(Lot.facility_id == facility_id)
    if after is not None:
        query = query.where(Lot.id > after)
    return list(session.scalars(query))


def batches_page(
    session: Session,
    *,
    facility_id: int | None,
    lot_id: int | None = None,
    after: int | None,
    limit: int,
) -> list[StampBatch]:
    query = select(StampBatch).order_by(StampBatch.id).limit(limit)
    if facility_id is not None:
        query = query.join(Lot, StampBatch.lot_id == Lot.id).where(Lot.facility_id == facility_id)
    if lot_id is not None:
        query = query.where(StampBatch.lot_id == lot_id)
    if after is not None:
        query = query.where(StampBatch.id > after)
    return list(session.scalars(query))


def events_page(
    session: Session,
    *,
    facility_id: int | None,
    lot_id: int | None = None,
    after: int | None,
    limit: int,
) -> list[TraceEvent]:
    """Events recorded by ``facility_id`` or about its lots (None: all), by id."""
    query = select(TraceEvent).order_by(TraceEvent.id).limit(limit)
    if lot_id is not None:
        query = query.where(
            TraceEvent.id.in_(select(EventLot.event_pk).where(EventLot.lot_id == lot_id))
        )
    if facility_id is not None:
        own_lots = select(Lot.id).where(Lot.facility_id == facility_id)
        query = query.where(
            (TraceEvent.facility_id == facility_id)
            | TraceEvent.id.in_(select(EventLot.event_pk).where(EventLot.lot_id.in_(own_lots)))
        )
    if after is not None:
        query = query.where(TraceEvent.id > after)
    return list(session.scalars(query))


def recalls_page(session: Session, *, after: int | None, limit: int) -> list[Recall]:
    query = select(Recall).order_by(Recall.id).limit(limit)
    if after is not None:
        query = query.where(Recall.id > after)
    return list(session.scalars(query))


def in_transit_to(session: Session, facility: Facility) -> list[Lot]:
    """Lots whose latest live shipping names ``facility`` as destination and that it has
    not received yet (candidates for its receiving form)."""
    from agritrace.trace.events import custody

    shipped = session.scalars(
        select(Lot)
        .join(EventLot, EventLot.lot_id == Lot.id)
        .join(TraceEvent, TraceEvent.id == EventLot.event_pk)
        .where(TraceEvent.other_facility_id == facility.id)
        .distinct()
        .order_by(Lot.id)
        .limit(200)
    )
    found = []
    for lot in shipped:
        held = custody(session, lot)
        if held.in_transit_to is not None and held.in_transit_to.id == facility.id:
            found.append(lot)
    return found


@dataclass(frozen=True, slots=True)
class ScanRow:
    """A scanned stamp of a lot, with what flags it for review and the latest decision."""

    serial: int
    lot: Lot
    count: int
    first_scan_at: dt.datetime
    last_scan_at: dt.datetime
    distant_places_at: dt.datetime | None
    clone_at: dt.datetime | None = None
    claimed_at: dt.datetime | None = None
    review: str | None = None
    review_reason: str | None = None
    reviewed_at: dt.datetime | None = None

    @property
    def many_scans(self) -> bool:
        return self.count > MAX_PLAUSIBLE_SCANS

    @property
    def _clone_pending(self) -> bool:
        if self.clone_at is None:
            return False
        cleared = self.review == Review.CLEARED.value and self.reviewed_at is not None
        return not (cleared and self.reviewed_at >= self.clone_at)  # type: ignore[operator]

    @property
    def flagged(self) -> bool:
        """A signal (a note or a second claim) that no review has decided on yet."""
        if self._clone_pending and self.review != Review.CONFIRMED.value:
            return True
        noted = self.many_scans or self.distant_places_at is not None
        return noted and self.review is None

    @property
    def suspicious(self) -> bool:
        """What the scan page says: red after a confirmed review or an undecided clone."""
        return self.review == Review.CONFIRMED.value or self._clone_pending


def facility_scans(
    session: Session,
    *,
    facility_id: int | None,
    flagged_only: bool = False,
    limit: int = 200,
) -> list[ScanRow]:
    """Scanned stamps of a facility's lots (None: every facility), most recent first;
    ``flagged_only``: those with a signal (a note or a second claim) or a decision."""
    in_batch = and_(
        StampScanState.serial >= StampBatch.first_serial,
        StampScanState.serial < StampBatch.first_serial + StampBatch.count,
    )
    query = (
        select(StampScanState, Lot)
        .join(StampBatch, in_batch)
        .join(Lot, Lot.id == StampBatch.lot_id)
        .order_by(StampScanState.last_scan_at.desc(), StampScanState.serial)
        .limit(limit)
    )
    if facility_id is not None:
        query = query.where(Lot.facility_id == facility_id)
    if flagged_only:
        query = query.where(
            (StampScanState.scan_count > MAX_PLAUSIBLE_SCANS)
            | StampScanState.distant_places_at.is_not(None)
            | StampScanState.clone_at.is_not(None)
            | StampScanState.review.is_not(None)
        )
    return [
        ScanRow(
            serial=state.serial,
            lot=lot,
            count=state.scan_count,
            first_scan_at=state.first_scan_at,
            last_scan_at=state.last_scan_at,
            distant_places_at=state.distant_places_at,
            clone_at=state.clone_at,
            claimed_at=state.claimed_at,
            review=state.review,
            review_reason=state.review_reason,
            reviewed_at=state.reviewed_at,
        )
        for state, lot in session.execute(query)
    ]


@dataclass(frozen=True, slots=True)
class DayCount:
    day: dt.date
    issued: int
    scanned: int


def daily_counts(
    session: Session,
    *,
    days: int,
    today: dt.date,
    zone: dt.tzinfo,
    facility_id: int | None = None,
) -> list[DayCount]:
    """Stamps issued and stamps first scanned on each of the last ``days`` days (in
    ``zone``), oldest first. Rows are read for the window only and bucketed here, so the
    same code serves SQLite and PostgreSQL."""
    start_day = today - dt.timedelta(days=days - 1)
    start = dt.datetime.combine(start_day, dt.time(), zone)
    issued: dict[dt.date, int] = {}
    batches = select(StampBatch.created_at, StampBatch.count).where(StampBatch.created_at >= start)
    if facility_id is not None:
        batches = batches.join(Lot, Lot.id == StampBatch.lot_id).where(
            Lot.facility_id == facility_id
        )
    for created, count in session.execute(batches):
        day = created.astimezone(zone).date()
        issued[day] = issued.get(day, 0) + count
    scanned: dict[dt.date, int] = {}
    scans = select(StampScanState.first_scan_at).where(StampScanState.first_scan_at >= start)
    if facility_id is not None:
        in_batch = and_(
            StampScanState.serial >= StampBatch.first_serial,
            StampScanState.serial < StampBatch.first_serial + StampBatch.count,
        )
        scans = (
            scans.join(StampBatch, in_batch)
            .join(Lot, Lot.id == StampBatch.lot_id)
            .where(Lot.facility_id == facility_id)
        )
    for (first,) in session.execute(scans.limit(1_000_000)):
        day = first.astimezone(zone).date()
        scanned[day] = scanned.get(day, 0) + 1
    return [
        DayCount(
            day=start_day + dt.timedelta(days=n),
            issued=issued.get(start_day + dt.timedelta(days=n), 0),
            scanned=scanned.get(start_day + dt.timedelta(days=n), 0),
        )
        for n in range(days)
    ]


def entries_page(session: Session, *, before: int | None, limit: int) -> list[LedgerEntry]:
    """Ledger entries, newest first, below index ``before`` (None: from the head)."""
    query = select(LedgerEntry).order_by(LedgerEntry.idx.desc()).limit(limit)
    if before is not None:
        query = query.where(LedgerEntry.idx < before)
    return list(session.scalars(query))


def checkpoint_sizes(session: Session, *, limit: int = 50) -> list[int]:
    """The newest signed checkpoints' sizes, newest first."""
    return list(
        session.scalars(
            select(LedgerCheckpoint.size).order_by(LedgerCheckpoint.size.desc()).limit(limit)
        )
    )


def entry_summary(entry: LedgerEntry) -> dict[str, Any]:
    """A short description of an entry for listings (its type, step, lot, facility)."""
    try:
        body = json.loads(entry.content)
    except ValueError:
        return {"type": entry.kind}
    return {
        key: body[key]
        for key in ("type", "step", "lot", "facility")
        if isinstance(body.get(key), str)
    }


# -- proofs, step by step -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProofStep:
    """One hashing step: the sibling on the ``side`` it is combined from, and the result."""

    side: str
    sibling: bytes
    result: bytes


@dataclass(frozen=True, slots=True)
class InclusionCheck:
    index: int
    size: int
    leaf_hash: bytes
    steps: tuple[ProofStep, ...]
    root: bytes
    checkpoint_note: str
    signers: tuple[str, ...]
    error: str | None = None
    origin: str = ""
    """The log's name as the verified checkpoint states it ("" when it did not verify)."""

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def proof(self) -> tuple[bytes, ...]:
        """The inclusion proof's hashes, leaf to root."""
        return tuple(step.sibling for step in self.steps)


@dataclass(frozen=True, slots=True)
class ConsistencyCheck:
    old_size: int
    new_size: int
    old_root: bytes
    new_root: bytes
    proof: tuple[bytes, ...]
    old_note: str
    new_note: str
    signers: tuple[str, ...]
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _open_checkpoint(
    stored: LedgerCheckpoint, verifiers: Sequence[NoteVerifier]
) -> tuple[Checkpoint, tuple[str, ...]]:
    body, signers = open_note(stored.note.encode("utf-8"), verifiers=verifiers)
    return Checkpoint.from_body(body), tuple(signers)


def _inclusion_steps(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> list[ProofStep]:
    # The walk of RFC 9162 section 2.1.3.2, kept to show each step (merkle.verify_inclusion
    # is what decides).
    steps = []
    node, last, computed = index, size - 1, leaf
    for sibling in proof:
        if node & 1 or node == last:
            computed = merkle.node_hash(sibling, computed)
            steps.append(ProofStep("left", sibling, computed))
            while not node & 1 and node:
                node >>= 1
                last >>= 1
        else:
            computed = merkle.node_hash(computed, sibling)
            steps.append(ProofStep("right", sibling, computed))
        node >>= 1
        last >>= 1
    return steps


def check_inclusion(
    session: Session, *, index: int, size: int, verifiers: Sequence[NoteVerifier]
) -> InclusionCheck:
    """Check entry ``index`` against the signed checkpoint of ``size`` entries, server-side
    with the public keys only: the checkpoint's signature, then the proof's hashes up to
    the signed root. A failed check is returned with its ``error`` (to be shown); a missing
    entry or checkpoint raises NotFoundError."""
    entry = store.get_entry(session, index)
    stored = store.get_checkpoint(session, size)
    proof = store.inclusion_proof(session, index, size)
    steps = _inclusion_steps(entry.leaf_hash, index, size, proof)
    try:
        checkpoint, signers = _open_checkpoint(stored, verifiers)
        merkle.verify_inclusion(
            leaf_hash=merkle.leaf_hash(entry.content),
            index=index,
            size=checkpoint.size,
            proof=proof,
            root=checkpoint.root_hash,
        )
    except VerificationError as exc:
        return InclusionCheck(
            index, size, entry.leaf_hash, tuple(steps), stored.root_hash, stored.note, (), str(exc)
        )
    return InclusionCheck(
        index,
        size,
        entry.leaf_hash,
        tuple(steps),
        checkpoint.root_hash,
        stored.note,
        signers,
        origin=checkpoint.origin,
    )


def check_entry(
    session: Session, index: int, *, verifiers: Sequence[NoteVerifier]
) -> tuple[LedgerEntry, InclusionCheck | None]:
    """Entry ``index`` and its inclusion proof checked against the latest signed checkpoint
    (as :func:`check_inclusion` does), or None for the check while no signed checkpoint
    covers the entry yet. Raises NotFoundError for an index beyond the ledger."""
    try:
        entry = store.get_entry(session, index)
    except NotFoundError as exc:  # said again with a message key, for the entry's page
        raise NotFoundError(key="ledger.no_entry", index=index) from exc
    latest = store.latest_checkpoint(session)
    if latest is None or latest.size <= index:
        return entry, None
    return entry, check_inclusion(session, index=index, size=latest.size, verifiers=verifiers)


def check_consistency(
    session: Session, *, old: int, new: int, verifiers: Sequence[NoteVerifier]
) -> ConsistencyCheck:
    """Check that the signed checkpoint of ``new`` entries extends the one of ``old``."""
    old_stored = store.get_checkpoint(session, old)
    new_stored = store.get_checkpoint(session, new)
    proof = store.consistency_proof(session, old, new) if old != new else []
    signers: set[str] = set()
    try:
        old_cp, old_signers = _open_checkpoint(old_stored, verifiers)
        new_cp, new_signers = _open_checkpoint(new_stored, verifiers)
        signers.update(old_signers, new_signers)
        merkle.verify_consistency(
            size1=old_cp.size,
            size2=new_cp.size,
            proof=proof,
            root1=old_cp.root_hash,
            root2=new_cp.root_hash,
        )
    except VerificationError as exc:
        error: str | None = str(exc)
    else:
        error = None
    return ConsistencyCheck(
        old_size=old,
        new_size=new,
        old_root=old_stored.root_hash,
        new_root=new_stored.root_hash,
        proof=tuple(proof),
        old_note=old_stored.note,
        new_note=new_stored.note,
        signers=tuple(sorted(signers)),
        error=error,
    )


def count_rows(session: Session, model: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)
