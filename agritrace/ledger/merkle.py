"""The ledger's Merkle tree: RFC 9162 §2.1 (same hashing as RFC 6962 §2.1), SHA-256.

Hashes (RFC 9162 §2.1.1): ``leaf_hash(d) = SHA-256(0x00 || d)``, ``node_hash(l, r) =
SHA-256(0x01 || l || r)``, and the root of the empty tree is :data:`EMPTY_ROOT` = SHA-256("").

Stored-node model. A persistence layer keeps the hashes of *perfect* subtrees only, each named
by a :data:`NodeId` ``(level, index)``: node ``(level, i)`` covers leaves
``[i * 2**level, (i + 1) * 2**level)``; level 0 holds the leaf hashes. Such a node never
changes once all its leaves exist, so rows are insert-only. The right edge of a tree whose size
is not a power of two is never stored: it is recomputed from the perfect subtrees it is made of
(at most one per set bit of the size).

Reading. :func:`root`, :func:`inclusion_proof` and :func:`consistency_proof` take a
:data:`Fetch` callable that returns the hashes of a batch of node ids in the order asked. Each
makes at most ONE call, for O(log n) ids, and only for nodes that are complete at the tree size
in question; :func:`nodes_for_root`, :func:`nodes_for_inclusion` and
:func:`nodes_for_consistency` name those ids beforehand (to pre-fetch or cache). A fetch that
returns the wrong number of hashes raises :class:`~agritrace.errors.NotFoundError`.

Writing. :func:`append_leaves` extends a tree given its size and its frontier (the hashes of
:func:`frontier_ids`, the compact range of the whole tree) and returns every new perfect node
to store (a :class:`NodeBatch`, one :class:`NodeRun` per level), the new frontier and the new
root. :func:`root_from_leaf_hashes` streams any number of leaf hashes in bounded memory (for
the audit). Both hash level by level in list comprehensions, about 0.5 s per million leaves.

Verifying. :func:`verify_inclusion` (RFC 9162 §2.1.3.2) and :func:`verify_consistency`
(§2.1.4.2) return ``None`` or raise :class:`InclusionProofError` /
:class:`ConsistencyProofError`, both :class:`~agritrace.errors.VerificationError`, with the facts
(hashes as lower-case hex). Conventions beyond the RFC, shared with transparency-dev/merkle and
its test vectors: a consistency proof from size 0 is refused (it proves nothing); equal sizes
need an empty proof and byte-equal roots; otherwise every hash must be exactly 32 bytes.

Note that a proof binds hashes to the root, not the sizes on their own: the verifiers replay
left/right steps, and claims with the same steps verify alike (leaf 0 of 3 or of 4 leaves;
consistency 1 -> 3 or 1 -> 4). Trust a (size, root) pair only as signed together in a
checkpoint.

Bad arguments to the builders (negative sizes, index out of range, malformed frontier) raise
:class:`~agritrace.errors.InvalidInputError`.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, count, islice, repeat
from typing import TypeAlias, overload

from agritrace.errors import InvalidInputError, NotFoundError, VerificationError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "AppendResult",
    "ConsistencyProofError",
    "Fetch",
    "InclusionProofError",
    "NodeBatch",
    "NodeId",
    "NodeRun",
    "append_leaves",
    "consistency_proof",
    "frontier_ids",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "nodes_for_consistency",
    "nodes_for_inclusion",
    "nodes_for_root",
    "root",
    "root_from_frontier",
    "root_from_leaf_hashes",
    "verify_consistency",
    "verify_inclusion",
]

#: ``(level, i)`` of a perfect subtree, covering leaves ``[i << level, (i + 1) << level)``.
NodeId: TypeAlias = tuple[int, int]
#: Returns the stored hashes of the given node ids, in the same order (one storage round trip).
Fetch: TypeAlias = Callable[[Sequence[NodeId]], Sequence[bytes]]

#: Size in bytes of every hash in the tree (SHA-256).
HASH_SIZE = 32
#: Root hash of the empty tree, SHA-256 of the empty string (RFC 9162 §2.1.1).
EMPTY_ROOT = hashlib.sha256(b"").digest()

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
# Leaves taken at a time by root_from_leaf_hashes: bounds its memory, keeps list work in C.
_STREAM_CHUNK = 1 << 16

_Range: TypeAlias = tuple[int, int]


class InclusionProofError(VerificationError):
    """An inclusion proof did not verify. Facts: ``index``, ``size``, ``reason`` and, when a
    root was computed, ``expected_root`` and ``computed_root`` (hex)."""


class ConsistencyProofError(VerificationError):
    """A consistency proof did not verify. Facts: ``size1``, ``size2``, ``reason`` and, when
    roots were computed, ``expected_root1``/``computed_root1``/``expected_root2``/
    ``computed_root2`` (hex)."""


@dataclass(frozen=True, slots=True)
class NodeRun:
    """New nodes of one level with consecutive indices: ``(level, first + j)`` has ``hashes[j]``."""

    level: int
    first: int
    hashes: tuple[bytes, ...]


class NodeBatch(Sequence[tuple[NodeId, bytes]]):
    """The new nodes of an append, as an immutable sequence of ``((level, index), hash)``,
    ordered by level then index.

    Held as one :class:`NodeRun` per level and built item by item only when read: two million
    small tuples made up front would cost more than all the hashing (the cyclic garbage
    collector scans them), and a store can stream them into its insert instead.
    """

    __slots__ = ("_runs", "_starts")

    def __init__(self, runs: Iterable[NodeRun]) -> None:
        self._runs = tuple(runs)
        starts = [0]
        for run in self._runs:
            starts.append(starts[-1] + len(run.hashes))
        self._starts = tuple(starts)

    @property
    def runs(self) -> tuple[NodeRun, ...]:
        """The nodes as one run per level, lowest level first."""
        return self._runs

    def __len__(self) -> int:
        return self._starts[-1]

    def __iter__(self) -> Iterator[tuple[NodeId, bytes]]:
        for run in self._runs:
            ids = zip(repeat(run.level), count(run.first), strict=False)  # both are endless
            yield from zip(ids, run.hashes, strict=False)

    @overload
    def __getitem__(self, position: int) -> tuple[NodeId, bytes]: ...

    @overload
    def __getitem__(self, position: slice) -> list[tuple[NodeId, bytes]]: ...

    def __getitem__(
        self, position: int | slice
    ) -> tuple[NodeId, bytes] | list[tuple[NodeId, bytes]]:
        if isinstance(position, slice):
            return [self[item] for item in range(*position.indices(len(self)))]
        if position < 0:
            position += len(self)
        if not 0 <= position < len(self):
            raise IndexError("NodeBatch index out of range")
        which = bisect_right(self._starts, position) - 1
        run = self._runs[which]
        offset = position - self._starts[which]
        return (run.level, run.first + offset), run.hashes[offset]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NodeBatch):
            return NotImplemented
        return self._runs == other._runs

    def __hash__(self) -> int:
        return hash(self._runs)

    def __repr__(self) -> str:
        return f"NodeBatch({len(self)} nodes in {len(self._runs)} levels)"


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What :func:`append_leaves` produced.

    ``nodes`` holds every perfect subtree completed by the append, level 0 (the new leaves)
    included, as ``((level, index), hash)``; the store inserts exactly these. ``frontier`` holds
    the hashes of ``frontier_ids(size)``, in that order; ``root`` is the new tree's root.
    """

    size: int
    root: bytes
    frontier: tuple[bytes, ...]
    nodes: NodeBatch


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 §2.1.1 leaf hash: SHA-256(0x00 || data)."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


