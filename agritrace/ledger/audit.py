"""The full audit: recompute everything the ledger claims from the stored entries.

:func:`audit` reads every entry and every stored node once, in one consistent snapshot, and
checks, reporting the first problem in index order:

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

Checks 1-4 run per aligned block of entries (:mod:`agritrace.ledger.audit_block`): each block
is checked on its own, and this module combines the results in index order (checkpoint roots,
the nodes above the blocks, the head). A large ledger's blocks are checked by worker
processes, one per core, that read the auditing transaction's own snapshot (PostgreSQL: an
exported snapshot; SQLite: a read transaction over rows below the pinned size, which an
append-only log never changes). Whatever the number of processes, the report is the same
(docs/adr/0002-ledger.md, "Parallel audit").
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from select import PIPE_BUF
from typing import IO, Any

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from agritrace.db import SQLITE_BUSY_TIMEOUT_MS, begin_snapshot, sqlite_path
from agritrace.errors import (
    AgritraceError,
    InvalidInputError,
    StorageUnavailableError,
    VerificationError,
)
from agritrace.ledger import merkle
from agritrace.ledger.audit_block import (
    BlockProblem,
    BlockReader,
    BlockResult,
    block_count,
    check_block,
    fold,
    show_hash,
    targets_in_block,
)
from agritrace.ledger.checkpoint import Checkpoint, NoteVerifier, open_note
from agritrace.ledger.store import (
    ZERO_CHAIN,
    Head,
    LedgerCheckpoint,
    LedgerEntry,
    LedgerNode,
    head,
)

__all__ = [
    "AUDIT_BLOCK_LEVEL",
    "AUDIT_MAX_WORKERS",
    "AUDIT_PARALLEL_MIN_ENTRIES",
    "PROBLEMS",
    "AuditReport",
    "LedgerCorruptError",
    "audit",
]

#: Blocks of 2**16 entries: about 20 MB of rows in memory per process at a time, and a
#: 1,000,000-entry ledger splits into 16 blocks that two or more processes share evenly.
AUDIT_BLOCK_LEVEL = 16
#: Below this size one process audits in well under a second: starting workers would not pay.
AUDIT_PARALLEL_MIN_ENTRIES = 100_000
#: More processes than this would mostly wait on the database.
AUDIT_MAX_WORKERS = 8
# More blocks than this makes the blocks bigger instead (at 2**16 entries each, 2**29 entries).
_MAX_BLOCKS = 8_192
_TICKET_BYTES = 4
# A worker runs this very copy of agritrace, wherever it was imported from (an installed
# package, a checkout, a path a server added at run time).
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
_WORKER_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from agritrace.ledger.audit_block import main; raise SystemExit(main())"
)


#: The stable slugs of :class:`LedgerCorruptError`'s ``problem`` fact, in the order of the
#: checks above: pages say each in the reader's language, the message adds the hashes.
PROBLEMS = (
    "missing",  # an index has no stored entry
    "leaf",  # a stored leaf hash is not the hash of the stored content
    "chain",  # a stored chain hash is not SHA-256(previous chain || leaf hash)
    "node",  # a stored tree node is missing or differs from the recomputed one
    "extra-nodes",  # tree nodes are stored beyond what the tree has
    "checkpoint-signature",  # no valid signature from a known ledger key
    "checkpoint-row",  # a checkpoint row differs from its signed body
    "checkpoint-root",  # a signed root differs from the recomputed root at its size
    "checkpoint-size",  # a checkpoint is over more entries than are stored
    "size",  # entries are stored beyond (or short of) the head's size
    "head",  # the head row's root or chain hash differs from the recomputed ones
)


class LedgerCorruptError(VerificationError):
    """The stored ledger does not verify. Facts: ``index`` (first bad index), ``problem``
    (one of :data:`PROBLEMS`), and where known ``expected`` and ``found`` (hex)."""


@dataclass(frozen=True, slots=True)
class AuditReport:
    """An intact ledger: its size, root and chain hash, the checkpoints verified, and how many
    processes checked its entries (1: this one alone)."""

    size: int
    root_hash: bytes
    chain_hash: bytes
    checkpoints: int
    latest_checkpoint_size: int | None
    workers: int = 1


def _corrupt(index: int, problem: str, message: str, **facts: object) -> LedgerCorruptError:
    return LedgerCorruptError(
        f"ledger entry #{index}: {message}", index=index, problem=problem, **facts
    )


def _checkpoint_rows(session: Session) -> list[tuple[int, bytes, str]]:
    rows = session.execute(
        select(LedgerCheckpoint.size, LedgerCheckpoint.root_hash, LedgerCheckpoint.note).order_by(
            LedgerCheckpoint.size
        )
    )
    return [(size, root, note) for size, root, note in rows]


def _check_checkpoints(
    rows: Sequence[tuple[int, bytes, str]], verifiers: Sequence[NoteVerifier]
) -> list[tuple[int, bytes, int]]:
    """Signature and body checks; returns (size, root, first index vouched for) in order."""
    targets: list[tuple[int, bytes, int]] = []
    previous = 0
    # In one snapshot no checkpoint can exceed the head (checkpoints cover committed entries
    # only); one that does is a finding, reported as "checkpoint-size" by the audit.
    for size, root, note in rows:
        try:
            body, _signers = open_note(note.encode("utf-8"), verifiers=verifiers)
            checkpoint = Checkpoint.from_body(body)
        except AgritraceError as exc:
            raise LedgerCorruptError(
                f"ledger entry #{previous}: the checkpoint for size {size} does not verify ({exc})",
                index=previous,
                problem="checkpoint-signature",
                checkpoint_size=size,
            ) from exc
        if checkpoint.size != size or checkpoint.root_hash != root:
            raise LedgerCorruptError(
                f"ledger entry #{previous}: the checkpoint row for size {size} differs from "
                f"its signed body (size {checkpoint.size}, root {checkpoint.root_hash.hex()})",
                index=previous,
                problem="checkpoint-row",
                checkpoint_size=size,
            )
        targets.append((size, root, previous))
        previous = size
    return targets


def _block_level(size: int) -> int:
    level = AUDIT_BLOCK_LEVEL
    while block_count(size, level) > _MAX_BLOCKS:
        level += 1
    return level


def _worker_count(workers: int | None, size: int, blocks: int) -> int:
    if workers is None:
        if size < AUDIT_PARALLEL_MIN_ENTRIES:
            return 1
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            cores = os.cpu_count() or 1
        workers = min(cores, AUDIT_MAX_WORKERS)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InvalidInputError(f"the audit needs at least one worker, not {workers!r}")
    return min(workers, blocks)


def _worker_job(session: Session, *, size: int, level: int, targets: list[int]) -> dict[str, Any]:
    """What a worker process needs to read the session's snapshot, or an empty dict when
    other processes cannot read it (then the audit runs in this process)."""
    bind = session.get_bind()
    if not isinstance(bind, Engine):
        # Joined to a caller's connection (as in tests): its transaction may hold rows that
        # no other process can see.
        return {}
    job: dict[str, Any] = {"size": size, "level": level, "targets": targets}
    if bind.dialect.name == "sqlite":
        path = sqlite_path(bind)
        if path is None:
            return {}
        job.update(
            dialect="sqlite",
            database=str(path.resolve()),
            busy_timeout_ms=SQLITE_BUSY_TIMEOUT_MS,
        )
        return job
    if bind.dialect.name != "postgresql":
        return {}
    isolation, own_xid = session.execute(
        text("SELECT current_setting('transaction_isolation'), pg_current_xact_id_if_assigned()")
    ).one()
    if isolation != "repeatable read" or own_xid is not None:
        # Statements here could see newer rows than an exported snapshot, or rows this
        # transaction wrote that the workers cannot see.
        return {}
    _args, params = bind.dialect.create_connect_args(bind.url)
    job.update(
        dialect="postgresql",
        snapshot=session.scalar(text("SELECT pg_export_snapshot()")),
        connect={
            name: value for name, value in params.items() if isinstance(value, str | int | float)
        },
    )
    return job


class _Blocks:
    """Block results by block number: from worker processes when started, else checked here.

    Results arrive in any order; :meth:`get` waits for the one asked for and reports
    progress (entries checked so far, in any order) as results come in.
    """

    def __init__(
        self,
        reader: BlockReader,
        *,
        size: int,
        level: int,
        targets: Sequence[int],
        progress: Callable[[int], None] | None,
    ) -> None:
        self._reader = reader
        self._size, self._level, self._targets = size, level, targets
        self._progress = progress
        self._results: dict[int, BlockResult] = {}
        self._checked = 0
        self._procs: list[subprocess.Popen[str]] = []
        self._threads: list[threading.Thread] = []
        self._lines: queue.Queue[tuple[int, str | None]] = queue.Queue()
        self._open = 0
        self.workers = 1

    # -- worker processes

    def start(self, job: dict[str, Any], count: int) -> None:
        """Start ``count`` workers on every block; on failure to start, check blocks here."""
        blocks = block_count(self._size, self._level)
        read_fd, write_fd = os.pipe()
        tickets = b"".join(block.to_bytes(_TICKET_BYTES, "big") for block in range(blocks))
        try:
            for _ in range(count):
                proc = subprocess.Popen(  # noqa: S603 - this interpreter, our own code, no shell
                    [sys.executable, "-c", _WORKER_BOOT, _PACKAGE_ROOT],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    pass_fds=(read_fd,),
                    text=True,
                )
                self._procs.append(proc)
                if proc.stdin is None or proc.stdout is None:  # never: both are pipes
                    raise OSError("a worker was started without its pipes")
                self._follow(len(self._procs) - 1, proc.stdout)
                proc.stdin.write(json.dumps({**job, "tickets_fd": read_fd}) + "\n")
                proc.stdin.close()
        except OSError:
            self.close()
            os.close(write_fd)
            return
        finally:
            os.close(read_fd)
        self.workers = count
        # The tickets may not fit the pipe's buffer: write them while the workers read.
        writer = threading.Thread(
            target=_write_tickets, args=(write_fd, tickets), name="audit-tickets", daemon=True
        )
        writer.start()
        self._threads.append(writer)

    def _follow(self, number: int, stdout: IO[str]) -> None:
        reader = threading.Thread(
            target=_read_lines,
            args=(number, stdout, self._lines),
            name=f"audit-worker-{number}",
            daemon=True,
        )
        reader.start()
        self._threads.append(reader)
        self._open += 1

    def _receive(self) -> None:
        _number, line = self._lines.get()
        if line is None:
            self._open -= 1
            return
        if line.startswith('{"error"'):
            report = json.loads(line)
            if report.get("snapshot"):
                # This worker cannot see the audited state (the auditing transaction's own
                # appends, not yet committed): check the remaining blocks here instead.
                self._stop_workers()
                return
            raise StorageUnavailableError(f"an audit worker failed: {report['error']}")
        self._add(BlockResult.from_json(line))

    def _add(self, result: BlockResult) -> None:
        self._results[result.block] = result
        self._checked += result.verified
        if self._progress is not None:
            self._progress(self._checked)

    def get(self, block: int) -> BlockResult:
        while block not in self._results:
            if self._open:
                self._receive()
            elif self._procs:
                codes = ", ".join(str(code) for code in sorted({p.wait() for p in self._procs}))
                raise StorageUnavailableError(
                    f"the audit workers stopped before checking block {block} (exit {codes})"
                )
            else:
                self._add(
                    check_block(
                        self._reader,
                        block=block,
                        level=self._level,
                        size=self._size,
                        targets=targets_in_block(self._targets, block, self._level),
                    )
                )
        return self._results[block]

    def _stop_workers(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()
        for proc in self._procs:
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        self._procs = []
        self._open = 0
        self.workers = 1

    def close(self) -> None:
        self._stop_workers()
        for thread in self._threads:
            thread.join(timeout=5)


def _write_tickets(fd: int, tickets: bytes) -> None:
    # Writes of at most PIPE_BUF bytes are atomic, and these hold whole tickets: the pipe never
    # holds part of a ticket, so each worker's read of one ticket takes a whole one.
    chunk = PIPE_BUF - PIPE_BUF % _TICKET_BYTES
    try:
        for start in range(0, len(tickets), chunk):
            os.write(fd, tickets[start : start + chunk])
    except OSError:  # every worker has gone: nobody needs the rest
        pass
    finally:
        os.close(fd)


def _read_lines(number: int, stream: IO[str], lines: queue.Queue[tuple[int, str | None]]) -> None:
    try:
        for line in stream:
            lines.put((number, line))
    except (OSError, ValueError):  # closed by _stop_workers
        pass
    finally:
        lines.put((number, None))


def _in_process_reader(session: Session) -> BlockReader:
    connection = session.connection()
    return BlockReader(
        connection.connection.driver_connection,
        postgres=connection.dialect.name == "postgresql",
    )


def _upper_nodes(session: Session, level: int) -> dict[merkle.NodeId, bytes]:
    """Every stored node above the blocks' level (about size / 2**level of them)."""
    rows = session.execute(
        select(LedgerNode.level, LedgerNode.idx, LedgerNode.hash).where(LedgerNode.level > level)
    )
    return {(node_level, idx): digest for node_level, idx, digest in rows}


