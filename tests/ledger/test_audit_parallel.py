"""The audit in worker processes, on committed data in a real database: the same verdict, the
same first bad index and the same message as in one process, wherever the damage lies (first
block, last block, on either side of a block boundary, above the blocks), on SQLite and on
PostgreSQL. Blocks are made small (16 entries) so that 100 entries make 7 of them."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.orm import Session

from agritrace.db import make_engine, make_sessionmaker
from agritrace.errors import StorageUnavailableError
from agritrace.ledger import audit as audit_module
from agritrace.ledger import merkle, store
from agritrace.ledger.audit import PROBLEMS, AuditReport, LedgerCorruptError, audit
from agritrace.ledger.checkpoint import NoteVerifier
from agritrace.ledger.store import (
    LedgerCheckpoint,
    LedgerEntry,
    LedgerHead,
    LedgerNode,
    LedgerSubject,
)
from agritrace.migrations import upgrade
from tests.ledger.ledgerutil import ORIGIN, allow_rewrites, entries, signer
from tests.support import fresh_database

SIZE = 100
BLOCK_LEVEL = 4  # blocks of 16 entries: boundaries at 16, 32, 48, 64, 80 and 96
MODELS = (LedgerSubject, LedgerEntry, LedgerNode, LedgerCheckpoint, LedgerHead)


@dataclass
class Ledger:
    engine: Engine
    verifiers: list[NoteVerifier]
    saved: dict[str, list[dict[str, Any]]]

    def restore(self) -> None:
        """Put back every ledger row as it was before the test tampered with it."""
        with self.engine.begin() as conn:
            for model in MODELS:
                conn.execute(delete(model))
            for model in reversed(MODELS):
                if rows := self.saved[model.__tablename__]:
                    conn.execute(insert(model), rows)


@pytest.fixture(scope="module")
def committed(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    """100 committed entries with checkpoints at 40, 70 and 100, in a database of their own
    without the append-only triggers (an operator with DDL rights dropped them)."""
    with fresh_database(backend, tmp_path_factory.mktemp("parallel-audit")) as url:
        engine = make_engine(url)
        upgrade(engine)
        key, verifiers = signer()
        with make_sessionmaker(engine)() as session:
            for start, count in ((0, 40), (40, 30), (70, 30)):
                store.append(session, entries(start, count))
                session.commit()
                store.sign_checkpoint(session, origin=ORIGIN, private_key=key)
            allow_rewrites(session)
            session.commit()
        with engine.connect() as conn:
            saved = {
                model.__tablename__: [dict(row._mapping) for row in conn.execute(select(model))]
                for model in MODELS
            }
        yield Ledger(engine, verifiers, saved)
        engine.dispose()


@pytest.fixture
def ledger(committed: Ledger, monkeypatch: pytest.MonkeyPatch) -> Iterator[Ledger]:
    monkeypatch.setattr(audit_module, "AUDIT_BLOCK_LEVEL", BLOCK_LEVEL)
    yield committed
    committed.restore()


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many worker processes each audit started (0 when it ran in-process)."""
    counts: list[int] = []
    original = audit_module._Blocks.start

    def start(self: Any, job: dict[str, Any], count: int) -> None:
        original(self, job, count)
        counts.append(self.workers)

    monkeypatch.setattr(audit_module._Blocks, "start", start)
    return counts


def _audit(ledger: Ledger, workers: int) -> AuditReport:
    with make_sessionmaker(ledger.engine)() as session:
        return audit(session, verifiers=ledger.verifiers, workers=workers)


def _failure(ledger: Ledger, workers: int) -> LedgerCorruptError:
    with pytest.raises(LedgerCorruptError) as caught:
        _audit(ledger, workers)
    return caught.value


# --- the operator's edits ---------------------------------------------------------------------


Tamper = Callable[[Session], None]


def change_content(*indices: int) -> Tamper:
    def tamper(session: Session) -> None:
        for index in indices:
            content = session.scalar(select(LedgerEntry.content).where(LedgerEntry.idx == index))
            assert content is not None
            session.execute(
                update(LedgerEntry).where(LedgerEntry.idx == index).values(content=content + b" ")
            )

    return tamper


