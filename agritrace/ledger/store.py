"""The ledger's persistence: append-only entries, stored tree nodes, the head and checkpoints.

Guarantees:

- An entry is stored as the exact RFC 8785 canonical bytes that were hashed, with its index
  (0-based, gap-free), its RFC 9162 leaf hash and its chain hash
  ``chain_i = SHA-256(chain_{i-1} || leaf_i)`` (``chain_{-1}`` = 32 zero bytes).
- Every perfect subtree hash is stored (levels >= 1 in ``ledger_node``; level 0 is the leaf
  hash column), so a root or proof for any size costs one query for O(log n) rows.
- Appends serialize on one point: the single ``ledger_head`` row, locked ``FOR UPDATE`` on
  PostgreSQL, and ``BEGIN IMMEDIATE`` on SQLite (see :func:`agritrace.db.begin_write`).
  Hashing and canonicalization happen before the lock is taken. A batch is one transaction.
- Appending content that is already present returns the original index and writes nothing.
- Checkpoints are signed only over the committed head, never for a size below the latest one,
  so no two stored checkpoints can be inconsistent.
- There is no update or delete path for ledger rows in this module (or anywhere else).

:func:`append` never commits: it runs inside the caller's transaction so that a domain
change and its ledger entry commit together. :func:`sign_checkpoint` commits its own.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Select,
    SmallInteger,
    String,
    Text,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Session, mapped_column

from agritrace.db import Base, UTCDateTime, begin_write, driver_rows, utcnow
from agritrace.errors import ConflictError, InvalidInputError, NotFoundError
from agritrace.ledger import merkle
from agritrace.ledger.canonical import to_canonical_bytes
from agritrace.ledger.checkpoint import Checkpoint, sign_note

__all__ = [
    "ZERO_CHAIN",
    "Appended",
    "Head",
    "LedgerCheckpoint",
    "LedgerEntry",
    "LedgerHead",
    "LedgerNode",
    "LedgerSubject",
    "NewEntry",
    "append",
    "checkpoint_at_least",
    "consistency_proof",
    "fetcher",
    "get_checkpoint",
    "get_entry",
    "head",
    "inclusion_proof",
    "inclusion_proofs",
    "indices_for_subject",
    "latest_checkpoint",
    "select_entries",
    "sign_checkpoint",
]

ZERO_CHAIN = bytes(32)
_IN_CHUNK = 2_000
_ENTRY_COLUMNS = ("idx", "content", "leaf_hash", "chain_hash", "kind", "recorded_at")
MAX_ENTRY_BYTES = 64 * 1024


class LedgerEntry(Base):
    __tablename__ = "ledger_entry"

    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    chain_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    kind: Mapped[str] = mapped_column(String(40), index=True)
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class LedgerNode(Base):
    """Hash of the perfect subtree ``(level, idx)``, level >= 1."""

    __tablename__ = "ledger_node"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LedgerSubject(Base):
    """Which records (``lot:12``, ``facility:3``, ...) an entry is about, for lookups."""

    __tablename__ = "ledger_subject"
    __table_args__ = (Index("ix_ledger_subject_subject_idx", "subject", "idx"),)

    idx: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("ledger_entry.idx"), primary_key=True, autoincrement=False
    )
    subject: Mapped[str] = mapped_column(String(80), primary_key=True)


class LedgerHead(Base):
    """The single row appends lock on: current size, chain hash and root."""

    __tablename__ = "ledger_head"

    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger)
    chain_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LedgerCheckpoint(Base):
    """A signed C2SP checkpoint note over the tree of ``size`` entries."""

    __tablename__ = "ledger_checkpoint"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


@dataclass(frozen=True, slots=True)
class NewEntry:
    """An entry to append: a JSON body with a string ``type`` and the subjects it concerns."""

    body: Mapping[str, Any]
    subjects: Sequence[str] = field(default=())


@dataclass(frozen=True, slots=True)
class Appended:
    index: int
    leaf_hash: bytes
    new: bool


@dataclass(frozen=True, slots=True)
class Head:
    size: int
    root_hash: bytes
    chain_hash: bytes


def _prepare(entry: NewEntry) -> tuple[bytes, bytes, str]:
    kind = entry.body.get("type")
    if not isinstance(kind, str) or not kind or len(kind) > 40:
        raise InvalidInputError("a ledger entry needs a 'type' string of 1-40 characters")
    content = to_canonical_bytes(dict(entry.body))
    if len(content) > MAX_ENTRY_BYTES:
        raise InvalidInputError(
            f"a ledger entry is limited to {MAX_ENTRY_BYTES} bytes, this one has {len(content)}"
        )
    for subject in entry.subjects:
        if not subject or len(subject) > 80:
            raise InvalidInputError(f"ledger subject {subject!r} must be 1-80 characters")
    return content, merkle.leaf_hash(content), kind


# Stored nodes by id in ONE statement, optionally with the head's size in the same round trip
# (a proof must know the tree exists). Level 0 is the entries' leaf hash; the head row comes
# back as level -1. Every lookup is a primary-key probe on both databases:
# - PostgreSQL: one fixed statement whatever the number of ids (arrays joined through
#   unnest), so psycopg prepares it once and the server never plans it again;
# - SQLite: a VALUES list joined to the table (a row-value "(level, idx) IN (...)" would read
#   the whole table), one statement text per shape, kept in sqlite3's statement cache.
_HEAD_SQL = "SELECT -1, size, root_hash FROM ledger_head WHERE id = 1"
_PG_NODES_SQL = (
    "SELECT 0, idx, leaf_hash FROM ledger_entry WHERE idx = ANY(%(leaves)s::bigint[])"
    " UNION ALL SELECT n.level, n.idx, n.hash"
    " FROM unnest(%(levels)s::smallint[], %(indices)s::bigint[]) AS w(level, idx)"
    " JOIN ledger_node n ON n.level = w.level AND n.idx = w.idx"
)


@functools.lru_cache(maxsize=512)
def _sqlite_nodes_sql(leaves: int, inner: int, with_head: bool) -> str:
    parts = [_HEAD_SQL] if with_head else []
    if leaves:
        marks = ", ".join("?" * leaves)
        parts.append(f"SELECT 0, idx, leaf_hash FROM ledger_entry WHERE idx IN ({marks})")  # noqa: S608 - placeholders only
    if inner:
        pairs = ", ".join(["(?, ?)"] * inner)
        parts.append(
            "SELECT n.level, n.idx, n.hash"  # noqa: S608 - placeholders only
            f" FROM (VALUES {pairs}) AS w"
            " JOIN ledger_node n ON n.level = w.column1 AND n.idx = w.column2"
        )
    return " UNION ALL ".join(parts)


def _pg_array(values: Iterable[int]) -> str:
    return "{" + ",".join(map(str, values)) + "}"


def _read_nodes(
    session: Session, ids: Sequence[merkle.NodeId], *, with_head: bool = False
) -> tuple[dict[merkle.NodeId, bytes], int | None]:
    """The stored hashes of ``ids`` that exist, by id, and (``with_head``) the head's size.

    One round trip through the session's connection and transaction (pending ORM changes are
    flushed first, as a query would), driver SQL for the hot path of proofs.
    """
    session.flush()
    connection = session.connection()
    leaves = [index for level, index in ids if level == 0]
    inner = [(level, index) for level, index in ids if level > 0]
    if connection.dialect.name == "postgresql":
        sql = _HEAD_SQL + " UNION ALL " + _PG_NODES_SQL if with_head else _PG_NODES_SQL
        # Array literals, not lists: psycopg types a list of ints by its largest value, and a
        # statement is prepared only once it has been run with the same parameter types.
        params: Any = {
            "leaves": _pg_array(leaves),
            "levels": _pg_array(level for level, _ in inner),
            "indices": _pg_array(index for _, index in inner),
        }
    else:
        if not ids and not with_head:
            return {}, None
        sql = _sqlite_nodes_sql(len(leaves), len(inner), with_head)
        params = (*leaves, *(value for node in inner for value in node))
    found: dict[merkle.NodeId, bytes] = {}
    size: int | None = None
    for level, index, digest in driver_rows(connection, sql, params):
        if level < 0:
            size = index
        else:
            found[level, index] = digest
    if with_head and size is None:
        raise NotFoundError("the ledger head row is missing: run 'agritrace init'")
    return found, size


def fetcher(session: Session) -> merkle.Fetch:
    """A :data:`merkle.Fetch` reading stored nodes in one query. Missing nodes are left out,
    which the tree code reports as NotFoundError."""

    def fetch(ids: Sequence[merkle.NodeId]) -> Sequence[bytes]:
        found, _ = _read_nodes(session, ids)
        return [found[node] for node in ids if node in found]

    return fetch


def _lock_head(session: Session) -> LedgerHead:
    row = session.scalars(
        select(LedgerHead).where(LedgerHead.id == 1).with_for_update()
    ).one_or_none()
    if row is None:
        raise NotFoundError("the ledger head row is missing: run 'agritrace init'")
    return row


def head(session: Session) -> Head:
    """The current (committed, as seen by this session) size, root and chain hash."""
    row = session.execute(
        select(LedgerHead.size, LedgerHead.root_hash, LedgerHead.chain_hash).where(
            LedgerHead.id == 1
        )
    ).one_or_none()
    if row is None:
        raise NotFoundError("the ledger head row is missing: run 'agritrace init'")
    return Head(size=row[0], root_hash=row[1], chain_hash=row[2])


def _existing(session: Session, leaf_hashes: Sequence[bytes]) -> dict[bytes, int]:
    """The index of each leaf hash already stored (driver SQL: a batch asks for thousands)."""
    found: dict[bytes, int] = {}
    unique = list(dict.fromkeys(leaf_hashes))
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    for start in range(0, len(unique), _IN_CHUNK):
        chunk = unique[start : start + _IN_CHUNK]
        params: tuple[Any, ...]
        if postgres:  # one statement (bytea[] whatever the count), prepared once
            sql, params = _PG_EXISTING_SQL, (chunk,)
        else:
            sql, params = _sqlite_existing_sql(len(chunk)), tuple(chunk)
        found.update(connection.exec_driver_sql(sql, params).fetchall())
    return found


_PG_EXISTING_SQL = "SELECT leaf_hash, idx FROM ledger_entry WHERE leaf_hash = ANY(%s::bytea[])"


@functools.lru_cache(maxsize=64)
def _sqlite_existing_sql(count: int) -> str:
    marks = ", ".join("?" * count)
    return f"SELECT leaf_hash, idx FROM ledger_entry WHERE leaf_hash IN ({marks})"  # noqa: S608 - placeholders only


@functools.lru_cache(maxsize=16)
def _insert_sql(table: str, columns: tuple[str, ...], mark: str) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"  # noqa: S608 - our own table and column names


def _insert_rows(
    connection: Connection, model: type[Base], columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    """Insert plain values (ints, bytes, text, values already bound) with the driver's own
    executemany: SQLAlchemy's per-row bind processing cost more than the inserts."""
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    connection.exec_driver_sql(_insert_sql(model.__tablename__, columns, mark), rows)