def _compare_upper(
    grown: merkle.AppendResult, level: int, stored: dict[merkle.NodeId, bytes]
) -> None:
    # `grown` is a tree whose leaves are the roots of whole blocks: its level j is the
    # ledger's level `level + j` (its level 0 is each block's root, checked by the block).
    for run in grown.nodes.runs[1:]:
        node_level = level + run.level
        for offset, expected in enumerate(run.hashes):
            node_index = run.first + offset
            found = stored.get((node_level, node_index))
            if found != expected:
                what = "is missing" if found is None else f"is {show_hash(found)}"
                raise _corrupt(
                    node_index << node_level,
                    "node",
                    f"stored tree node (level {node_level}, index {node_index}) {what}, "
                    f"recomputed {expected.hex()}",
                    expected=expected.hex(),
                    found=None if found is None else show_hash(found),
                )


def _block_error(session: Session, size: int, problem: BlockProblem) -> LedgerCorruptError:
    if problem.problem == "missing" and problem.next_stored is None:
        # The block's rows ran out: is anything stored further on?
        following = session.scalar(
            select(func.min(LedgerEntry.idx)).where(LedgerEntry.idx > problem.index)
        )
        if following is None:
            return _corrupt(
                problem.index, "size", f"the head says {size} entries, {problem.index} are stored"
            )
        return _corrupt(
            problem.index, "missing", f"is missing (the next stored entry is #{following})"
        )
    facts: dict[str, object] = {}
    if problem.problem in ("leaf", "chain", "node"):
        facts = {"expected": problem.expected, "found": problem.found}
    return _corrupt(problem.index, problem.problem, problem.message, **facts)


