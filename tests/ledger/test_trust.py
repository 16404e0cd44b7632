"""A verifier's memory (agritrace/ledger/trust.py): honest growth passes, a smaller tree or
another history fails, and a remembered checkpoint must be a signed note of the right log."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from agritrace.errors import InvalidInputError
from agritrace.ledger.checkpoint import Checkpoint, sign_note
from agritrace.ledger.merkle import EMPTY_ROOT, consistency_proof, root
from agritrace.ledger.trust import RollbackError, check_extends, needs_proof, open_trusted
from tests.ledger.ledgerutil import ORIGIN, signer
from tests.ledger.test_merkle import LEAF_DATA, STORE, NodeStore

SIZES = st.integers(min_value=0, max_value=len(LEAF_DATA))
OTHER = NodeStore([b"another history " + data for data in LEAF_DATA])


def _checkpoint(size: int, nodes: NodeStore = STORE) -> Checkpoint:
    top = root(size, nodes.fetcher(size)) if size else EMPTY_ROOT
    return Checkpoint(origin=ORIGIN, size=size, root_hash=top)


def _proof(old: Checkpoint, new: Checkpoint, nodes: NodeStore = STORE) -> list[bytes]:
    if not needs_proof(old, new):
        return []
    return consistency_proof(old.size, new.size, nodes.fetcher(new.size))


@given(SIZES, SIZES)
@example(0, 0)
@example(1, 1)
def test_a_grown_tree_extends_every_smaller_one(a: int, b: int) -> None:
    old, new = _checkpoint(min(a, b)), _checkpoint(max(a, b))
    check_extends(old, new, _proof(old, new))


@given(SIZES, SIZES)
def test_a_smaller_tree_is_a_rollback(a: int, b: int) -> None:
    if a == b:
        return
    old, new = _checkpoint(max(a, b)), _checkpoint(min(a, b))
    with pytest.raises(RollbackError, match="rolled back") as caught:
        check_extends(old, new)
    assert caught.value.facts["problem"] == "smaller"
    assert caught.value.facts["trusted_size"] == old.size


@given(st.integers(min_value=1, max_value=len(LEAF_DATA)), SIZES)
def test_another_history_is_a_fork(a: int, b: int) -> None:
    old = _checkpoint(a)
    forged = _checkpoint(max(a, b), OTHER)
    # The forger's own proof: it is consistent with the forger's tree, not with ours.
    proof = _proof(_checkpoint(a, OTHER), forged, OTHER)
    with pytest.raises(RollbackError, match="forked") as caught:
        check_extends(old, forged, proof)
    assert caught.value.facts["problem"] == "fork"


def test_a_proof_for_other_sizes_does_not_help() -> None:
    old, new = _checkpoint(5), _checkpoint(9)
    with pytest.raises(RollbackError, match="forked"):
        check_extends(old, new, _proof(_checkpoint(6), new))


def test_open_trusted_reads_a_signed_note_of_the_log() -> None:
    key, verifiers = signer()
    checkpoint = _checkpoint(7)
    note = sign_note(checkpoint.to_body(), name=ORIGIN, private_key=key)
    assert open_trusted(note, verifiers=verifiers, origin=ORIGIN) == checkpoint


def test_open_trusted_refuses_another_key_and_another_log() -> None:
    key, _ = signer()
    _, other_verifiers = signer()
    note = sign_note(_checkpoint(7).to_body(), name=ORIGIN, private_key=key)
    with pytest.raises(InvalidInputError, match="not a signed ledger checkpoint"):
        open_trusted(note, verifiers=other_verifiers)
    key2, verifiers2 = signer()
    note2 = sign_note(_checkpoint(7).to_body(), name=ORIGIN, private_key=key2)
    with pytest.raises(InvalidInputError, match="of the log"):
        open_trusted(note2, verifiers=verifiers2, origin="elsewhere.example/log")


@given(st.binary(max_size=400))
def test_open_trusted_refuses_garbage(data: bytes) -> None:
    _, verifiers = signer()
    with pytest.raises(InvalidInputError):
        open_trusted(data, verifiers=verifiers)


@given(st.integers(min_value=0, max_value=400))
def test_open_trusted_refuses_any_flipped_byte(position: int) -> None:
    key, verifiers = signer()
    note = sign_note(_checkpoint(9).to_body(), name=ORIGIN, private_key=key)
    flipped = bytearray(note)
    flipped[position % len(note)] ^= 0x01
    with pytest.raises(InvalidInputError):
        open_trusted(bytes(flipped), verifiers=verifiers)
