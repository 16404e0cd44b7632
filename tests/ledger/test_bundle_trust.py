"""Proof bundles checked against a trusted checkpoint (agritrace/ledger/bundle.py): the
``consistency`` member's codec, and what a verifier that remembers a checkpoint accepts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agritrace.ledger.bundle import (
    MAX_CONSISTENCY_HASHES,
    BundleConsistency,
    BundleEntry,
    BundleError,
    make_bundle,
    verify_bundle,
)
from agritrace.ledger.checkpoint import sign_note
from agritrace.ledger.merkle import inclusion_proof
from tests.ledger.ledgerutil import signer
from tests.ledger.test_merkle import NodeStore
from tests.ledger.test_trust import _checkpoint, _proof

# Bundle entries are canonical JSON: two histories of 64 entries each.
OURS_DATA = [f'{{"n":{i}}}'.encode() for i in range(64)]
THEIRS_DATA = [f'{{"m":{i}}}'.encode() for i in range(64)]
OURS, THEIRS = NodeStore(OURS_DATA), NodeStore(THEIRS_DATA)
HASHES = st.lists(st.binary(min_size=32, max_size=32), max_size=MAX_CONSISTENCY_HASHES)


@given(st.integers(min_value=0, max_value=2**64 - 1), HASHES)
def test_consistency_member_round_trips(size: int, hashes: list[bytes]) -> None:
    value = BundleConsistency(size=size, proof=tuple(hashes))
    assert BundleConsistency.from_json(json.loads(json.dumps(value.to_json()))) == value


@pytest.mark.parametrize(
    "garbage",
    [
        None,
        [],
        {"size": 3},
        {"size": 3, "proof": [], "extra": 1},
        {"size": -1, "proof": []},
        {"size": 2**64, "proof": []},
        {"size": True, "proof": []},
        {"size": "3", "proof": []},
        {"size": 3, "proof": "AAAA"},
        {"size": 3, "proof": ["AAAA"]},
        {"size": 3, "proof": ["not base64!"]},
        {"size": 3, "proof": [1]},
        {"size": 3, "proof": ["A" * 43 + "="] * (MAX_CONSISTENCY_HASHES + 1)},
    ],
)
def test_consistency_member_refuses_garbage(garbage: object) -> None:
    with pytest.raises(BundleError, match="malformed"):
        BundleConsistency.from_json(garbage)


@given(st.recursive(st.none() | st.integers() | st.text(), st.lists, max_leaves=5))
def test_consistency_member_refuses_anything_else(value: object) -> None:
    with pytest.raises(BundleError):
        BundleConsistency.from_json(value)


def _bundle(size: int, *, index: int, since: int | None, nodes: NodeStore = OURS) -> dict[str, Any]:
    key, _ = SIGNER
    checkpoint = _checkpoint(size, nodes)
    note = sign_note(checkpoint.to_body(), name=checkpoint.origin, private_key=key)
    entry = BundleEntry(
        index=index,
        content=(OURS_DATA if nodes is OURS else THEIRS_DATA)[index],
        proof=tuple(inclusion_proof(index, size, nodes.fetcher(size))),
    )
    consistency = None
    if since is not None:
        old = _checkpoint(since, nodes)
        consistency = BundleConsistency(size=since, proof=tuple(_proof(old, checkpoint, nodes)))
    return make_bundle(note.decode("utf-8"), [entry], consistency=consistency)


SIGNER = signer()


def _verify(document: dict[str, Any], trusted_size: int | None) -> None:
    trusted = None if trusted_size is None else _checkpoint(trusted_size, OURS)
    verify_bundle(json.dumps(document), verifiers=SIGNER[1], trusted=trusted)


def test_a_newer_bundle_with_its_consistency_proof_verifies() -> None:
    _verify(_bundle(30, index=2, since=17), 17)
    _verify(_bundle(30, index=2, since=30), 30)
    _verify(_bundle(30, index=2, since=None), 0)


def test_a_newer_bundle_without_a_proof_from_the_trusted_size_is_refused() -> None:
    with pytest.raises(BundleError, match="--consistent-with 17"):
        _verify(_bundle(30, index=2, since=None), 17)
    with pytest.raises(BundleError, match="--consistent-with 17"):
        _verify(_bundle(30, index=2, since=16), 17)


def test_a_bundle_from_another_history_is_refused() -> None:
    with pytest.raises(BundleError, match="forked"):
        _verify(_bundle(30, index=2, since=17, nodes=THEIRS), 17)
    with pytest.raises(BundleError, match="forked"):
        _verify(_bundle(17, index=2, since=None, nodes=THEIRS), 17)


def test_a_bundle_older_than_the_trusted_checkpoint_is_refused() -> None:
    with pytest.raises(BundleError, match="older than the trusted"):
        _verify(_bundle(12, index=2, since=None), 17)


def test_bundles_without_the_member_still_verify_alone() -> None:
    _verify(_bundle(12, index=2, since=None), None)
