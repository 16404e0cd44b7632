"""Tests for agritrace.ledger.merkle: RFC 9162 §2.1 trees, proofs and appends.

The references below (`_ref_mth`, `_ref_path`, `_ref_proof`) are written straight from the
recursive definitions of RFC 9162 §2.1.1, §2.1.3.1 and §2.1.4.1, independent of the module's
stored-node arithmetic. Known answers come from the transparency-dev/merkle test vectors
(tests/vectors/rfc6962-proofs, Apache-2.0) and from the RFC 6962 eight-leaf test tree.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from agritrace.errors import InvalidInputError, NotFoundError, VerificationError
from agritrace.ledger import merkle
from agritrace.ledger.merkle import (
    EMPTY_ROOT,
    ConsistencyProofError,
    InclusionProofError,
    NodeId,
    append_leaves,
    consistency_proof,
    frontier_ids,
    inclusion_proof,
    leaf_hash,
    node_hash,
    nodes_for_consistency,
    nodes_for_inclusion,
    root,
    root_from_frontier,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

# --- test vectors -----------------------------------------------------------------------------

_TESTS_DIR = Path(__file__).resolve().parents[1]


def _vectors_dir() -> Path:
    """AGRITRACE_VECTORS if set; else the copy in tests/vectors; else ../shared/vectors."""
    configured = os.environ.get("AGRITRACE_VECTORS")
    if configured:
        return Path(configured) / "rfc6962-proofs"
    for base in (_TESTS_DIR / "vectors", _TESTS_DIR.parent.parent / "shared" / "vectors"):
        if (base / "rfc6962-proofs").is_dir():
            return base / "rfc6962-proofs"
    return _TESTS_DIR / "vectors" / "rfc6962-proofs"


VECTORS = _vectors_dir()


def _cases(kind: str) -> list[Any]:
    paths = sorted((VECTORS / kind).rglob("*.json")) if VECTORS.is_dir() else []
    return [
        pytest.param(json.loads(path.read_text()), id=str(path.relative_to(VECTORS)))
        for path in paths
    ]


INCLUSION_CASES = _cases("inclusion")
CONSISTENCY_CASES = _cases("consistency")


def _b64(text: str) -> bytes:
    return base64.b64decode(text)


def _b64_list(items: list[str] | None) -> list[bytes]:
    return [_b64(item) for item in items or []]


def test_vectors_are_all_found() -> None:
    # An empty parametrization would silently skip: insist the folder is there and complete.
    assert VECTORS.is_dir(), f"vectors not found at {VECTORS} (set AGRITRACE_VECTORS)"
    assert (VECTORS / "LICENSE").is_file()
    assert len(INCLUSION_CASES) + len(CONSISTENCY_CASES) == len(list(VECTORS.rglob("*.json")))
    assert len(INCLUSION_CASES) >= 80
    assert len(CONSISTENCY_CASES) >= 80


@pytest.mark.parametrize("case", INCLUSION_CASES)
def test_inclusion_vector(case: dict[str, Any]) -> None:
    def check() -> None:
        verify_inclusion(
            leaf_hash=_b64(case["leafHash"]),
            index=case["leafIdx"],
            size=case["treeSize"],
            proof=_b64_list(case["proof"]),
            root=_b64(case["root"]),
        )

    if case["wantErr"]:
        with pytest.raises(InclusionProofError):
            check()
    else:
        check()


@pytest.mark.parametrize("case", CONSISTENCY_CASES)
def test_consistency_vector(case: dict[str, Any]) -> None:
    def check() -> None:
        verify_consistency(
            size1=case["size1"],
            size2=case["size2"],
            proof=_b64_list(case["proof"]),
            root1=_b64(case["root1"]),
            root2=_b64(case["root2"]),
        )

    if case["wantErr"]:
        with pytest.raises(ConsistencyProofError):
            check()
    else:
        check()


# --- references from RFC 9162 §2.1 ------------------------------------------------------------

MAX_LEAVES = 2048
LEAF_DATA = [f"entry {i}".encode() for i in range(MAX_LEAVES)]
# The eight leaves of the RFC 6962 test tree used across CT implementations.
RFC6962_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
RFC6962_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


@cache
def _ref_mth(begin: int, end: int) -> bytes:
    """MTH(D[begin:end]) over LEAF_DATA, RFC 9162 §2.1.1."""
    n = end - begin
    if n == 0:
        return _sha(b"")
    if n == 1:
        return _sha(b"\x00" + LEAF_DATA[begin])
    k = 1
    while k * 2 < n:
        k *= 2
    return _sha(b"\x01" + _ref_mth(begin, begin + k) + _ref_mth(begin + k, end))


def _ref_path(m: int, begin: int, end: int) -> tuple[list[bytes], str]:
    """PATH(m, D[begin:end]), RFC 9162 §2.1.3.1, and the side of each sibling (L/R)."""
    n = end - begin
    if n == 1:
        return [], ""
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        hashes, sides = _ref_path(m, begin, begin + k)
        return [*hashes, _ref_mth(begin + k, end)], sides + "R"
    hashes, sides = _ref_path(m - k, begin + k, end)
    return [*hashes, _ref_mth(begin, begin + k)], sides + "L"


def _ref_subproof(m: int, begin: int, end: int, whole: bool) -> tuple[list[bytes], str]:
    """SUBPROOF(m, D[begin:end], b), RFC 9162 §2.1.4.1, and the role of each hash: S for the
    seed (the old subtree when not whole), L for a left sibling, R for a right sibling."""
    n = end - begin
    if m == n:
        return ([], "") if whole else ([_ref_mth(begin, end)], "S")
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        hashes, roles = _ref_subproof(m, begin, begin + k, whole)
        return [*hashes, _ref_mth(begin + k, end)], roles + "R"
    hashes, roles = _ref_subproof(m - k, begin + k, end, False)
    return [*hashes, _ref_mth(begin, begin + k)], roles + "L"


def _ref_proof(size1: int, size2: int) -> tuple[list[bytes], str]:
    return _ref_subproof(size1, 0, size2, True)


# --- an in-memory node store (the fake at the boundary we own) --------------------------------


class NodeStore:
    """All perfect nodes of a tree; hands out fetchers that police what they are asked."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        grown = append_leaves(0, (), [leaf_hash(data) for data in leaves])
        self.nodes: dict[NodeId, bytes] = dict(grown.nodes)
        self.calls: list[list[NodeId]] = []

    def fetcher(self, size: int) -> Callable[[Sequence[NodeId]], Sequence[bytes]]:
        def fetch(ids: Sequence[NodeId]) -> list[bytes]:
            ids = list(ids)
            self.calls.append(ids)
            for level, index in ids:
                assert (index + 1) << level <= size, f"node {(level, index)} beyond size {size}"
            return [self.nodes[node] for node in ids]

        return fetch


