"""The persistent ledger on SQLite and PostgreSQL: append, idempotency, proofs, checkpoints."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from agritrace.db import make_engine, make_sessionmaker
from agritrace.errors import InvalidInputError, NotFoundError
from agritrace.ledger import merkle, store
from agritrace.ledger.canonical import to_canonical_bytes
from agritrace.ledger.checkpoint import Checkpoint, open_note
from agritrace.ledger.store import LedgerEntry, LedgerNode, NewEntry
from agritrace.migrations import upgrade
from tests.ledger.ledgerutil import ORIGIN, allow_rewrites, entries, entry, signer
from tests.support import fresh_database


def _leaves(session: Session) -> list[bytes]:
    return list(session.scalars(select(LedgerEntry.leaf_hash).order_by(LedgerEntry.idx)))


def test_empty_ledger_has_the_empty_root(session: Session) -> None:
    current = store.head(session)
    assert current.size == 0
    assert current.root_hash == merkle.EMPTY_ROOT
    assert current.chain_hash == bytes(32)


def test_append_stores_exact_canonical_bytes_and_hashes(session: Session) -> None:
    body = {"type": "harvest", "lot": "HD-VAI-01/L1", "qty": "12.5", "note": "vải thiều"}
    [result] = store.append(session, [NewEntry(body=body, subjects=("lot:1",))])
    session.commit()
    stored = store.get_entry(session, result.index)
    assert stored.content == to_canonical_bytes(body)
    assert stored.leaf_hash == merkle.leaf_hash(stored.content)
    assert stored.kind == "harvest"
    assert store.indices_for_subject(session, "lot:1") == [0]


def test_batch_indices_are_contiguous_and_root_matches(session: Session) -> None:
    first = store.append(session, entries(0, 5))
    second = store.append(session, entries(5, 300))
    session.commit()
    assert [r.index for r in first + second] == list(range(305))
    current = store.head(session)
    assert current.size == 305
    assert current.root_hash == merkle.root_from_leaf_hashes(_leaves(session))


def test_chain_hash_links_every_entry(session: Session) -> None:
    import hashlib

    store.append(session, entries(0, 40))
    chain = bytes(32)
    for row in session.scalars(select(LedgerEntry).order_by(LedgerEntry.idx)):
        chain = hashlib.sha256(chain + row.leaf_hash).digest()
        assert row.chain_hash == chain
    assert store.head(session).chain_hash == chain


def test_appending_known_content_returns_the_original_index(session: Session) -> None:
    store.append(session, entries(0, 10))
    again = store.append(session, [entry(3), entry(99), entry(99)])
    assert [(r.index, r.new) for r in again] == [(3, False), (10, True), (10, False)]
    assert store.head(session).size == 11


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"n": 1}, "'type' string"),
        ({"type": "x", "weight": 1.5}, "float"),
        ({"type": "x", "big": 2**60}, "integer"),
        ({"type": "x" * 41}, "'type' string"),
    ],
)
def test_bad_entry_is_refused_and_nothing_appended(
    session: Session, body: dict[str, object], message: str
) -> None:
    store.append(session, entries(0, 2))
    with pytest.raises(InvalidInputError, match=message):
        store.append(session, [entry(100), NewEntry(body=body)])
    assert store.head(session).size == 2


def test_inclusion_proofs_verify_for_every_entry_and_size(session: Session) -> None:
    store.append(session, entries(0, 37))
    leaves = _leaves(session)
    for size in (1, 2, 5, 16, 17, 37):
        root = merkle.root_from_leaf_hashes(leaves[:size])
        for index in range(size):
            proof = store.inclusion_proof(session, index, size)
            merkle.verify_inclusion(
                leaf_hash=leaves[index], index=index, size=size, proof=proof, root=root
            )


def test_consistency_proofs_verify(session: Session) -> None:
    store.append(session, entries(0, 50))
    leaves = _leaves(session)
    for size1, size2 in [(1, 50), (7, 8), (16, 33), (49, 50), (50, 50)]:
        proof = store.consistency_proof(session, size1, size2)
        merkle.verify_consistency(
            size1=size1,
            size2=size2,
            proof=proof,
            root1=merkle.root_from_leaf_hashes(leaves[:size1]),
            root2=merkle.root_from_leaf_hashes(leaves[:size2]),
        )


def test_proof_requests_out_of_range_are_refused(session: Session) -> None:
    store.append(session, entries(0, 4))
    with pytest.raises(InvalidInputError, match="out of range"):
        store.inclusion_proof(session, 0, 5)
    with pytest.raises(InvalidInputError, match="not in a tree"):
        store.inclusion_proof(session, 4, 4)
    with pytest.raises(InvalidInputError, match="old size"):
        store.consistency_proof(session, 0, 4)
    with pytest.raises(NotFoundError, match="no ledger entry #9"):
        store.get_entry(session, 9)


def test_checkpoint_is_signed_over_the_head(session: Session) -> None:
    key, verifiers = signer()
    store.append(session, entries(0, 9))
    session.commit()
    stored = store.sign_checkpoint(session, origin=ORIGIN, private_key=key)
    body, signers = open_note(stored.note.encode(), verifiers=verifiers)
    checkpoint = Checkpoint.from_body(body)
    assert signers == [ORIGIN]
    assert (checkpoint.origin, checkpoint.size) == (ORIGIN, 9)
    assert checkpoint.root_hash == store.head(session).root_hash


def test_checkpoint_is_reused_until_the_ledger_grows(session: Session) -> None:
    key, _ = signer()
    store.append(session, entries(0, 3))
    first = store.sign_checkpoint(session, origin=ORIGIN, private_key=key)
    assert store.sign_checkpoint(session, origin=ORIGIN, private_key=key).size == first.size
    store.append(session, entries(3, 4))
    second = store.sign_checkpoint(session, origin=ORIGIN, private_key=key)
    assert second.size == 7
    proof = store.consistency_proof(session, first.size, second.size)
    merkle.verify_consistency(
        size1=3, size2=7, proof=proof, root1=first.root_hash, root2=second.root_hash
    )
    latest = store.latest_checkpoint(session)
    assert latest is not None
    assert latest.size == 7


def test_database_refuses_to_rewrite_ledger_rows(session: Session) -> None:
    store.append(session, entries(0, 2))
    session.commit()
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(text("UPDATE ledger_entry SET kind = 'forged' WHERE idx = 0"))
    session.rollback()
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(text("DELETE FROM ledger_entry WHERE idx = 1"))


def test_many_inclusion_proofs_at_once_match_one_by_one(session: Session) -> None:
    store.append(session, entries(0, 77))
    wanted = [0, 5, 6, 40, 63, 64, 76]
    together = store.inclusion_proofs(session, wanted, 77)
    assert together == {i: store.inclusion_proof(session, i, 77) for i in wanted}
    with pytest.raises(InvalidInputError, match="not in a tree"):
        store.inclusion_proofs(session, [77], 77)


# --- proofs read in one round trip, against the RFC 9162 definitions ----------------------------

PROVED = 300


def _mth(leaves: list[bytes]) -> bytes:
    """MTH of RFC 9162 §2.1.1, straight from the recursive definition."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return merkle.node_hash(_mth(leaves[:k]), _mth(leaves[k:]))


