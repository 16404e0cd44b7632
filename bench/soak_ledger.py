"""Ledger soak test: ``python -m bench.soak_ledger [--kills N] [--backend sqlite|postgres]``.

The long version of the SIGKILL test in ``tests/ledger/test_reliability.py``. Again and again
it starts a writer process (``python -m tests.ledger.writer``, which prints ``ack FIRST LAST``
after each committed batch), reads a few acknowledgements, waits a random moment so that the
kill lands anywhere in the next batch (hashing, waiting for the lock, inserting, committing),
and kills it with SIGKILL. Every so often it signs a checkpoint between two kills.

At the end it checks that:

- the stored indices are exactly 0, 1, ..., n - 1 (no gap, no duplicate index);
- every acknowledged entry is stored, and no entry is stored twice;
- the full audit passes: chain, leaves, tree nodes, head, and every checkpoint signed during
  the run (so no kill left a state that a later append contradicted).

Prints one summary table and the machine line; exit status 0 when every check passed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, select

from agritrace.db import make_engine, make_sessionmaker
from agritrace.errors import AgritraceError
from agritrace.ledger import store
from agritrace.ledger.audit import audit
from agritrace.ledger.checkpoint import NoteVerifier
from agritrace.ledger.store import LedgerEntry
from agritrace.migrations import upgrade
from bench.ledger import DEFAULT_PG_URL, ORIGIN, postgres_schema
from bench.table import machine, print_table

ROOT = Path(__file__).resolve().parents[1]
KILLS = 200
BATCH_SIZES = (1, 7, 50, 400)
MAX_ACKS_BEFORE_KILL = 6
MAX_KILL_DELAY_S = 0.05
CHECKPOINT_EVERY_KILLS = 20
WRITER_COUNT = 1_000_000  # far more than a writer gets through before its kill
ACK_TIMEOUT_S = 120


class SoakError(Exception):
    """The soak could not run as intended (a writer failed on its own, not by our kill)."""


@dataclass
class Tally:
    kills: int = 0
    acknowledged: set[tuple[str, int]] = field(default_factory=set)
    checkpoints: int = 0


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _start_writer(url: str, tag: str, batch: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.ledger.writer", url, tag, str(WRITER_COUNT), str(batch)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _record_ack(line: str, tag: str, acknowledged: set[tuple[str, int]]) -> bool:
    words = line.split()
    if len(words) != 3 or words[0] != "ack":
        return False
    first, last = int(words[1]), int(words[2])
    acknowledged.update((tag, n) for n in range(first, last + 1))
    return True


def _kill_one(url: str, attempt: int, rng: random.Random, tally: Tally) -> None:
    tag = f"k{attempt}"
    proc = _start_writer(url, tag, rng.choice(BATCH_SIZES))
    assert proc.stdout is not None
    assert proc.stderr is not None
    try:
        for _ in range(rng.randint(1, MAX_ACKS_BEFORE_KILL)):
            line = proc.stdout.readline()
            if not _record_ack(line, tag, tally.acknowledged):
                proc.wait(timeout=ACK_TIMEOUT_S)
                raise SoakError(
                    f"writer {tag} stopped before its kill (exit {proc.returncode}): "
                    f"{proc.stderr.read().strip()[-2000:] or line!r}"
                )
        time.sleep(rng.uniform(0, MAX_KILL_DELAY_S))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=ACK_TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != -signal.SIGKILL:
        raise SoakError(f"writer {tag} exited with {proc.returncode} before the kill")
    # Batches committed and acknowledged after the acks we waited for count as acknowledged.
    for line in proc.stdout:
        _record_ack(line, tag, tally.acknowledged)
    proc.stdout.close()
    proc.stderr.close()
    tally.kills += 1


@dataclass(frozen=True)
class Verdict:
    stored: int
    gaps: int
    duplicates: int
    lost: int
    unacknowledged: int
    audit: str
    ok: bool


def _verify(engine: Engine, tally: Tally, verifiers: list[NoteVerifier]) -> Verdict:
    sessions = make_sessionmaker(engine)
    indices: list[int] = []
    seen: set[tuple[str, int]] = set()
    duplicates = 0
    with sessions() as session:
        rows = session.execute(
            select(LedgerEntry.idx, LedgerEntry.content)
            .order_by(LedgerEntry.idx)
            .execution_options(yield_per=10_000)
        )
        for idx, content in rows:
            indices.append(idx)
            body = json.loads(content)
            key = (body["tag"], body["n"])
            duplicates += key in seen
            seen.add(key)
    gaps = sum(
        1 for previous, idx in zip([-1, *indices], indices, strict=False) if idx != previous + 1
    )
    lost = len(tally.acknowledged - seen)
    # Committed, but the writer was killed before it printed the ack: allowed.
    unacknowledged = len(seen - tally.acknowledged)
    try:
        with sessions() as session:
            report = audit(session, verifiers=verifiers)
        result = (
            f"passed: {report.size:,} entries, {report.checkpoints} checkpoints, "
            f"root {report.root_hash.hex()[:16]}..."
        )
        audited = report.size == len(indices)
    except AgritraceError as exc:
        result, audited = f"FAILED: {exc}", False
    return Verdict(
        stored=len(indices),
        gaps=gaps,
        duplicates=duplicates,
        lost=lost,
        unacknowledged=unacknowledged,
        audit=result,
        ok=audited and not (gaps or duplicates or lost),
    )


@contextmanager
def _database(backend: str, pg_url: str) -> Iterator[str | None]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="agritrace-soak-") as folder:
            yield f"sqlite:///{Path(folder) / 'ledger.db'}"
        return
    with postgres_schema(pg_url) as url:
        yield url


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.soak_ledger", description=__doc__)
    parser.add_argument("--kills", type=int, default=KILLS, help=f"default {KILLS}")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("AGRITRACE_BENCH_PG_URL") or DEFAULT_PG_URL,
        help="PostgreSQL database for --backend postgres (a throw-away schema is used)",
    )
    parser.add_argument("--seed", type=int, default=20261125)
    args = parser.parse_args(argv)
    if args.kills < 1:
        parser.error("--kills must be at least 1")
    return args


def main(argv: list[str]) -> int:
    args = _parse(argv)
    rng = random.Random(args.seed)
    key = Ed25519PrivateKey.generate()
    verifiers = [NoteVerifier.from_public_key(ORIGIN, key.public_key())]
    tally = Tally()
    started = time.perf_counter()
    with _database(args.backend, args.pg_url) as url:
        if url is None:
            return 2
        engine = make_engine(url)
        try:
            upgrade(engine)
            sessions = make_sessionmaker(engine)
            for attempt in range(args.kills):
                try:
                    _kill_one(url, attempt, rng, tally)
                except SoakError as exc:
                    print(f"soak: {exc}", file=sys.stderr)
                    return 1
                if tally.kills % CHECKPOINT_EVERY_KILLS == 0 or tally.kills == args.kills:
                    with sessions() as session:
                        store.sign_checkpoint(session, origin=ORIGIN, private_key=key)
                    tally.checkpoints += 1
                    _say(
                        f"  {tally.kills}/{args.kills} kills, "
                        f"{len(tally.acknowledged):,} entries acknowledged"
                    )
            verdict = _verify(engine, tally, verifiers)
        finally:
            engine.dispose()
    elapsed = time.perf_counter() - started
    print_table(
        (
            "backend",
            "kills",
            "acknowledged",
            "stored",
            "acked but lost",
            "stored, never acked",
            "index gaps",
            "duplicates",
            "checkpoints",
            "audit",
            "time",
        ),
        [
            [
                "SQLite" if args.backend == "sqlite" else "PostgreSQL",
                f"{tally.kills:,}",
                f"{len(tally.acknowledged):,}",
                f"{verdict.stored:,}",
                f"{verdict.lost:,}",
                f"{verdict.unacknowledged:,}",
                f"{verdict.gaps:,}",
                f"{verdict.duplicates:,}",
                f"{tally.checkpoints:,}",
                verdict.audit,
                f"{elapsed:.0f} s",
            ]
        ],
    )
    print(machine())
    return 0 if verdict.ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