STORE = NodeStore(LEAF_DATA)


def _log2_bound(size: int) -> int:
    return 2 * max(size, 1).bit_length() + 1


# --- hashing and roots ------------------------------------------------------------------------


def test_hashes_follow_rfc_prefixes() -> None:
    assert EMPTY_ROOT.hex() == RFC6962_ROOTS[0]
    assert leaf_hash(b"").hex() == RFC6962_ROOTS[1]
    assert node_hash(b"a" * 32, b"b" * 32) == _sha(b"\x01" + b"a" * 32 + b"b" * 32)


@pytest.mark.parametrize("size", range(len(RFC6962_ROOTS)))
def test_root_of_rfc6962_test_tree(size: int) -> None:
    store = NodeStore(RFC6962_LEAVES)
    assert root(size, store.fetcher(size)).hex() == RFC6962_ROOTS[size]


def test_root_matches_reference_for_every_small_size() -> None:
    for size in range(300):
        assert root(size, STORE.fetcher(size)) == _ref_mth(0, size), size


@settings(max_examples=200, deadline=None)
@given(st.integers(0, MAX_LEAVES))
@example(MAX_LEAVES)
@example(1023)
def test_root_matches_reference(size: int) -> None:
    STORE.calls.clear()
    assert root(size, STORE.fetcher(size)) == _ref_mth(0, size)
    assert len(STORE.calls) == (1 if size else 0)
    assert all(len(call) == size.bit_count() for call in STORE.calls)


def test_root_matches_pymerkle() -> None:
    # An independent implementation we do not own, as a second opinion on the tree shape.
    pymerkle = pytest.importorskip("pymerkle")
    tree = pymerkle.InmemoryTree.init_from_entries(LEAF_DATA[:300], algorithm="sha256")
    for size in (*range(1, 70), 127, 128, 129, 255, 299, 300):
        assert root(size, STORE.fetcher(size)) == tree.get_root(size), size


