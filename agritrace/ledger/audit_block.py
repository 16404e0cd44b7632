"""One block of the full audit, checked on its own: what :mod:`agritrace.ledger.audit` hands
to worker processes (or checks in-process, block after block).

A block is the aligned range of entries ``[k * 2**level, min((k + 1) * 2**level, size))``.
Alignment makes it self-contained: every stored tree node of level 1..``level`` whose leaves
lie in the block is computed from the block's leaves alone, and the block's root (when it is
complete) is the stored node ``(level, k)``. :func:`check_block` reads the block's entries
(and the entry before it, whose stored chain hash starts the block's chain) and its nodes,
and checks, in index order:

1. the indices are the block's, with no gap;
2. each stored leaf hash is SHA-256(0x00 || stored content);
3. each stored chain hash is SHA-256(previous stored chain hash || leaf hash). The previous
   block checks the stored chain hash this block starts from, so every link of the chain is
   checked exactly once, and the first bad link is the same one a sequential pass finds;
4. every stored node of level 1..``level`` over the entries that passed 1-3 equals the
   recomputed one.

It returns a :class:`BlockResult` with the first problem (if any), how many entries passed,
the fold of the block's frontier at each checkpoint size inside it (from which the caller
recomputes every checkpoint's root) and at its end. Nothing here trusts or needs another
block's result; :mod:`agritrace.ledger.audit` combines them in index order.

The module reads through a plain DB-API connection (sqlite3 or psycopg, binary results) and
imports neither SQLAlchemy nor the rest of agritrace, so a worker process (:func:`main`,
started and fed by the audit) starts in a tenth of a second. Worker protocol: one JSON job
line on stdin; block numbers as 4-byte big-endian tickets read from an inherited pipe shared
by all workers (the audit writes whole tickets atomically, so a read of 4 bytes takes exactly
one ticket and each ticket goes to one worker); one JSON line per block on stdout, or one
``{"error": ...}`` line and exit status 1.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import sqlite3
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agritrace.ledger import merkle

__all__ = [
    "BlockProblem",
    "BlockReader",
    "BlockResult",
    "SnapshotMismatchError",
    "block_count",
    "check_block",
    "fold",
    "main",
    "show_hash",
    "targets_in_block",
]

# store.ZERO_CHAIN; restated so that this module needs no SQLAlchemy.
_ZERO_CHAIN = bytes(32)
_LEAF_PREFIX = b"\x00"
_TICKET_BYTES = 4

_SQL_ENTRIES = (
    "SELECT idx, content, leaf_hash, chain_hash FROM ledger_entry"
    " WHERE idx >= ? AND idx < ? ORDER BY idx"
)
_SQL_NODE_HASHES = (
    "SELECT hash FROM ledger_node WHERE level = ? AND idx >= ? AND idx < ? ORDER BY idx"
)
_SQL_NODE_ROWS = "SELECT idx, hash FROM ledger_node WHERE level = ? AND idx >= ? AND idx < ?"
_SQL_HEAD_SIZE = "SELECT size FROM ledger_head WHERE id = 1"


class SnapshotMismatchError(Exception):
    """A worker's view of the ledger is not the one the audit pinned (its head is smaller)."""


@dataclass(frozen=True, slots=True)
class BlockProblem:
    """The first thing wrong in a block, as :class:`~agritrace.ledger.audit.LedgerCorruptError`
    will name it: ``index`` (first bad index), ``problem`` (``missing``, ``leaf``, ``chain`` or
    ``node``), ``message`` (without the ``ledger entry #N:`` prefix), ``expected``/``found``
    (hex) where known, and for ``missing`` the next index stored in the block (``None`` when
    the block's rows ran out, so the caller looks further)."""

    index: int
    problem: str
    message: str
    expected: str | None = None
    found: str | None = None
    next_stored: int | None = None