def _bound(connection: Connection, column: Any, value: Any) -> Any:
    """``value`` as SQLAlchemy would hand it to the driver for ``column`` (once, not per row)."""
    process = column.type.dialect_impl(connection.dialect).bind_processor(connection.dialect)
    return value if process is None else process(value)


def append(session: Session, entries: Sequence[NewEntry]) -> list[Appended]:
    """Append ``entries`` in the caller's transaction; return one result per entry, in order.

    An entry whose content is already in the ledger (or earlier in the same batch) is not
    stored again: its result carries the original index and ``new=False``. Raises
    InvalidInputError for an entry that cannot be canonicalized. Does not commit.
    """
    prepared = [_prepare(entry) for entry in entries]  # hash before taking the lock
    if not prepared:
        return []
    begin_write(session)
    row = _lock_head(session)
    known = _existing(session, [leaf for _, leaf, _ in prepared])
    size, chain = row.size, row.chain_hash
    connection = session.connection()
    now = _bound(connection, LedgerEntry.__table__.c.recorded_at, utcnow())
    results: list[Appended] = []
    new_leaves: list[bytes] = []
    entry_rows: list[tuple[int, bytes, bytes, bytes, str, Any]] = []
    subject_rows: list[tuple[int, str]] = []
    sha256 = hashlib.sha256
    for entry, (content, leaf, kind) in zip(entries, prepared, strict=True):
        if leaf in known:
            results.append(Appended(index=known[leaf], leaf_hash=leaf, new=False))
            continue
        index = size + len(new_leaves)
        known[leaf] = index
        chain = sha256(chain + leaf).digest()
        new_leaves.append(leaf)
        entry_rows.append((index, content, leaf, chain, kind, now))
        subject_rows.extend((index, subject) for subject in dict.fromkeys(entry.subjects))
        results.append(Appended(index=index, leaf_hash=leaf, new=True))
    if not new_leaves:
        return results
    frontier = fetcher(session)(merkle.frontier_ids(size))
    grown = merkle.append_leaves(size, frontier, new_leaves)
    _insert_rows(connection, LedgerEntry, _ENTRY_COLUMNS, entry_rows)
    if subject_rows:
        _insert_rows(connection, LedgerSubject, ("idx", "subject"), subject_rows)
    node_rows = [
        (run.level, run.first + offset, digest)
        for run in grown.nodes.runs
        if run.level > 0
        for offset, digest in enumerate(run.hashes)
    ]
    if node_rows:
        _insert_rows(connection, LedgerNode, ("level", "idx", "hash"), node_rows)
    row.size = grown.size
    row.chain_hash = chain
    row.root_hash = grown.root
    session.flush()
    return results