# --- inclusion proofs -------------------------------------------------------------------------


def _check_inclusion(index: int, size: int) -> None:
    STORE.calls.clear()
    proof = inclusion_proof(index, size, STORE.fetcher(size))
    expected, _ = _ref_path(index, 0, size)
    assert proof == expected
    assert len(STORE.calls) <= 1
    fetched = STORE.calls[0] if STORE.calls else []
    assert fetched == nodes_for_inclusion(index, size)
    assert len(fetched) <= _log2_bound(size)
    verify_inclusion(
        leaf_hash=leaf_hash(LEAF_DATA[index]),
        index=index,
        size=size,
        proof=proof,
        root=_ref_mth(0, size),
    )


def test_inclusion_proofs_for_every_index_of_small_trees() -> None:
    for size in range(1, 70):
        for index in range(size):
            _check_inclusion(index, size)


@st.composite
def index_and_size(draw: st.DrawFn, max_size: int = MAX_LEAVES) -> tuple[int, int]:
    size = draw(st.integers(1, max_size))
    return draw(st.integers(0, size - 1)), size


@settings(max_examples=300, deadline=None)
@given(index_and_size())
@example((0, 1))
@example((6, 7))
@example((2047, 2048))
@example((1024, 1025))
@example((999, 1537))
def test_inclusion_proof_matches_reference_and_verifies(case: tuple[int, int]) -> None:
    _check_inclusion(*case)


def test_inclusion_proof_known_answer() -> None:
    # From the vectors: leaf 0 of the eight-leaf RFC 6962 tree.
    store = NodeStore(RFC6962_LEAVES)
    proof = inclusion_proof(0, 8, store.fetcher(8))
    assert [base64.b64encode(item).decode() for item in proof] == [
        "lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c=",
        "Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=",
        "a0eq8p7jwq+a+Im8H7klTavTEXfxYjLdaqsDXKOb9uQ=",
    ]


def _flip(data: bytes, bit: int) -> bytes:
    position = bit // 8 % len(data)
    return data[:position] + bytes([data[position] ^ 1 << bit % 8]) + data[position + 1 :]


@settings(max_examples=200, deadline=None)
@given(index_and_size(max_size=600), st.data())
def test_inclusion_proof_with_any_flipped_bit_is_rejected(
    case: tuple[int, int], data: st.DataObject
) -> None:
    index, size = case
    proof, _ = _ref_path(index, 0, size)
    assume(proof)
    which = data.draw(st.integers(0, len(proof) - 1))
    bit = data.draw(st.integers(0, 255))
    proof[which] = _flip(proof[which], bit)
    with pytest.raises(InclusionProofError) as failure:
        verify_inclusion(
            leaf_hash=leaf_hash(LEAF_DATA[index]),
            index=index,
            size=size,
            proof=proof,
            root=_ref_mth(0, size),
        )
    assert failure.value.facts["expected_root"] == _ref_mth(0, size).hex()
    assert failure.value.facts["computed_root"] != failure.value.facts["expected_root"]


@settings(max_examples=200, deadline=None)
@given(index_and_size(max_size=600), st.integers(0, 255), st.booleans())
def test_inclusion_with_altered_root_or_leaf_is_rejected(
    case: tuple[int, int], bit: int, alter_root: bool
) -> None:
    index, size = case
    proof, _ = _ref_path(index, 0, size)
    good_root, good_leaf = _ref_mth(0, size), leaf_hash(LEAF_DATA[index])
    with pytest.raises(InclusionProofError):
        verify_inclusion(
            leaf_hash=good_leaf if alter_root else _flip(good_leaf, bit),
            index=index,
            size=size,
            proof=proof,
            root=_flip(good_root, bit) if alter_root else good_root,
        )