@dataclass(frozen=True, slots=True)
class BlockResult:
    """What :func:`check_block` found in block ``block``.

    ``verified`` entries from the block's first index passed checks 1-3 (all of the block's
    when ``problem`` is None). ``tail`` is the fold of the frontier of those entries (the
    block's root when the block is complete; ``None`` when none passed), and ``at_targets``
    maps each asked-for checkpoint size inside the verified part to the fold of the block's
    frontier at that size. ``last_chain`` is the last verified stored chain hash. A tree root
    at size ``s`` is then ``fold(frontier of the blocks before, at_targets[s])``.
    """

    block: int
    verified: int
    tail: bytes | None
    last_chain: bytes | None
    at_targets: Mapping[int, bytes] = field(default_factory=dict)
    problem: BlockProblem | None = None

    def to_json(self) -> str:
        """One line of JSON; :meth:`from_json` reads it back to an equal result."""
        return json.dumps(
            {
                "block": self.block,
                "verified": self.verified,
                "tail": _hex(self.tail),
                "last_chain": _hex(self.last_chain),
                "at_targets": [[size, digest.hex()] for size, digest in self.at_targets.items()],
                "problem": None
                if self.problem is None
                else {
                    "index": self.problem.index,
                    "problem": self.problem.problem,
                    "message": self.problem.message,
                    "expected": self.problem.expected,
                    "found": self.problem.found,
                    "next_stored": self.problem.next_stored,
                },
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> BlockResult:
        """Read :meth:`to_json` output. Raises ValueError (or KeyError, TypeError) for
        anything else: it comes from our own worker, never from a user."""
        data = json.loads(text)
        problem = data["problem"]
        return cls(
            block=int(data["block"]),
            verified=int(data["verified"]),
            tail=_unhex(data["tail"]),
            last_chain=_unhex(data["last_chain"]),
            at_targets={int(size): bytes.fromhex(digest) for size, digest in data["at_targets"]},
            problem=None
            if problem is None
            else BlockProblem(
                index=int(problem["index"]),
                problem=str(problem["problem"]),
                message=str(problem["message"]),
                expected=problem["expected"],
                found=problem["found"],
                next_stored=problem["next_stored"],
            ),
        )


def _hex(value: bytes | None) -> str | None:
    return None if value is None else value.hex()


def _unhex(value: str | None) -> bytes | None:
    return None if value is None else bytes.fromhex(value)


def fold(frontier: Sequence[bytes]) -> bytes:
    """The RFC 9162 root over consecutive perfect subtrees given largest first (they nest to
    the right), or over a prefix of them followed by the fold of the rest."""
    result = frontier[-1]
    for left in reversed(frontier[:-1]):
        result = merkle.node_hash(left, result)
    return result


def block_count(size: int, level: int) -> int:
    """How many blocks of ``2**level`` entries a ledger of ``size`` entries has."""
    return (size + (1 << level) - 1) >> level


def targets_in_block(targets: Iterable[int], block: int, level: int) -> list[int]:
    """The checkpoint sizes a block vouches for: ``first < size <= end`` (a size on a block
    boundary belongs to the block that ends there)."""
    first = block << level
    end = first + (1 << level)
    return [size for size in targets if first < size <= end]


class BlockReader:
    """Reads a block's rows through a DB-API connection of sqlite3 or psycopg 3, inside
    whatever transaction the connection has open (psycopg: binary results, which halve the
    transfer of hashes and contents)."""

    def __init__(self, connection: Any, *, postgres: bool) -> None:
        self._connection = connection
        self._postgres = postgres

    def _rows(self, sql: str, params: tuple[int, ...]) -> list[Any]:
        cursor = self._connection.cursor()
        try:
            if self._postgres:
                cursor.execute(sql.replace("?", "%s"), params, binary=True)
            else:
                cursor.execute(sql, params)
            rows: list[Any] = cursor.fetchall()
        finally:
            cursor.close()
        return rows

    def entries(self, first: int, end: int) -> list[tuple[int, bytes, bytes, bytes]]:
        """(idx, content, leaf_hash, chain_hash) with ``first <= idx < end``, by index."""
        return self._rows(_SQL_ENTRIES, (first, end))

    def node_hashes(self, level: int, first: int, end: int) -> list[bytes]:
        """Stored hashes of nodes ``(level, first..end-1)`` that exist, by index."""
        return [row[0] for row in self._rows(_SQL_NODE_HASHES, (level, first, end))]

    def nodes(self, level: int, first: int, end: int) -> dict[int, bytes]:
        """Stored nodes ``(level, first..end-1)`` that exist, by index."""
        return dict(self._rows(_SQL_NODE_ROWS, (level, first, end)))

    def head_size(self) -> int:
        rows = self._rows(_SQL_HEAD_SIZE, ())
        if not rows:
            raise SnapshotMismatchError("the ledger head row is missing")
        return int(rows[0][0])


def _first_difference(ours: Sequence[object], theirs: Sequence[object]) -> int | None:
    if ours == theirs:
        return None
    return next(
        (i for i, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b),
        min(len(ours), len(theirs)),
    )


def check_block(
    reader: BlockReader, *, block: int, level: int, size: int, targets: Sequence[int]
) -> BlockResult:
    """Check block ``block`` of a ledger of ``size`` entries (blocks of ``2**level``).

    ``targets`` are the checkpoint sizes inside the block (see :func:`targets_in_block`).
    Returns the result; a problem in the data is a result, never an exception. Database
    errors propagate.
    """
    first = block << level
    end = min(first + (1 << level), size)
    rows = reader.entries(max(first - 1, 0), end)
    if first > 0:
        if not rows or rows[0][0] != first - 1:
            # The previous block reports this missing entry too (and anything before it).
            following = rows[0][0] if rows else None
            return BlockResult(
                block=block,
                verified=0,
                tail=None,
                last_chain=None,
                problem=_missing(first - 1, following),
            )
        previous_chain = rows[0][3]
        if not isinstance(previous_chain, bytes):
            # The previous block reports this forged link too (and anything before it).
            return BlockResult(
                block=block,
                verified=0,
                tail=None,
                last_chain=None,
                problem=BlockProblem(
                    index=first - 1, problem="chain", message="the stored chain hash is forged"
                ),
            )
        rows = rows[1:]
    else:
        previous_chain = _ZERO_CHAIN
    if rows:
        indices, contents, stored_leaves, chains = (
            list(column) for column in zip(*rows, strict=True)
        )
    else:
        indices, contents, stored_leaves, chains = [], [], [], []

    # 1. indices: the first position whose index is not the expected one, if any
    wanted = end - first
    gap = _first_difference(indices, list(range(first, first + len(indices))))
    if gap is None and len(indices) < wanted:
        gap = len(indices)
    limit = wanted if gap is None else gap
    # 2. leaf hashes, and 3. chain links (each from the stored previous link: see the module)
    not_bytes: int | None = None
    try:
        leaves, links = _hash(previous_chain, contents[:limit], chains[:limit])
    except TypeError:
        # SQLite keeps a value of any type in any column: a forged one may not be bytes.
        not_bytes = next(
            i
            for i in range(limit)
            if type(contents[i]) is not bytes or type(chains[i]) is not bytes
        )
        limit = not_bytes
        leaves, links = _hash(previous_chain, contents[:limit], chains[:limit])
    bad_leaf = _first_difference(leaves, stored_leaves[:limit])
    bad_link = _first_difference(links, chains[:limit])

    # The first problem in index order; at one index a bad leaf is named before its link.
    problem: BlockProblem | None = None
    verified = limit
    if bad_leaf is not None and (bad_link is None or bad_leaf <= bad_link):
        verified = bad_leaf
        problem = BlockProblem(
            index=first + bad_leaf,
            problem="leaf",
            message=f"content hashes to {leaves[bad_leaf].hex()}, stored leaf hash is "
            f"{show_hash(stored_leaves[bad_leaf])}",
            expected=show_hash(stored_leaves[bad_leaf]),
            found=leaves[bad_leaf].hex(),
        )
    elif bad_link is not None:
        verified = bad_link
        problem = BlockProblem(
            index=first + bad_link,
            problem="chain",
            message=f"chain hash should be {links[bad_link].hex()}, "
            f"stored {show_hash(chains[bad_link])}",
            expected=links[bad_link].hex(),
            found=show_hash(chains[bad_link]),
        )
    elif not_bytes is not None:
        what = "content" if type(contents[not_bytes]) is not bytes else "chain hash"
        problem = BlockProblem(
            index=first + not_bytes,
            problem="leaf" if what == "content" else "chain",
            message=f"the stored {what} is not a byte string",
        )
    elif gap is not None:
        following = indices[gap] if gap < len(indices) else None
        problem = _missing(first + gap, following)

    # 4. the block's stored nodes over the verified entries
    levels = _levels(leaves[:verified])
    node_problem = _compare_nodes(reader, levels, first)
    if node_problem is not None:
        problem = node_problem
    return BlockResult(
        block=block,
        verified=verified,
        tail=_frontier_fold(levels, verified) if verified else None,
        last_chain=chains[verified - 1] if verified else None,
        at_targets={
            target: _frontier_fold(levels, target - first)
            for target in targets
            if first < target <= first + verified
        },
        problem=problem,
    )


def _hash(
    previous_chain: bytes, contents: Sequence[bytes], chains: Sequence[bytes]
) -> tuple[list[bytes], list[bytes]]:
    """The leaf hashes of ``contents`` and the links ``SHA-256(chain before || leaf)``, where
    the chain before entry i is the stored one (``chains[i - 1]``, or ``previous_chain``)."""
    sha256 = hashlib.sha256
    leaves = [sha256(_LEAF_PREFIX + content).digest() for content in contents]
    befores = [previous_chain, *chains[: len(contents) - 1]] if contents else []
    links = [sha256(before + leaf).digest() for before, leaf in zip(befores, leaves, strict=True)]
    return leaves, links


def show_hash(value: object) -> str:
    """A stored hash in hex for a message; anything else (SQLite keeps a forged value of any
    type in any column) by its type."""
    return value.hex() if isinstance(value, bytes) else f"a value of type {type(value).__name__}"


def _missing(index: int, following: int | None) -> BlockProblem:
    message = (
        "is missing" if following is None else f"is missing (the next stored entry is #{following})"
    )
    return BlockProblem(index=index, problem="missing", message=message, next_stored=following)


def _levels(leaves: list[bytes]) -> list[Sequence[bytes]]:
    # Every perfect subtree over the leaves, by level (level 0 is the leaves themselves).
    if not leaves:
        return []
    grown = merkle.append_leaves(0, (), leaves)
    return [run.hashes for run in grown.nodes.runs]


def _frontier_fold(levels: Sequence[Sequence[bytes]], count: int) -> bytes:
    # The fold of the frontier of the first `count` (> 0) leaves: one perfect subtree per
    # set bit of `count`, largest first.
    pieces: list[bytes] = []
    position = 0
    for level in range(count.bit_length() - 1, -1, -1):
        if count >> level & 1:
            pieces.append(levels[level][position >> level])
            position += 1 << level
    return fold(pieces)


def _compare_nodes(
    reader: BlockReader, levels: Sequence[Sequence[bytes]], first: int
) -> BlockProblem | None:
    """The stored node covering the lowest index that differs from ours (``None`` if all
    equal). Fast path: one ordered read of hashes per level, compared as lists."""
    worst: BlockProblem | None = None
    for level in range(1, len(levels)):
        ours = levels[level]
        low = first >> level
        if reader.node_hashes(level, low, low + len(ours)) == list(ours):
            continue  # as many rows as nodes in the range, each equal: all present and right
        stored = reader.nodes(level, low, low + len(ours))
        for offset, expected in enumerate(ours):
            found = stored.get(low + offset)
            if found == expected:
                continue
            index = (low + offset) << level
            if worst is None or index < worst.index:
                what = "is missing" if found is None else f"is {show_hash(found)}"
                worst = BlockProblem(
                    index=index,
                    problem="node",
                    message=f"stored tree node (level {level}, index {low + offset}) {what}, "
                    f"recomputed {expected.hex()}",
                    expected=expected.hex(),
                    found=None if found is None else show_hash(found),
                )
            break
    return worst


# --- the worker process ----------------------------------------------------------------------


def _connect(job: Mapping[str, Any]) -> tuple[Any, BlockReader]:
    """Open the job's database in one read transaction that sees the audit's state."""
    if job["dialect"] == "sqlite":
        return _connect_sqlite(job)
    return _connect_postgres(job)


def _connect_sqlite(job: Mapping[str, Any]) -> tuple[Any, BlockReader]:
    connection = sqlite3.connect(str(job["database"]), isolation_level=None)
    connection.execute(f"PRAGMA busy_timeout = {int(job['busy_timeout_ms'])}")
    connection.execute("PRAGMA query_only = ON")
    connection.execute("BEGIN")
    reader = BlockReader(connection, postgres=False)
    # The log only grows, so any later state holds the same rows below the audited size; an
    # older one (without the auditing transaction's own appends, not yet committed) does not.
    if reader.head_size() < int(job["size"]):
        raise SnapshotMismatchError("this worker sees fewer entries than the audit")
    return connection, reader


def _connect_postgres(job: Mapping[str, Any]) -> tuple[Any, BlockReader]:
    import psycopg  # only PostgreSQL workers pay for importing it
    from psycopg import sql

    connection = psycopg.connect(**job["connect"])
    connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    connection.read_only = True
    # Import the auditing transaction's exported snapshot: exactly the state it reads.
    connection.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(job["snapshot"])))
    reader = BlockReader(connection, postgres=True)
    if reader.head_size() != int(job["size"]):
        raise SnapshotMismatchError("this worker's snapshot differs from the audit's")
    return connection, reader