def _combine(
    session: Session,
    blocks: _Blocks,
    *,
    current: Head,
    level: int,
    checkpoints: Sequence[tuple[int, bytes, str]],
    verifiers: Sequence[NoteVerifier],
) -> AuditReport:
    """Check what spans blocks, taking the blocks' results in index order."""
    size = current.size
    targets = _check_checkpoints(checkpoints, verifiers)
    lowest, highest = session.execute(
        select(func.min(LedgerEntry.idx), func.max(LedgerEntry.idx))
    ).one()
    if lowest is not None and lowest < 0:
        raise _corrupt(0, "missing", f"is missing (the next stored entry is #{lowest})")
    upper = _upper_nodes(session, level)
    position = 0  # the next checkpoint to check
    while position < len(targets) and targets[position][0] == 0:
        if targets[position][1] != merkle.EMPTY_ROOT:
            raise _corrupt(
                0,
                "checkpoint-root",
                f"the signed checkpoint for size 0 has root {targets[position][1].hex()}, "
                f"not the empty tree's {merkle.EMPTY_ROOT.hex()}",
                expected=targets[position][1].hex(),
                found=merkle.EMPTY_ROOT.hex(),
                checkpoint_size=0,
            )
        position += 1
    # The frontier of the whole blocks so far: perfect subtrees of `level` and above.
    whole, frontier = 0, tuple[bytes, ...]()
    root, chain = merkle.EMPTY_ROOT, ZERO_CHAIN
    for block in range(block_count(size, level)):
        result = blocks.get(block)
        first = block << level
        while position < len(targets) and targets[position][0] <= first + result.verified:
            t_size, t_root, vouched = targets[position]
            computed = fold([*frontier, result.at_targets[t_size]])
            if computed != t_root:
                raise _corrupt(
                    vouched,
                    "checkpoint-root",
                    f"the signed checkpoint for size {t_size} has root {t_root.hex()}, the "
                    f"entries give {computed.hex()}: an entry in #{vouched}..#{t_size - 1} "
                    "was rewritten",
                    expected=t_root.hex(),
                    found=computed.hex(),
                    checkpoint_size=t_size,
                )
            position += 1
        if result.problem is not None:
            raise _block_error(session, size, result.problem)
        if result.tail is None or result.last_chain is None:  # never: it holds an entry
            raise StorageUnavailableError(f"the audit of block {block} came back empty")
        chain = result.last_chain
        if result.verified == 1 << level:
            grown = merkle.append_leaves(whole, frontier, [result.tail])
            _compare_upper(grown, level, upper)
            whole, frontier = grown.size, grown.frontier
            root = grown.root
        else:  # the last block, not yet complete
            root = fold([*frontier, result.tail])
    if highest is not None and highest >= size:
        raise _corrupt(
            size, "size", f"the head says {size} entries, entry #{highest} is stored too"
        )
    if position < len(targets):
        t_size = targets[position][0]
        raise _corrupt(
            targets[position][2],
            "checkpoint-size",
            f"a checkpoint for size {t_size} exists but only {size} entries are stored",
        )
    expected_nodes = size - size.bit_count()
    stored_nodes = session.scalar(select(func.count()).select_from(LedgerNode)) or 0
    if stored_nodes != expected_nodes:
        raise _corrupt(
            size,
            "extra-nodes",
            f"{stored_nodes} tree nodes are stored, a tree of {size} entries has {expected_nodes}",
        )
    if root != current.root_hash or chain != current.chain_hash:
        raise _corrupt(
            max(size - 1, 0),
            "head",
            f"the head row (root {current.root_hash.hex()}, chain {current.chain_hash.hex()}) "
            f"differs from the recomputed root {root.hex()} and chain {chain.hex()}",
        )
    return AuditReport(
        size=size,
        root_hash=root,
        chain_hash=chain,
        checkpoints=len(targets),
        latest_checkpoint_size=targets[-1][0] if targets else None,
        workers=blocks.workers,
    )


