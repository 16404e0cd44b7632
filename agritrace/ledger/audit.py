"""The full audit: recompute everything the ledger claims from the stored entries.

:func:`audit` streams every entry once, in index order, and checks, stopping at the first
problem it can place:

1. indices are 0, 1, 2, ... with no gap (a deleted row is named by its index);
2. each entry's stored leaf hash is SHA-256(0x00 || content) of its stored bytes;
3. each stored chain hash is SHA-256(previous chain || leaf hash);
4. every stored tree node equals the node recomputed from the leaves, and no extra nodes
   exist (a bad node is named by the first leaf it covers);
5. every stored checkpoint carries a valid signature from a known ledger key, its body
   matches its row, and its root equals the root recomputed at its size (a bad checkpoint
   is named by the first index it newly vouches for: the previous checkpoint's size);
6. the head row's size, root and chain hash equal the recomputed ones.

It returns an :class:`AuditReport` or raises :class:`LedgerCorruptError` whose ``index`` is
the first bad index and whose message says what differs (expected and found, in hex).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from agritrace.db import begin_snapshot
from agritrace.errors import AgritraceError, VerificationError
from agritrace.ledger import merkle
from agritrace.ledger.checkpoint import Checkpoint, NoteVerifier, open_note
from agritrace.ledger.store import ZERO_CHAIN, LedgerCheckpoint, LedgerEntry, LedgerNode, head

__all__ = ["AuditReport", "LedgerCorruptError", "audit"]

AUDIT_CHUNK = 20_000


class LedgerCorruptError(VerificationError):
    """The stored ledger does not verify. Facts: ``index`` (first bad index), ``problem``
    (a stable slug), and where known ``expected`` and ``found`` (hex)."""


@dataclass(frozen=True, slots=True)
class AuditReport:
    size: int
    root_hash: bytes
    chain_hash: bytes
    checkpoints: int
    latest_checkpoint_size: int | None


def _corrupt(index: int, problem: str, message: str, **facts: object) -> LedgerCorruptError:
    return LedgerCorruptError(
        f"ledger entry #{index}: {message}", index=index, problem=problem, **facts
    )


def _check_checkpoints(
    session: Session, verifiers: Sequence[NoteVerifier]
) -> list[tuple[int, bytes, int]]:
    """Signature and body checks; returns (size, root, first index vouched for) in order."""
    targets: list[tuple[int, bytes, int]] = []
    previous = 0
    rows: Iterable[LedgerCheckpoint] = session.scalars(
        select(LedgerCheckpoint).order_by(LedgerCheckpoint.size)
    )
    # In one snapshot no checkpoint can exceed the head (checkpoints cover committed entries
    # only); one that does is a finding, reported as "checkpoint-size" below.
    for row in rows:
        try:
            body, _signers = open_note(row.note.encode("utf-8"), verifiers=verifiers)
            checkpoint = Checkpoint.from_body(body)
        except AgritraceError as exc:
            raise LedgerCorruptError(
                f"ledger entry #{previous}: the checkpoint for size {row.size} does not verify "
                f"({exc})",
                index=previous,
                problem="checkpoint-signature",
                checkpoint_size=row.size,
            ) from exc
        if checkpoint.size != row.size or checkpoint.root_hash != row.root_hash:
            raise LedgerCorruptError(
                f"ledger entry #{previous}: the checkpoint row for size {row.size} differs from "
                f"its signed body (size {checkpoint.size}, root {checkpoint.root_hash.hex()})",
                index=previous,
                problem="checkpoint-row",
                checkpoint_size=row.size,
            )
        targets.append((row.size, row.root_hash, previous))
        previous = row.size
    return targets


def _compare_nodes(session: Session, grown: merkle.AppendResult) -> None:
    conn = session.connection()
    for run in grown.nodes.runs:
        if run.level == 0:
            continue
        last = run.first + len(run.hashes) - 1
        # Fast path: the stored run, read through Core in index order, equals the recomputed
        # one. Only on a difference is the run read again to name the first bad node.
        stored_run = (
            conn.execute(
                select(LedgerNode.hash)
                .where(LedgerNode.level == run.level, LedgerNode.idx.between(run.first, last))
                .order_by(LedgerNode.idx)
            )
            .scalars()
            .all()
        )
        if stored_run == list(run.hashes):
            continue
        rows = session.execute(
            select(LedgerNode.idx, LedgerNode.hash).where(
                LedgerNode.level == run.level, LedgerNode.idx.between(run.first, last)
            )
        )
        stored: dict[int, bytes] = {idx: digest for idx, digest in rows}  # noqa: C416 - rows are Row objects, not pairs, for mypy
        for offset, expected in enumerate(run.hashes):
            node_index = run.first + offset
            found = stored.get(node_index)
            if found != expected:
                first_leaf = node_index << run.level
                what = "is missing" if found is None else f"is {found.hex()}"
                raise _corrupt(
                    first_leaf,
                    "node",
                    f"stored tree node (level {run.level}, index {node_index}) {what}, "
                    f"recomputed {expected.hex()}",
                    expected=expected.hex(),
                    found=found.hex() if found else None,
                )


def _entry_chunks(
    session: Session,
) -> Iterator[Sequence[Row[int, bytes, bytes, bytes]]]:
    # Keyset pages of AUDIT_CHUNK entries through Core: no ORM loading per row, and plain
    # client-side fetches (a server-side cursor on psycopg hands rows over one at a time).
    conn = session.connection()
    start = 0
    while True:
        page = conn.execute(
            select(
                LedgerEntry.idx, LedgerEntry.content, LedgerEntry.leaf_hash, LedgerEntry.chain_hash
            )
            .where(LedgerEntry.idx >= start)
            .order_by(LedgerEntry.idx)
            .limit(AUDIT_CHUNK)
        ).all()
        if not page:
            return
        yield page
        start = page[-1][0] + 1


def audit(
    session: Session,
    *,
    verifiers: Sequence[NoteVerifier],
    progress: Callable[[int], None] | None = None,
) -> AuditReport:
    """Recompute chain, leaves, nodes, checkpoints and head; raise at the first problem.

    Reads one snapshot (:func:`agritrace.db.begin_snapshot`; call audit on a fresh session
    for that), so appends committed meanwhile are neither seen nor mistaken for damage.
    """
    begin_snapshot(session)
    current = head(session)
    targets = _check_checkpoints(session, verifiers)
    size = 0
    frontier: Sequence[bytes] = ()
    chain = ZERO_CHAIN
    sha256 = hashlib.sha256
    target_pos = 0
    pending: list[bytes] = []

    def flush() -> None:
        nonlocal size, frontier, pending
        if not pending:
            return
        grown = merkle.append_leaves(size, frontier, pending)
        _compare_nodes(session, grown)
        size, frontier, pending = grown.size, grown.frontier, []
        if progress is not None:
            progress(size)

    def check_target() -> None:
        nonlocal target_pos
        while target_pos < len(targets) and targets[target_pos][0] == size:
            t_size, t_root, first = targets[target_pos]
            computed = merkle.root_from_frontier(size, frontier)
            if computed != t_root:
                raise _corrupt(
                    first,
                    "checkpoint-root",
                    f"the signed checkpoint for size {t_size} has root {t_root.hex()}, the "
                    f"entries give {computed.hex()}: an entry in #{first}..#{t_size - 1} "
                    "was rewritten",
                    expected=t_root.hex(),
                    found=computed.hex(),
                    checkpoint_size=t_size,
                )
            target_pos += 1

    check_target()  # a checkpoint of the empty tree, if any
    rows = itertools.chain.from_iterable(_entry_chunks(session))
    next_index = 0
    next_target = targets[0][0] if targets else None
    for idx, content, stored_leaf, stored_chain in rows:
        if idx != next_index:
            raise _corrupt(next_index, "missing", f"is missing (the next stored entry is #{idx})")
        leaf = sha256(b"\x00" + content).digest()
        if leaf != stored_leaf:
            raise _corrupt(
                idx,
                "leaf",
                f"content hashes to {leaf.hex()}, stored leaf hash is {stored_leaf.hex()}",
                expected=stored_leaf.hex(),
                found=leaf.hex(),
            )
        chain = sha256(chain + leaf).digest()
        if chain != stored_chain:
            raise _corrupt(
                idx,
                "chain",
                f"chain hash should be {chain.hex()}, stored {stored_chain.hex()}",
                expected=chain.hex(),
                found=stored_chain.hex(),
            )
        pending.append(leaf)
        next_index += 1
        if len(pending) >= AUDIT_CHUNK or next_index == next_target:
            flush()
            check_target()
            next_target = targets[target_pos][0] if target_pos < len(targets) else None
    flush()
    check_target()
    if next_index != current.size:
        raise _corrupt(
            min(next_index, current.size),
            "size",
            f"the head says {current.size} entries, {next_index} are stored",
        )
    if target_pos < len(targets):
        t_size = targets[target_pos][0]
        raise _corrupt(
            targets[target_pos][2],
            "checkpoint-size",
            f"a checkpoint for size {t_size} exists but only {next_index} entries are stored",
        )
    expected_nodes = size - size.bit_count()
    stored_nodes = session.scalar(select(func.count()).select_from(LedgerNode)) or 0
    if stored_nodes != expected_nodes:
        raise _corrupt(
            size,
            "extra-nodes",
            f"{stored_nodes} tree nodes are stored, a tree of {size} entries has {expected_nodes}",
        )
    root = merkle.root_from_frontier(size, frontier)
    if root != current.root_hash or chain != current.chain_hash:
        raise _corrupt(
            max(size - 1, 0),
            "head",
            f"the head row (root {current.root_hash.hex()}, chain {current.chain_hash.hex()}) "
            f"differs from the recomputed root {root.hex()} and chain {chain.hex()}",
        )
    latest = targets[-1][0] if targets else None
    return AuditReport(
        size=size,
        root_hash=root,
        chain_hash=chain,
        checkpoints=len(targets),
        latest_checkpoint_size=latest,
    )
