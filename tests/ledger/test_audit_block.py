"""The audit's block results as workers send them: JSON that reads back to the same result,
and the small pure helpers the audit combines blocks with."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agritrace.ledger import merkle
from agritrace.ledger.audit_block import (
    BlockProblem,
    BlockResult,
    block_count,
    fold,
    targets_in_block,
)

hashes = st.binary(min_size=32, max_size=32)
problems = st.builds(
    BlockProblem,
    index=st.integers(min_value=0, max_value=2**62),
    problem=st.sampled_from(["missing", "leaf", "chain", "node"]),
    message=st.text(),
    expected=st.none() | hashes.map(bytes.hex),
    found=st.none() | st.text(),
    next_stored=st.none() | st.integers(min_value=-(2**62), max_value=2**62),
)
results = st.builds(
    BlockResult,
    block=st.integers(min_value=0, max_value=2**40),
    verified=st.integers(min_value=0, max_value=2**30),
    tail=st.none() | hashes,
    last_chain=st.none() | hashes,
    at_targets=st.dictionaries(st.integers(min_value=1, max_value=2**62), hashes, max_size=5),
    problem=st.none() | problems,
)


@given(results)
def test_block_result_reads_back_from_its_json(result: BlockResult) -> None:
    line = result.to_json()
    assert "\n" not in line
    assert BlockResult.from_json(line) == result


@pytest.mark.parametrize("garbage", ["", "{}", "[1]", '{"block": "x"}', "not json"])
def test_block_result_refuses_other_json(garbage: str) -> None:
    with pytest.raises((ValueError, KeyError, TypeError)):
        BlockResult.from_json(garbage)


@given(st.lists(hashes, min_size=1, max_size=12), st.data())
def test_fold_of_a_prefix_and_the_rest_folded_is_the_fold(
    frontier: list[bytes], data: st.DataObject
) -> None:
    split = data.draw(st.integers(min_value=0, max_value=len(frontier) - 1))
    assert fold([*frontier[:split], fold(frontier[split:])]) == fold(frontier)


@given(st.integers(min_value=1, max_value=300), st.integers(min_value=0, max_value=5))
def test_fold_of_a_frontier_is_the_root(size: int, level: int) -> None:
    leaves = [merkle.leaf_hash(n.to_bytes(4, "big")) for n in range(size)]
    grown = merkle.append_leaves(0, [], leaves)
    assert fold(grown.frontier) == grown.root == merkle.root_from_leaf_hashes(leaves)
    assert block_count(size, level) == -(-size // (1 << level))


def test_a_checkpoint_on_a_boundary_belongs_to_the_block_that_ends_there() -> None:
    assert targets_in_block([0, 4, 5, 8, 9], block=0, level=2) == [4]
    assert targets_in_block([0, 4, 5, 8, 9], block=1, level=2) == [5, 8]
    assert targets_in_block([0, 4, 5, 8, 9], block=2, level=2) == [9]
