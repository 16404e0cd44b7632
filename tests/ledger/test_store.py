"""The persistent ledger on SQLite and PostgreSQL: append, idempotency, proofs, checkpoints."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from agritrace.errors import InvalidInputError, NotFoundError
from agritrace.ledger import merkle, store
from agritrace.ledger.canonical import to_canonical_bytes
from agritrace.ledger.checkpoint import Checkpoint, open_note
from agritrace.ledger.store import LedgerEntry, NewEntry
from tests.ledger.ledgerutil import ORIGIN, entries, entry, signer


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