def select_entries() -> Select[LedgerEntry]:
    """All entries in index order (stream it with ``yield_per``)."""
    return select(LedgerEntry).order_by(LedgerEntry.idx)


def get_entry(session: Session, index: int) -> LedgerEntry:
    if index < 0:
        raise InvalidInputError(key="ledger.negative_index", index=index)
    entry = session.get(LedgerEntry, index)
    if entry is None:
        raise NotFoundError(key="ledger.no_entry", index=index)
    return entry


def indices_for_subject(session: Session, subject: str) -> list[int]:
    return list(
        session.scalars(
            select(LedgerSubject.idx)
            .where(LedgerSubject.subject == subject)
            .order_by(LedgerSubject.idx)
        )
    )


def _check_size(session: Session, size: int) -> Head:
    current = head(session)
    if size < 0 or size > current.size:
        raise _out_of_range(size, current.size)
    return current


def _out_of_range(size: int, current: int) -> InvalidInputError:
    return InvalidInputError(key="ledger.size_out_of_range", size=size, current=current)


def _tree_fetcher(session: Session, size: int) -> tuple[merkle.Fetch, Callable[[], None]]:
    """A :data:`merkle.Fetch` for the tree of ``size`` entries that reads the head in the same
    round trip and raises InvalidInputError when the ledger has fewer entries, and a check to
    call afterwards (it reads the head only if the tree code needed no node at all)."""
    asked = False

    def fetch(ids: Sequence[merkle.NodeId]) -> Sequence[bytes]:
        nonlocal asked
        asked = True
        found, current = _read_nodes(session, ids, with_head=True)
        if current is None or size > current:
            raise _out_of_range(size, current or 0)
        return [found[node] for node in ids if node in found]

    def check() -> None:
        if not asked:
            _check_size(session, size)

    return fetch, check