def _path(m: int, leaves: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 §2.1.3.1."""
    if len(leaves) == 1:
        return []
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    if m < k:
        return [*_path(m, leaves[:k]), _mth(leaves[k:])]
    return [*_path(m - k, leaves[k:]), _mth(leaves[:k])]


def _subproof(m: int, leaves: list[bytes], whole: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) of RFC 9162 §2.1.4.1."""
    if m == len(leaves):
        return [] if whole else [_mth(leaves)]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    if m <= k:
        return [*_subproof(m, leaves[:k], whole), _mth(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], False), _mth(leaves[:k])]


@pytest.fixture
def proved(session: Session) -> tuple[Session, list[bytes]]:
    """300 entries appended in batches of uneven sizes (so nodes come from many appends)."""
    start = 0
    for count in (1, 2, 5, 60, 1, 100, 64, 67):
        store.append(session, entries(start, count))
        start += count
    assert start == PROVED
    return session, _leaves(session)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_inclusion_proof_equals_the_rfc_definition(
    proved: tuple[Session, list[bytes]], data: st.DataObject
) -> None:
    session, leaves = proved
    size = data.draw(st.integers(1, PROVED), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    assert store.inclusion_proof(session, index, size) == _path(index, leaves[:size])


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_consistency_proof_equals_the_rfc_definition(
    proved: tuple[Session, list[bytes]], data: st.DataObject
) -> None:
    session, leaves = proved
    size2 = data.draw(st.integers(1, PROVED), label="size2")
    size1 = data.draw(st.integers(1, size2), label="size1")
    assert store.consistency_proof(session, size1, size2) == _subproof(size1, leaves[:size2], True)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_many_proofs_at_once_equal_the_rfc_definition(
    proved: tuple[Session, list[bytes]], data: st.DataObject
) -> None:
    """Enough entries at once that the nodes are read in several chunks."""
    session, leaves = proved
    size = data.draw(st.integers(1, PROVED), label="size")
    wanted = data.draw(st.lists(st.integers(0, size - 1), max_size=size), label="indices")
    together = store.inclusion_proofs(session, wanted, size)
    assert together == {index: _path(index, leaves[:size]) for index in wanted}


def test_all_proofs_of_a_tree_read_in_chunks(proved: tuple[Session, list[bytes]]) -> None:
    session, leaves = proved
    together = store.inclusion_proofs(session, range(PROVED), PROVED)
    assert together == {index: _path(index, leaves) for index in range(PROVED)}


def test_a_proof_never_reads_past_the_head(session: Session) -> None:
    store.append(session, entries(0, 1))
    with pytest.raises(InvalidInputError, match="out of range: the ledger has 1 entries"):
        store.inclusion_proof(session, 0, 2)
    with pytest.raises(InvalidInputError, match="out of range: the ledger has 1 entries"):
        store.inclusion_proofs(session, [0], 2)
    with pytest.raises(InvalidInputError, match="out of range: the ledger has 1 entries"):
        store.consistency_proof(session, 1, 2)
    assert store.inclusion_proof(session, 0, 1) == []
    assert store.consistency_proof(session, 1, 1) == []


def test_an_empty_ledger_has_no_tree_of_one(session: Session) -> None:
    with pytest.raises(InvalidInputError, match="out of range: the ledger has 0 entries"):
        store.inclusion_proof(session, 0, 1)


def test_a_missing_stored_node_is_not_found_not_a_wrong_proof(session: Session) -> None:
    store.append(session, entries(0, 8))
    allow_rewrites(session)
    session.execute(text("DELETE FROM ledger_node WHERE level = 2 AND idx = 1"))
    with pytest.raises(NotFoundError, match="returned 2 hashes for 3 nodes"):
        store.inclusion_proof(session, 0, 8)


def test_a_proof_sees_nodes_added_but_not_yet_flushed(session: Session) -> None:
    """The proof's driver SQL runs in the session's transaction after its pending changes,
    as any query would."""
    store.append(session, entries(0, 4))
    leaves = _leaves(session)
    allow_rewrites(session)
    session.execute(text("DELETE FROM ledger_node WHERE level = 1 AND idx = 1"))
    session.add(LedgerNode(level=1, idx=1, hash=merkle.node_hash(leaves[2], leaves[3])))
    assert store.inclusion_proof(session, 0, 4) == _path(0, leaves)


def test_append_records_the_time_in_utc_on_every_row(session: Session) -> None:
    """Rows go in through the driver's executemany, the time bound once through the column's
    own type: it reads back as the same aware UTC time on both databases."""
    before = dt.datetime.now(dt.UTC)
    store.append(session, entries(0, 3))
    after = dt.datetime.now(dt.UTC)
    times = list(session.scalars(select(LedgerEntry.recorded_at).order_by(LedgerEntry.idx)))
    assert len(set(times)) == 1
    assert times[0].tzinfo is not None
    assert times[0].utcoffset() == dt.timedelta(0)
    assert before - dt.timedelta(seconds=1) <= times[0] <= after
    kinds = set(session.scalars(select(LedgerEntry.kind)))
    assert kinds == {"test"}


def test_a_proof_read_that_loses_its_connection_fails_as_a_database_error(
    tmp_path: Path,
) -> None:
    """Proofs read through the driver directly; a lost connection must still surface as
    SQLAlchemy's OperationalError (the web answers 503 to it), never as a driver exception."""
    with fresh_database("postgres", tmp_path) as url:
        engine = make_engine(url)
        upgrade(engine)
        try:
            with make_sessionmaker(engine)() as session:
                store.append(session, entries(0, 8))
                session.commit()
                assert len(store.inclusion_proof(session, 3, 8)) == 3
                pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
                admin = make_engine(url)
                with admin.connect() as conn:
                    conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                admin.dispose()
                with pytest.raises(OperationalError):
                    store.inclusion_proof(session, 3, 8)
            # The dead connection was dropped from the pool: the next session just works.
            with make_sessionmaker(engine)() as session:
                assert len(store.inclusion_proof(session, 3, 8)) == 3
        finally:
            engine.dispose()