# --- shape of the tree ------------------------------------------------------------------------


def frontier_ids(size: int) -> list[NodeId]:
    """The perfect subtrees a tree of ``size`` leaves is made of, left (largest) to right.

    One per set bit of ``size``; also called the compact range ``[0, size)``.
    """
    _check_count("size", size)
    return _range_ids(0, size)


def nodes_for_root(size: int) -> list[NodeId]:
    """The node ids :func:`root` fetches for ``size`` (empty for the empty tree)."""
    return frontier_ids(size)


def nodes_for_inclusion(index: int, size: int) -> list[NodeId]:
    """The node ids :func:`inclusion_proof` fetches: O(log size) of them."""
    return _ids_for(_inclusion_ranges(index, size))


def nodes_for_consistency(size1: int, size2: int) -> list[NodeId]:
    """The node ids :func:`consistency_proof` fetches: O(log size2) of them."""
    return _ids_for(_consistency_ranges(size1, size2))


def _range_ids(begin: int, end: int) -> list[NodeId]:
    # The perfect subtrees of the RFC subtree over [begin, end), left to right. RFC subtrees
    # start at a multiple of the power of two at least their width, so each piece is aligned.
    ids: list[NodeId] = []
    width = end - begin
    position = begin
    for level in range(width.bit_length() - 1, -1, -1):
        if width >> level & 1:
            ids.append((level, position >> level))
            position += 1 << level
    return ids