def inclusion_proof(session: Session, index: int, size: int) -> list[bytes]:
    """RFC 9162 inclusion proof of entry ``index`` in the tree of ``size`` entries: one round
    trip to the database."""
    if size < 0 or not 0 <= index < size:
        _check_size(session, size)  # a size out of range is named first
        raise InvalidInputError(key="ledger.not_in_tree", index=index, size=size)
    fetch, check = _tree_fetcher(session, size)
    proof = merkle.inclusion_proof(index, size, fetch)
    check()
    return proof


def inclusion_proofs(session: Session, indices: Sequence[int], size: int) -> dict[int, list[bytes]]:
    """Inclusion proofs of many entries in the tree of ``size``, reading every node they need
    in a few queries (a lot's whole journey at once)."""
    wanted = sorted(set(indices))
    for index in wanted:
        if size < 0 or not 0 <= index < size:
            _check_size(session, size)
            raise InvalidInputError(key="ledger.not_in_tree", index=index, size=size)
    needed = sorted({node for index in wanted for node in merkle.nodes_for_inclusion(index, size)})
    chunk = _IN_CHUNK // 4
    known, current = _read_nodes(session, needed[:chunk], with_head=True)
    if current is None or size > current:
        raise _out_of_range(size, current or 0)
    for start in range(chunk, len(needed), chunk):
        known.update(_read_nodes(session, needed[start : start + chunk])[0])

    def cached(ids: Sequence[merkle.NodeId]) -> Sequence[bytes]:
        return [known[node] for node in ids if node in known]

    return {index: merkle.inclusion_proof(index, size, cached) for index in wanted}


