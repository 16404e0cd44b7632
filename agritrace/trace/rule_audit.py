"""Reads the stored ledger for the business-rule replay (``ledger verify --rules``).

The rules themselves are pure (:mod:`agritrace.trace.invariants`); this module only streams
the entries, in index order and in bounded memory, from the caller's session (begin a
snapshot first, so that the replay and the cryptographic audit read the same state). Sealed
entries are replayed with their private fields restored from their openings, each checked
against its commitment (:func:`agritrace.trace.disclosure.revealed_entries`): quantities and
partners are private, and the rules need them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from sqlalchemy.orm import Session

from agritrace.trace import disclosure, invariants

__all__ = ["check_rules"]

_BATCH = 2_000


def _entries(
    session: Session, progress: Callable[[int], None] | None
) -> Iterator[tuple[int, Mapping[str, Any]]]:
    for index, body in disclosure.revealed_entries(session, batch=_BATCH):
        yield index, body if isinstance(body, dict) else {}
        if progress is not None and index % _BATCH == 0:
            progress(index + 1)


def check_rules(session: Session, *, progress: Callable[[int], None] | None = None) -> None:
    """Replay every stored entry through the business rules; raises
    :class:`~agritrace.trace.invariants.RuleBrokenError` at the first entry breaking one."""
    invariants.replay(_entries(session, progress))