@settings(max_examples=300, deadline=None)
@given(index_and_size(max_size=600), st.integers(-3, 3), st.integers(-3, 3))
@example((0, 3), 0, 1)  # same steps: the proof binds the root, not the size (see module doc)
@example((1, 2), 1, 1)
@example((5, 6), 1, 0)
def test_inclusion_with_altered_index_or_size_is_rejected_unless_same_steps(
    case: tuple[int, int], index_shift: int, size_shift: int
) -> None:
    index, size = case
    assume(index_shift or size_shift)
    proof, sides = _ref_path(index, 0, size)
    other_index, other_size = index + index_shift, size + size_shift

    def attempt() -> None:
        verify_inclusion(
            leaf_hash=leaf_hash(LEAF_DATA[index]),
            index=other_index,
            size=other_size,
            proof=proof,
            root=_ref_mth(0, size),
        )

    if 0 <= other_index < other_size and _ref_path(other_index, 0, other_size)[1] == sides:
        attempt()  # RFC 9162 verification replays only the sides: this must pass
    else:
        with pytest.raises(InclusionProofError):
            attempt()


@pytest.mark.parametrize(
    ("index", "size"), [(0, 0), (1, 1), (5, 3), (-1, 4), (0, -1), (True, 2), (2**64, 3)]
)
def test_inclusion_proof_refuses_index_outside_tree(index: int, size: int) -> None:
    with pytest.raises(InvalidInputError):
        inclusion_proof(index, size, STORE.fetcher(MAX_LEAVES))


def test_verify_inclusion_refuses_wrong_lengths() -> None:
    proof, _ = _ref_path(3, 0, 10)
    good: dict[str, Any] = {
        "leaf_hash": leaf_hash(LEAF_DATA[3]),
        "index": 3,
        "size": 10,
        "proof": proof,
        "root": _ref_mth(0, 10),
    }
    verify_inclusion(**good)
    for change in (
        {"proof": proof[:-1]},
        {"proof": [*proof, proof[0]]},
        {"proof": [proof[0] + b"\x00", *proof[1:]]},
        {"root": good["root"][:31]},
        {"leaf_hash": good["leaf_hash"] + b"\x00"},
    ):
        with pytest.raises(InclusionProofError):
            verify_inclusion(**(good | change))


# --- consistency proofs -----------------------------------------------------------------------


def _check_consistency(size1: int, size2: int) -> None:
    STORE.calls.clear()
    proof = consistency_proof(size1, size2, STORE.fetcher(size2))
    expected, _ = _ref_proof(size1, size2)
    assert proof == expected
    fetched = STORE.calls[0] if STORE.calls else []
    assert len(STORE.calls) <= 1
    assert fetched == nodes_for_consistency(size1, size2)
    assert len(fetched) <= _log2_bound(size2)
    verify_consistency(
        size1=size1, size2=size2, proof=proof, root1=_ref_mth(0, size1), root2=_ref_mth(0, size2)
    )


def test_consistency_proofs_for_every_pair_of_small_sizes() -> None:
    for size2 in range(1, 70):
        for size1 in range(1, size2 + 1):
            _check_consistency(size1, size2)


@st.composite
def two_sizes(draw: st.DrawFn, max_size: int = MAX_LEAVES) -> tuple[int, int]:
    size2 = draw(st.integers(1, max_size))
    return draw(st.integers(1, size2)), size2


@settings(max_examples=300, deadline=None)
@given(two_sizes())
@example((1, 1))
@example((1, 2048))
@example((1024, 2048))
@example((1023, 1025))
@example((6, 8))
def test_consistency_proof_matches_reference_and_verifies(case: tuple[int, int]) -> None:
    _check_consistency(*case)