def _ids_for(ranges: Sequence[_Range]) -> list[NodeId]:
    return [node for begin, end in ranges for node in _range_ids(begin, end)]


def _split(width: int) -> int:
    # RFC 9162 §2.1.1: k, the largest power of two smaller than width (width > 1).
    return 1 << ((width - 1).bit_length() - 1)


def _inclusion_ranges(index: int, size: int) -> list[_Range]:
    # RFC 9162 §2.1.3.1 PATH(m, D[n]), as the leaf ranges of the subtrees whose hashes it lists,
    # leaf to root. Only the first right sibling met going down can be imperfect: below it
    # every subtree is perfect. So the proof needs O(log n) stored nodes.
    _check_count("size", size)
    _check_count("index", index)
    if index >= size:
        raise InvalidInputError(
            f"leaf index {index} is not in a tree of size {size}", index=index, size=size
        )
    ranges: list[_Range] = []
    begin, end = 0, size
    while end - begin > 1:
        middle = begin + _split(end - begin)
        if index < middle:
            ranges.append((middle, end))
            end = middle
        else:
            ranges.append((begin, middle))
            begin = middle
    ranges.reverse()
    return ranges


def _consistency_ranges(size1: int, size2: int) -> list[_Range]:
    # RFC 9162 §2.1.4.1 SUBPROOF(m, D[n], b) with absolute leaf positions, root to leaf, then
    # reversed. As for inclusion, at most one listed subtree is imperfect.
    _check_count("size1", size1)
    _check_count("size2", size2)
    if not 0 < size1 <= size2:
        raise InvalidInputError(
            f"no consistency proof from size {size1} to size {size2} (need 0 < size1 <= size2)",
            size1=size1,
            size2=size2,
        )
    ranges: list[_Range] = []
    begin, end = 0, size2
    whole_old_tree = True  # the flag b of SUBPROOF
    while size1 != end:
        middle = begin + _split(end - begin)
        if size1 <= middle:
            ranges.append((middle, end))
            end = middle
        else:
            ranges.append((begin, middle))
            begin = middle
            whole_old_tree = False
    if not whole_old_tree:
        ranges.append((begin, end))
    ranges.reverse()
    return ranges