def audit(
    session: Session,
    *,
    verifiers: Sequence[NoteVerifier],
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> AuditReport:
    """Recompute chain, leaves, nodes, checkpoints and head; raise at the first problem.

    Reads one snapshot (:func:`agritrace.db.begin_snapshot`; call audit on a fresh session
    for that), so appends committed meanwhile are neither seen nor mistaken for damage.
    ``progress`` is called with the number of entries checked so far, from this thread.
    ``workers``: processes to check the entries with; by default one per core (at most
    :data:`AUDIT_MAX_WORKERS`) from :data:`AUDIT_PARALLEL_MIN_ENTRIES` entries on, else one.
    The audit runs in this process alone when the session's state is not readable by other
    processes (a session joined to a caller's transaction, an in-memory database, a
    PostgreSQL transaction that has written or is not REPEATABLE READ). Raises
    LedgerCorruptError for a finding, StorageUnavailableError if a worker fails.
    """
    begin_snapshot(session)
    current = head(session)
    size = current.size
    level = _block_level(size)
    rows = _checkpoint_rows(session)
    sizes = [row[0] for row in rows]
    count = _worker_count(workers, size, block_count(size, level))
    blocks = _Blocks(
        _in_process_reader(session), size=size, level=level, targets=sizes, progress=progress
    )
    try:
        if count > 1 and (job := _worker_job(session, size=size, level=level, targets=sizes)):
            blocks.start(job, count)
        return _combine(
            session, blocks, current=current, level=level, checkpoints=rows, verifiers=verifiers
        )
    finally:
        blocks.close()