@pytest.mark.parametrize(
    ("size1", "size2", "expected"),
    [
        (
            6,
            8,
            [
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            [
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ],
)
def test_consistency_proof_known_answers(size1: int, size2: int, expected: list[str]) -> None:
    store = NodeStore(RFC6962_LEAVES)
    proof = consistency_proof(size1, size2, store.fetcher(size2))
    assert [item.hex() for item in proof] == expected
    verify_consistency(
        size1=size1,
        size2=size2,
        proof=proof,
        root1=bytes.fromhex(RFC6962_ROOTS[size1]),
        root2=bytes.fromhex(RFC6962_ROOTS[size2]),
    )


@settings(max_examples=200, deadline=None)
@given(two_sizes(max_size=600), st.data())
def test_consistency_proof_with_any_flipped_bit_is_rejected(
    case: tuple[int, int], data: st.DataObject
) -> None:
    size1, size2 = case
    proof, _ = _ref_proof(size1, size2)
    root1, root2 = _ref_mth(0, size1), _ref_mth(0, size2)
    target = data.draw(st.sampled_from(["proof", "root1", "root2"] if proof else ["root1"]))
    bit = data.draw(st.integers(0, 255))
    if target == "proof":
        which = data.draw(st.integers(0, len(proof) - 1))
        proof[which] = _flip(proof[which], bit)
    elif target == "root1":
        root1 = _flip(root1, bit)
    else:
        root2 = _flip(root2, bit)
    with pytest.raises(ConsistencyProofError):
        verify_consistency(size1=size1, size2=size2, proof=proof, root1=root1, root2=root2)


@settings(max_examples=300, deadline=None)
@given(two_sizes(max_size=600), st.integers(-3, 3), st.integers(-3, 3))
@example((1, 4), 0, -1)  # same steps: sizes are bound by the signed checkpoint, not the proof
@example((3, 7), 1, 0)
def test_consistency_with_altered_sizes_is_rejected_unless_same_steps(
    case: tuple[int, int], shift1: int, shift2: int
) -> None:
    size1, size2 = case
    assume(shift1 or shift2)
    proof, roles = _ref_proof(size1, size2)
    other1, other2 = size1 + shift1, size2 + shift2

    def attempt() -> None:
        verify_consistency(
            size1=other1,
            size2=other2,
            proof=proof,
            root1=_ref_mth(0, size1),
            root2=_ref_mth(0, size2),
        )

    if size1 == size2:  # empty proof, equal roots: any other equal pair says the same
        same_steps = 0 < other1 == other2
    else:
        same_steps = 0 < other1 < other2 and _ref_proof(other1, other2)[1] == roles
    if same_steps:
        attempt()
    else:
        with pytest.raises(ConsistencyProofError):
            attempt()


@pytest.mark.parametrize(("size1", "size2"), [(0, 0), (0, 5), (6, 5), (-1, 3), (1, True)])
def test_consistency_proof_refuses_bad_sizes(size1: int, size2: int) -> None:
    with pytest.raises(InvalidInputError):
        consistency_proof(size1, size2, STORE.fetcher(MAX_LEAVES))


def test_consistency_proof_between_equal_sizes_is_empty() -> None:
    STORE.calls.clear()
    assert consistency_proof(37, 37, STORE.fetcher(37)) == []
    assert STORE.calls == []


def test_proof_errors_are_verification_errors_with_facts() -> None:
    with pytest.raises(VerificationError) as failure:
        verify_consistency(size1=2, size2=1, proof=[], root1=EMPTY_ROOT, root2=EMPTY_ROOT)
    assert failure.value.facts["size1"] == 2
    assert failure.value.facts["size2"] == 1
    assert "smaller" in failure.value.facts["reason"]


# --- the node store contract ------------------------------------------------------------------


def test_fetch_returning_too_few_hashes_is_not_found() -> None:
    def short(ids: Sequence[NodeId]) -> list[bytes]:
        return [STORE.nodes[node] for node in ids][:-1]

    with pytest.raises(NotFoundError, match="returned"):
        root(7, short)


def test_fetch_returning_bad_hash_is_refused() -> None:
    def bad(ids: Sequence[NodeId]) -> list[bytes]:
        return [b"\x00" * 31 for _ in ids]

    with pytest.raises(InvalidInputError):
        inclusion_proof(3, 9, bad)


@pytest.mark.parametrize("size", [0, 1, 2, 3, 5, 8, 13, 1000, 2**40 + 5])
def test_frontier_ids_are_the_perfect_subtrees_of_the_tree(size: int) -> None:
    ids = frontier_ids(size)
    assert len(ids) == size.bit_count()
    covered = 0
    for level, index in ids:
        assert index << level == covered  # contiguous, aligned, largest first
        covered += 1 << level
    assert covered == size


# --- appending --------------------------------------------------------------------------------


def test_append_from_empty_matches_reference_nodes() -> None:
    size = 300
    grown = append_leaves(0, (), [leaf_hash(data) for data in LEAF_DATA[:size]])
    assert grown.size == size
    assert grown.root == _ref_mth(0, size)
    expected = {
        (level, index): _ref_mth(index << level, (index + 1) << level)
        for level in range(size.bit_length())
        for index in range(size >> level)
    }
    assert dict(grown.nodes) == expected
    assert len(grown.nodes) == len(expected)
    assert grown.frontier == tuple(expected[node] for node in frontier_ids(size))


def _grow_in_batches(batches: list[int]) -> tuple[merkle.AppendResult, dict[NodeId, bytes]]:
    size = 0
    frontier: Sequence[bytes] = ()
    nodes: dict[NodeId, bytes] = {}
    grown = append_leaves(0, (), [])
    for count in batches:
        new = [leaf_hash(data) for data in LEAF_DATA[size : size + count]]
        grown = append_leaves(size, frontier, new)
        for node, value in grown.nodes:
            assert node not in nodes, f"{node} emitted twice"
            nodes[node] = value
        size, frontier = grown.size, grown.frontier
        assert grown.root == _ref_mth(0, size)
        assert root_from_frontier(size, frontier) == grown.root
    return grown, nodes


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, 70), max_size=25))
@example([1] * 40)
@example([0, 0, 3, 0])
@example([255, 1, 256])
def test_append_in_any_batches_equals_append_at_once(batches: list[int]) -> None:
    grown, nodes = _grow_in_batches(batches)
    size = sum(batches)
    at_once = append_leaves(0, (), [leaf_hash(data) for data in LEAF_DATA[:size]])
    assert grown.root == at_once.root
    assert grown.frontier == at_once.frontier
    assert nodes == dict(at_once.nodes)