def _check_count(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInputError(
            f"{name} must be a non-negative integer, got {value!r}", **{name: value}
        )


# --- reading from the node store --------------------------------------------------------------


def root(size: int, fetch: Fetch) -> bytes:
    """MTH of the first ``size`` leaves (RFC 9162 §2.1.1), from at most popcount(size) nodes."""
    ids = frontier_ids(size)
    if not ids:
        return EMPTY_ROOT
    return _fold(_fetch(fetch, ids))


def inclusion_proof(index: int, size: int, fetch: Fetch) -> list[bytes]:
    """PATH(index, D[size]) of RFC 9162 §2.1.3.1: sibling hashes from the leaf up.

    Raises :class:`InvalidInputError` unless ``0 <= index < size``.
    """
    return _hashes_of(_inclusion_ranges(index, size), fetch)


def consistency_proof(size1: int, size2: int, fetch: Fetch) -> list[bytes]:
    """PROOF(size1, D[size2]) of RFC 9162 §2.1.4.1; empty when the sizes are equal.

    Raises :class:`InvalidInputError` unless ``0 < size1 <= size2``.
    """
    return _hashes_of(_consistency_ranges(size1, size2), fetch)


def _hashes_of(ranges: Sequence[_Range], fetch: Fetch) -> list[bytes]:
    pieces = [_range_ids(begin, end) for begin, end in ranges]
    ids = [node for piece in pieces for node in piece]
    if not ids:
        return []
    fetched = _fetch(fetch, ids)
    hashes: list[bytes] = []
    start = 0
    for piece in pieces:
        hashes.append(_fold(fetched[start : start + len(piece)]))
        start += len(piece)
    return hashes


def _fetch(fetch: Fetch, ids: list[NodeId]) -> Sequence[bytes]:
    hashes = fetch(ids)
    if len(hashes) != len(ids):
        raise NotFoundError(
            f"the node store returned {len(hashes)} hashes for {len(ids)} nodes",
            requested=len(ids),
            returned=len(hashes),
        )
    for node, value in zip(ids, hashes, strict=True):
        if len(value) != HASH_SIZE:
            raise InvalidInputError(
                f"the node store returned a {len(value)}-byte hash for node {node}",
                node=node,
            )
    return hashes


def _fold(hashes: Sequence[bytes]) -> bytes:
    # The RFC tree over consecutive perfect subtrees (largest first) nests to the right.
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


# --- appending --------------------------------------------------------------------------------


def root_from_frontier(size: int, frontier: Sequence[bytes]) -> bytes:
    """The root of a tree given the hashes of its :func:`frontier_ids`."""
    _frontier_by_level(size, frontier)
    return _fold(frontier) if frontier else EMPTY_ROOT


def append_leaves(
    size: int, frontier_hashes: Sequence[bytes], new_leaf_hashes: Iterable[bytes]
) -> AppendResult:
    """Append leaf hashes to a tree of ``size`` leaves.

    ``frontier_hashes`` must hold the hashes of ``frontier_ids(size)``, in that order (one per
    set bit of ``size``); every hash must be 32 bytes. The work is O(k + log n) hashes for k
    new leaves and needs no other stored node. Raises :class:`InvalidInputError` for a
    frontier of the wrong shape or a hash of the wrong length.
    """
    by_level = _frontier_by_level(size, frontier_hashes)
    leaves = list(new_leaf_hashes)
    _check_hashes(leaves)
    runs: list[NodeRun] = []
    by_level = _extend(size, by_level, leaves, runs)
    new_size = size + len(leaves)
    new_frontier = tuple(by_level[level] for level in sorted(by_level, reverse=True))
    return AppendResult(
        size=new_size,
        root=_fold(new_frontier) if new_frontier else EMPTY_ROOT,
        frontier=new_frontier,
        nodes=NodeBatch(runs),
    )


def root_from_leaf_hashes(leaf_hashes: Iterable[bytes]) -> bytes:
    """MTH of the given leaf hashes, read once, in memory bounded by a fixed chunk plus
    O(log n) hashes. Raises :class:`InvalidInputError` for a hash that is not 32 bytes."""
    iterator = iter(leaf_hashes)
    size = 0
    by_level: dict[int, bytes] = {}
    while chunk := list(islice(iterator, _STREAM_CHUNK)):
        _check_hashes(chunk)
        by_level = _extend(size, by_level, chunk, None)
        size += len(chunk)
    if not by_level:
        return EMPTY_ROOT
    return _fold([by_level[level] for level in sorted(by_level, reverse=True)])


def _frontier_by_level(size: int, frontier: Sequence[bytes]) -> dict[int, bytes]:
    _check_count("size", size)
    levels = [level for level, _ in _range_ids(0, size)]
    if len(frontier) != len(levels):
        raise InvalidInputError(
            f"a tree of size {size} has {len(levels)} frontier hashes, got {len(frontier)}",
            size=size,
            expected=len(levels),
            got=len(frontier),
        )
    _check_hashes(frontier)
    return dict(zip(levels, frontier, strict=True))


def _check_hashes(hashes: Sequence[bytes]) -> None:
    if not all(map(HASH_SIZE.__eq__, map(len, hashes))):
        bad = next(position for position, value in enumerate(hashes) if len(value) != HASH_SIZE)
        raise InvalidInputError(
            f"hash #{bad} is {len(hashes[bad])} bytes, not {HASH_SIZE}", position=bad
        )


def _extend(
    size: int,
    frontier: dict[int, bytes],
    leaves: list[bytes],
    runs: list[NodeRun] | None,
) -> dict[int, bytes]:
    # Level by level: at each level the new complete nodes are the indices [first, end) with
    # first = old_size >> level and end = new_size >> level; `row` holds their hashes. A node of
    # the next level pairs indices (2j, 2j + 1), so an odd `first` borrows the old frontier node
    # (first - 1), and an odd `end` leaves node end - 1 as the new frontier at this level. Once
    # first == end, old and new sizes agree on all higher bits: the rest of the frontier stands.
    # The loops are list comprehensions and zips so that the per-node work stays in C.
    sha256 = hashlib.sha256
    prefix = _NODE_PREFIX
    new_frontier: dict[int, bytes] = {}
    row = leaves
    level = 0
    first, end = size, size + len(leaves)
    while first < end:
        if runs is not None:
            runs.append(NodeRun(level=level, first=first, hashes=tuple(row)))
        if end & 1:
            new_frontier[level] = row[-1]
        pairs = iter(chain((frontier[level],), row) if first & 1 else row)
        # An odd one out at the end is the frontier node kept above: strict=False drops it.
        row = [
            sha256(prefix + left + right).digest()
            for left, right in zip(pairs, pairs, strict=False)
        ]
        level += 1
        first >>= 1
        end >>= 1
    for higher, value in frontier.items():
        if higher >= level:
            new_frontier[higher] = value
    return new_frontier


# --- verifying --------------------------------------------------------------------------------


def verify_inclusion(
    *, leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` leaves with ``root``.

    RFC 9162 §2.1.3.2. Returns ``None``; raises :class:`InclusionProofError` when the proof
    does not verify, including for ``index >= size``, a proof of the wrong length, or any
    hash that is not 32 bytes.
    """

    def fail(reason: str, **facts: object) -> InclusionProofError:
        return InclusionProofError(
            f"inclusion proof for leaf {index} in tree of size {size} failed: {reason}",
            index=index,
            size=size,
            reason=reason,
            **facts,
        )

    for name, value in (("index", index), ("size", size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise fail(f"{name} is not a non-negative integer")
    if index >= size:
        raise fail("the index is not inside the tree")
    if len(leaf_hash) != HASH_SIZE or len(root) != HASH_SIZE:
        raise fail("the leaf hash and the root must be 32 bytes")
    if any(len(item) != HASH_SIZE for item in proof):
        raise fail("every proof hash must be 32 bytes")
    inner = (index ^ (size - 1)).bit_length()
    expected_length = inner + (index >> inner).bit_count()
    if len(proof) != expected_length:
        raise fail(
            f"the proof has {len(proof)} hashes, not {expected_length}",
            expected_length=expected_length,
        )
    node, last = index, size - 1
    computed = leaf_hash
    for sibling in proof:
        if node & 1 or node == last:
            computed = node_hash(sibling, computed)
            while not node & 1 and node:
                node >>= 1
                last >>= 1
        else:
            computed = node_hash(computed, sibling)
        node >>= 1
        last >>= 1
    if computed != root:
        raise fail(
            "the computed root differs",
            expected_root=bytes(root).hex(),
            computed_root=computed.hex(),
        )


def verify_consistency(
    *, size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Check that the tree of ``size2`` leaves with ``root2`` extends the one of ``size1``
    leaves with ``root1``.

    RFC 9162 §2.1.4.2. Returns ``None``; raises :class:`ConsistencyProofError` when the proof
    does not verify, including for ``size1 == 0`` or ``size1 > size2``, a non-empty proof for
    equal sizes, an empty one otherwise, or (for different sizes) any hash not 32 bytes.
    """

    def fail(reason: str, **facts: object) -> ConsistencyProofError:
        return ConsistencyProofError(
            f"consistency proof from size {size1} to size {size2} failed: {reason}",
            size1=size1,
            size2=size2,
            reason=reason,
            **facts,
        )

    for name, value in (("size1", size1), ("size2", size2)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise fail(f"{name} is not a non-negative integer")
    if size2 < size1:
        raise fail("size2 is smaller than size1")
    if size1 == 0:
        raise fail("a consistency proof from the empty tree proves nothing")
    if size1 == size2:
        if proof:
            raise fail("equal sizes need an empty proof")
        if root1 != root2:
            raise fail(
                "equal sizes need equal roots",
                expected_root1=bytes(root1).hex(),
                expected_root2=bytes(root2).hex(),
            )
        return
    if len(root1) != HASH_SIZE or len(root2) != HASH_SIZE:
        raise fail("both roots must be 32 bytes")
    if not proof:
        raise fail("different sizes need a non-empty proof")
    if any(len(item) != HASH_SIZE for item in proof):
        raise fail("every proof hash must be 32 bytes")
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)  # the old tree is one perfect subtree: the proof omits it
    node, last = size1 - 1, size2 - 1
    while node & 1:
        node >>= 1
        last >>= 1
    old = new = path[0]
    for sibling in path[1:]:
        if last == 0:
            raise fail("the proof is too long")
        if node & 1 or node == last:
            old = node_hash(sibling, old)
            new = node_hash(sibling, new)
            while not node & 1 and node:
                node >>= 1
                last >>= 1
        else:
            new = node_hash(new, sibling)
        node >>= 1
        last >>= 1
    if last != 0:
        raise fail("the proof is too short")
    if old != root1 or new != root2:
        raise fail(
            "the computed roots differ",
            expected_root1=bytes(root1).hex(),
            computed_root1=old.hex(),
            expected_root2=bytes(root2).hex(),
            computed_root2=new.hex(),
        )