def main() -> int:
    """Run one worker: the job on stdin, tickets from the inherited pipe, results on stdout."""
    out = sys.stdout
    # A block's rows are some 65,000 tuples; the cyclic collector would walk them again and
    # again (about a tenth of the work) though nothing here makes a cycle.
    gc.disable()
    try:
        job = json.loads(sys.stdin.readline())
        connection, reader = _connect(job)
        level, size = int(job["level"]), int(job["size"])
        targets = [int(t) for t in job["targets"]]
        with os.fdopen(int(job["tickets_fd"]), "rb", buffering=0) as tickets:
            while len(ticket := tickets.read(_TICKET_BYTES)) == _TICKET_BYTES:
                block = int.from_bytes(ticket, "big")
                result = check_block(
                    reader,
                    block=block,
                    level=level,
                    size=size,
                    targets=targets_in_block(targets, block, level),
                )
                out.write(result.to_json() + "\n")
                out.flush()
        connection.close()
    except SnapshotMismatchError as exc:
        out.write(json.dumps({"error": str(exc), "snapshot": True}) + "\n")
        return 1
    except Exception as exc:  # reported to the auditing process, which raises it there
        first_line = (str(exc).strip().splitlines() or [""])[0]
        out.write(json.dumps({"error": f"{type(exc).__name__}: {first_line}"}) + "\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
