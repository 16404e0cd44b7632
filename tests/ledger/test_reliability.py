"""The ledger under concurrent writers and under writers killed with SIGKILL, on SQLite and
PostgreSQL, with real processes and committed data."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from agritrace.db import make_engine, make_sessionmaker
from agritrace.ledger import audit as audit_module
from agritrace.ledger import store
from agritrace.ledger.audit import audit
from agritrace.ledger.store import LedgerEntry
from tests.ledger.ledgerutil import ORIGIN, signer

ROOT = Path(__file__).resolve().parents[2]
WRITERS = 8
PER_WRITER = 1_000
KILLS = 20


@pytest.fixture
def db(fresh_db_url: str) -> Iterator[tuple[str, Engine]]:
    engine = make_engine(fresh_db_url)
    yield fresh_db_url, engine
    engine.dispose()


def _writer(url: str, tag: str, count: int, batch: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.ledger.writer", url, tag, str(count), str(batch)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stored(engine: Engine) -> list[tuple[int, dict[str, object]]]:
    with make_sessionmaker(engine)() as session:
        rows = session.execute(select(LedgerEntry.idx, LedgerEntry.content).order_by("idx"))
        return [(idx, json.loads(content)) for idx, content in rows]


def _audit_passes(engine: Engine) -> int:
    key, verifiers = signer()
    with make_sessionmaker(engine)() as session:
        store.sign_checkpoint(session, origin=ORIGIN, private_key=key)
        return audit(session, verifiers=verifiers).size


@pytest.mark.slow
def test_eight_concurrent_writers_leave_no_gap_and_no_duplicate(
    db: tuple[str, Engine],
) -> None:
    url, engine = db
    procs = [_writer(url, f"w{i}", PER_WRITER, batch=1 + i * 3) for i in range(WRITERS)]
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
    stored = _stored(engine)
    assert [idx for idx, _ in stored] == list(range(WRITERS * PER_WRITER))
    written = {(body["tag"], body["n"]) for _, body in stored}
    assert written == {(f"w{i}", n) for i in range(WRITERS) for n in range(PER_WRITER)}
    assert _audit_passes(engine) == WRITERS * PER_WRITER


@pytest.mark.slow
def test_writer_killed_mid_batch_loses_nothing_acknowledged(db: tuple[str, Engine]) -> None:
    url, engine = db
    rng = random.Random(20261125)
    acknowledged: set[tuple[str, int]] = set()
    for attempt in range(KILLS):
        tag = f"k{attempt}"
        proc = _writer(url, tag, count=100_000, batch=rng.choice([1, 7, 50, 400]))
        assert proc.stdout is not None
        wanted = rng.randint(1, 6)
        for _ in range(wanted):
            line = proc.stdout.readline()
            assert line.startswith("ack "), proc.stderr.read() if proc.stderr else line
            first, last = map(int, line.split()[1:])
            acknowledged.update((tag, n) for n in range(first, last + 1))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        # Anything acknowledged before the kill may be followed by more that committed
        # without being acknowledged; count those too so the next check is exact.
        for line in proc.stdout:
            first, last = map(int, line.split()[1:])
            acknowledged.update((tag, n) for n in range(first, last + 1))
    stored = _stored(engine)
    assert [idx for idx, _ in stored] == list(range(len(stored)))
    present = {(body["tag"], body["n"]) for _, body in stored}
    assert acknowledged <= present
    assert _audit_passes(engine) == len(stored)
    with make_sessionmaker(engine)() as session:
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == len(stored)


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2], ids=["one-process", "two-workers"])
def test_audit_during_concurrent_appends_sees_one_consistent_snapshot(
    db: tuple[str, Engine], workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Appends committed while the audit runs are not taken for damage, whether one process
    reads everything or workers share the blocks (of 256 entries here, so 12 or more)."""
    monkeypatch.setattr(audit_module, "AUDIT_BLOCK_LEVEL", 8)
    url, engine = db
    key, verifiers = signer()
    with make_sessionmaker(engine)() as session:
        store.append(session, [store.NewEntry(body={"type": "seed", "n": n}) for n in range(3000)])
        session.commit()
        store.sign_checkpoint(session, origin=ORIGIN, private_key=key)
    writer = _writer(url, "live", count=100_000, batch=50)
    try:
        assert writer.stdout is not None
        writer.stdout.readline()  # appends are under way
        for _ in range(3):
            with make_sessionmaker(engine)() as session:
                report = audit(session, verifiers=verifiers, workers=workers)
            assert report.size >= 3000
            assert report.workers == workers
    finally:
        writer.kill()
        writer.wait(timeout=30)