def delete_entry(index: int) -> Tamper:
    def tamper(session: Session) -> None:
        session.execute(delete(LedgerSubject).where(LedgerSubject.idx == index))
        session.execute(delete(LedgerEntry).where(LedgerEntry.idx == index))

    return tamper


def swap_entries(first: int, second: int) -> Tamper:
    def tamper(session: Session) -> None:
        for old, new in ((first, -1), (second, first), (-1, second)):
            session.execute(update(LedgerEntry).where(LedgerEntry.idx == old).values(idx=new))

    return tamper


def zero_node(level: int, index: int) -> Tamper:
    def tamper(session: Session) -> None:
        result = session.execute(
            update(LedgerNode)
            .where(LedgerNode.level == level, LedgerNode.idx == index)
            .values(hash=bytes(32))
        )
        assert result.rowcount == 1  # type: ignore[attr-defined]

    return tamper


def add_node(session: Session) -> None:
    session.execute(insert(LedgerNode).values(level=9, idx=0, hash=bytes(32)))


def zero_head_chain(session: Session) -> None:
    session.execute(update(LedgerHead).values(chain_hash=bytes(32)))


def forge_checkpoint_body(session: Session) -> None:
    note = session.scalar(select(LedgerCheckpoint.note).where(LedgerCheckpoint.size == 70))
    assert note is not None
    session.execute(
        update(LedgerCheckpoint)
        .where(LedgerCheckpoint.size == 70)
        .values(note=note.replace("\n70\n", "\n71\n", 1))
    )


def rewrite_consistently(index: int) -> Tamper:
    """Rewrite one entry and recompute every leaf, link, node and the head: only the signed
    checkpoints can tell."""

    def tamper(session: Session) -> None:
        contents = list(session.scalars(select(LedgerEntry.content).order_by(LedgerEntry.idx)))
        contents[index] += b" "
        leaves = [merkle.leaf_hash(content) for content in contents]
        chain = bytes(32)
        for position, (content, leaf) in enumerate(zip(contents, leaves, strict=True)):
            chain = hashlib.sha256(chain + leaf).digest()
            session.execute(
                update(LedgerEntry)
                .where(LedgerEntry.idx == position)
                .values(content=content, leaf_hash=leaf, chain_hash=chain)
            )
        grown = merkle.append_leaves(0, [], leaves)
        session.execute(delete(LedgerNode))
        session.execute(
            insert(LedgerNode),
            [{"level": lv, "idx": i, "hash": h} for (lv, i), h in grown.nodes if lv > 0],
        )
        session.execute(update(LedgerHead).values(root_hash=grown.root, chain_hash=chain))

    return tamper


CASES = [
    pytest.param(change_content(0), 0, "leaf", id="leaf-first-entry"),
    pytest.param(change_content(15), 15, "leaf", id="leaf-last-of-a-block"),
    pytest.param(change_content(16), 16, "leaf", id="leaf-first-of-a-block"),
    pytest.param(change_content(99), 99, "leaf", id="leaf-last-entry"),
    pytest.param(change_content(90, 20), 20, "leaf", id="leaf-two-blocks-lower-wins"),
    pytest.param(delete_entry(15), 15, "missing", id="missing-last-of-a-block"),
    pytest.param(delete_entry(16), 16, "missing", id="missing-first-of-a-block"),
    pytest.param(delete_entry(99), 99, "size", id="missing-last-entry"),
    pytest.param(swap_entries(15, 16), 15, "chain", id="swap-across-a-boundary"),
    pytest.param(swap_entries(47, 80), 47, "chain", id="swap-far-apart"),
    pytest.param(zero_node(2, 4), 16, "node", id="node-inside-a-block"),
    pytest.param(zero_node(4, 5), 80, "node", id="node-root-of-a-block"),
    pytest.param(zero_node(5, 1), 32, "node", id="node-above-the-blocks"),
    pytest.param(zero_node(6, 0), 0, "node", id="node-top"),
    pytest.param(add_node, SIZE, "extra-nodes", id="extra-node"),
    pytest.param(rewrite_consistently(50), 40, "checkpoint-root", id="consistent-rewrite"),
    pytest.param(forge_checkpoint_body, 40, "checkpoint-signature", id="checkpoint-forged"),
    pytest.param(zero_head_chain, SIZE - 1, "head", id="head"),
]