def test_append_nothing_changes_nothing() -> None:
    frontier = [STORE.nodes[node] for node in frontier_ids(11)]
    grown = append_leaves(11, frontier, [])
    assert (grown.size, list(grown.frontier), len(grown.nodes)) == (11, frontier, 0)
    assert grown.root == _ref_mth(0, 11)
    assert append_leaves(0, (), []).root == EMPTY_ROOT


def test_node_batch_is_a_sequence_of_id_hash_pairs() -> None:
    grown = append_leaves(5, [STORE.nodes[node] for node in frontier_ids(5)], [b"\x07" * 32] * 4)
    items = list(grown.nodes)
    assert len(items) == len(grown.nodes) == 4 + 2 + 1 + 1  # levels 0..3, from 5 to 9 leaves
    assert [grown.nodes[i] for i in range(len(items))] == items
    assert grown.nodes[-1] == items[-1]
    assert grown.nodes[1:3] == items[1:3]
    assert [node for node, _ in items] == [
        (0, 5),
        (0, 6),
        (0, 7),
        (0, 8),
        (1, 2),
        (1, 3),
        (2, 1),
        (3, 0),
    ]
    assert [(run.level, run.first, len(run.hashes)) for run in grown.nodes.runs] == [
        (0, 5, 4),
        (1, 2, 2),
        (2, 1, 1),
        (3, 0, 1),
    ]
    with pytest.raises(IndexError):
        grown.nodes[len(items)]
    again = append_leaves(5, [STORE.nodes[node] for node in frontier_ids(5)], [b"\x07" * 32] * 4)
    assert again == grown


@pytest.mark.parametrize(
    ("size", "frontier", "leaves"),
    [
        (3, [b"\x00" * 32], []),  # size 3 has two frontier nodes
        (2, [b"\x00" * 32, b"\x00" * 32], []),
        (1, [b"\x00" * 31], []),
        (0, [], [b"\x00" * 32, b"\x00" * 33]),
        (-1, [], []),
    ],
)
def test_append_refuses_malformed_input(
    size: int, frontier: list[bytes], leaves: list[bytes]
) -> None:
    with pytest.raises(InvalidInputError):
        append_leaves(size, frontier, leaves)


# --- streaming root ---------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(st.integers(0, MAX_LEAVES))
@example(0)
def test_root_from_leaf_hashes_matches_reference(size: int) -> None:
    assert root_from_leaf_hashes(leaf_hash(data) for data in LEAF_DATA[:size]) == _ref_mth(0, size)


def test_root_from_leaf_hashes_across_chunks() -> None:
    # More than two of the internal chunks, and not a multiple of any.
    leaves = [_sha(index.to_bytes(4, "big")) for index in range(2 * 65536 + 1234)]
    expected = append_leaves(0, (), leaves).root
    assert root_from_leaf_hashes(iter(leaves)) == expected


def test_root_from_leaf_hashes_refuses_bad_hash() -> None:
    with pytest.raises(InvalidInputError, match="#1"):
        root_from_leaf_hashes([b"\x00" * 32, b"\x00" * 16])
