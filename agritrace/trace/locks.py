"""Locks on what a business rule consumes, taken before the rule reads it.

A rule that consumes something (a lot's stamps, its kilograms, its custody) must read and
write it under a lock that every other consumer of it takes too, or two requests both see
the same "enough left" and both spend it (issue 12: 200 stamps on a 100-unit lot). So a
writing service, after :func:`agritrace.db.begin_write`, calls :func:`lock_lots` on every
lot it consumes and :func:`share_facilities` on the facilities whose standing it relies
on, and only then reads and checks.

- PostgreSQL: ``SELECT ... FOR UPDATE`` on the lot rows, all of a writer's lots in one
  statement in ascending id order, so two writers needing the same lots queue instead of
  deadlocking; ``FOR SHARE`` on facility rows (a suspension, which updates the row, waits
  for the events under way, and they for it; a suspension holds no lot). Every writer
  takes its lots before its facilities (a share request may queue behind a waiting
  suspension), then the serial counter, then the ledger head: one order, no cycle.
- SQLite: ``begin_write``'s ``BEGIN IMMEDIATE`` already admits one writer at a time.

Both refresh the objects the session had loaded (``populate_existing``): a web request may
have loaded the lot or its facility before the lock, and the rule must see the values the
lock protects, not those.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from agritrace.errors import AgritraceError
from agritrace.trace.models import Facility, Lot
from agritrace.trace.registry import get_lot

__all__ = ["lock_lot", "lock_lots", "share_facilities"]


def lock_lots(session: Session, refs: Iterable[str]) -> dict[int, Lot]:
    """Lock the lots named ``FACILITY/LOT`` for this transaction, by id; refreshed.

    A ref that is malformed or unknown is skipped: the rule that reads it raises the usual
    error for it. Returns the locked lots by id.
    """
    ids: set[int] = set()
    for ref in refs:
        try:
            ids.add(get_lot(session, ref).id)
        except AgritraceError:
            continue
    if not ids:
        return {}
    locked = session.scalars(
        select(Lot)
        .where(Lot.id.in_(sorted(ids)))
        .order_by(Lot.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {lot.id: lot for lot in locked}


def lock_lot(session: Session, ref: str) -> Lot:
    """Lock one lot (see :func:`lock_lots`); raises NotFoundError for an unknown lot."""
    lot = get_lot(session, ref)
    return lock_lots(session, [ref]).get(lot.id, lot)


def share_facilities(session: Session, codes: Iterable[str | None]) -> None:
    """Hold the facilities' rows (``FOR SHARE``) and refresh them: a suspension cannot
    commit between the check of their standing and this transaction's end. Unknown codes
    are skipped (the rule that reads them raises the usual error)."""
    wanted = sorted({code.strip().upper() for code in codes if code})
    if not wanted:
        return
    session.scalars(
        select(Facility)
        .where(Facility.code.in_(wanted))
        .order_by(Facility.id)
        .with_for_update(read=True)
        .execution_options(populate_existing=True)
    ).all()