@pytest.mark.parametrize(("tamper", "index", "problem"), CASES)
def test_workers_name_the_same_first_bad_index_as_one_process(
    ledger: Ledger, started: list[int], tamper: Tamper, index: int, problem: str
) -> None:
    with make_sessionmaker(ledger.engine)() as session:
        tamper(session)
        session.commit()
    alone = _failure(ledger, workers=1)
    shared = _failure(ledger, workers=2)
    assert started == [2]
    assert (shared.facts["index"], shared.facts["problem"]) == (index, problem), str(shared)
    assert problem in PROBLEMS
    assert str(shared) == str(alone)
    assert shared.facts == alone.facts


def test_workers_pass_an_intact_ledger_with_the_same_report(
    ledger: Ledger, started: list[int]
) -> None:
    alone = _audit(ledger, workers=1)
    shared = _audit(ledger, workers=2)
    assert started == [2]
    assert (shared.workers, alone.workers) == (2, 1)
    assert shared.size == SIZE
    assert (shared.root_hash, shared.chain_hash, shared.checkpoints) == (
        alone.root_hash,
        alone.chain_hash,
        alone.checkpoints,
    )
    with make_sessionmaker(ledger.engine)() as session:
        current = store.head(session)
    assert (shared.root_hash, shared.chain_hash) == (current.root_hash, current.chain_hash)


def test_progress_counts_every_entry_once(ledger: Ledger) -> None:
    seen: list[int] = []
    with make_sessionmaker(ledger.engine)() as session:
        audit(session, verifiers=ledger.verifiers, workers=2, progress=seen.append)
    assert seen == sorted(seen)
    assert seen[-1] == SIZE
    assert len(seen) == 7  # one call per block


def test_own_uncommitted_appends_are_audited_in_one_process(
    ledger: Ledger, started: list[int]
) -> None:
    """Rows this transaction wrote are invisible to other processes: the audit must not take
    them for missing (SQLite's workers notice and hand back; on PostgreSQL none start)."""
    with make_sessionmaker(ledger.engine)() as session:
        store.append(session, entries(SIZE, 20))
        report = audit(session, verifiers=ledger.verifiers, workers=2)
        session.rollback()
    assert report.size == SIZE + 20
    assert report.workers == 1


def test_a_worker_failure_is_reported_not_mistaken_for_damage(
    ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workers cannot read the audited state (here: a wrong file or snapshot is named to
    them): the audit says the storage is unavailable, and never that the ledger is corrupt."""
    make_job = audit_module._worker_job

    def broken_job(*args: Any, **kwargs: Any) -> dict[str, Any]:
        job = make_job(*args, **kwargs)
        if job["dialect"] == "sqlite":
            job["database"] = str(tmp_path / "missing" / "ledger.db")
        else:
            job["snapshot"] = "00000000-00000000-1"
        return job

    monkeypatch.setattr(audit_module, "_worker_job", broken_job)
    with pytest.raises(StorageUnavailableError, match="an audit worker failed"):
        _audit(ledger, workers=2)


def test_blocks_of_one_entry_each_more_tickets_than_one_pipe_write(
    fresh_db_url: str, monkeypatch: pytest.MonkeyPatch, started: list[int]
) -> None:
    """1,500 blocks: the tickets take more than one atomic pipe write, and every block is
    checked exactly once (one progress step each)."""
    monkeypatch.setattr(audit_module, "AUDIT_BLOCK_LEVEL", 0)
    engine = make_engine(fresh_db_url)
    try:
        sessions = make_sessionmaker(engine)
        with sessions() as session:
            store.append(session, entries(0, 1_500))
            session.commit()
        seen: list[int] = []
        with sessions() as session:
            shared = audit(session, verifiers=[], workers=2, progress=seen.append)
        with sessions() as session:
            alone = audit(session, verifiers=[], workers=1)
    finally:
        engine.dispose()
    assert started == [2]
    assert seen == list(range(1, 1_501))
    assert (shared.size, shared.root_hash, shared.chain_hash) == (
        alone.size,
        alone.root_hash,
        alone.chain_hash,
    )