def consistency_proof(session: Session, size1: int, size2: int) -> list[bytes]:
    """RFC 9162 consistency proof between the trees of ``size1`` and ``size2`` entries: one
    round trip to the database."""
    if not 0 < size1 <= size2:
        _check_size(session, size2)
        raise InvalidInputError(key="ledger.consistency_sizes", old=size1, new=size2)
    fetch, check = _tree_fetcher(session, size2)
    proof = merkle.consistency_proof(size1, size2, fetch)
    check()
    return proof


def latest_checkpoint(session: Session) -> LedgerCheckpoint | None:
    return session.scalars(
        select(LedgerCheckpoint).order_by(LedgerCheckpoint.size.desc()).limit(1)
    ).first()


def get_checkpoint(session: Session, size: int) -> LedgerCheckpoint:
    stored = session.get(LedgerCheckpoint, size)
    if stored is None:
        raise NotFoundError(key="ledger.no_checkpoint_for_size", size=size)
    return stored


def checkpoint_at_least(session: Session, size: int) -> LedgerCheckpoint | None:
    """The smallest stored checkpoint covering ``size`` entries, if any."""
    return session.scalars(
        select(LedgerCheckpoint)
        .where(LedgerCheckpoint.size >= size)
        .order_by(LedgerCheckpoint.size)
        .limit(1)
    ).first()


def sign_checkpoint(
    session: Session, *, origin: str, private_key: Ed25519PrivateKey
) -> LedgerCheckpoint:
    """Sign and store a checkpoint over the committed head, and commit.

    Returns the existing checkpoint when the head has not grown since the latest one. The
    head row is locked while signing, so the checkpoint always describes committed state
    and checkpoints are stored in size order (never two for one size, never one smaller
    than an earlier one).
    """
    if session.in_transaction() and (session.new or session.dirty or session.deleted):
        raise ConflictError("sign_checkpoint needs a session with no pending changes")
    session.commit()
    begin_write(session)
    row = _lock_head(session)
    latest = latest_checkpoint(session)
    if latest is not None and latest.size >= row.size:
        session.commit()
        return latest
    body = Checkpoint(origin=origin, size=row.size, root_hash=row.root_hash).to_body()
    note = sign_note(body, name=origin, private_key=private_key)
    stored = LedgerCheckpoint(
        size=row.size, root_hash=row.root_hash, note=note.decode("utf-8"), created_at=utcnow()
    )
    session.add(stored)
    session.commit()
    return stored
