"""Database plumbing: engine, sessions, declarative base and portable column types.

SQLite (the embedded default) runs with WAL, ``synchronous=FULL`` and foreign keys on. Its
driver's own transaction handling is switched off and SQLAlchemy emits ``BEGIN`` itself (the
documented pysqlite recipe), which makes SAVEPOINT work and lets a writer ask for
``BEGIN IMMEDIATE`` with :func:`begin_write`. PostgreSQL is reached through psycopg 3.

Timestamps are stored as timezone-aware UTC and always come back aware.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, Enum, MetaData, String, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from agritrace.errors import StorageUnavailableError

__all__ = [
    "Base",
    "DecimalText",
    "DirectStatements",
    "UTCDateTime",
    "begin_snapshot",
    "begin_write",
    "driver_rows",
    "enum_column",
    "is_sqlite",
    "make_engine",
    "make_sessionmaker",
    "sqlite_path",
    "utcnow",
]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLITE_BUSY_TIMEOUT_MS = 30_000
#: Session.info: the transaction begin_write started (it holds the write lock on SQLite).
_WRITER = "agritrace_writer_transaction"
#: Connection.info: the SQLite connection's total_changes when its transaction began.
_CHANGES_AT_BEGIN = "agritrace_changes_at_begin"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def enum_column(enum_cls: type[StrEnum], name: str) -> Enum:
    """A portable column type for a closed set: stores the values (not the Python names) as
    text with a CHECK constraint, the same on SQLite and PostgreSQL."""
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=20,
        values_callable=lambda members: [m.value for m in members],
    )


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        utc = value.astimezone(dt.UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class DecimalText(TypeDecorator[Decimal]):
    """Exact decimals stored as their canonical text, identical on SQLite and PostgreSQL."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Any) -> str | None:
        if value is None:
            return None
        return format(value, "f")

    def process_result_value(self, value: str | None, dialect: Any) -> Decimal | None:
        if value is None:
            return None
        try:
            return Decimal(value)
        except InvalidOperation as exc:  # only if someone wrote the column by hand
            raise ValueError(f"stored decimal {value!r} is malformed") from exc


def is_sqlite(bind: Engine | Connection | Session) -> bool:
    engine_or_conn = bind.get_bind() if isinstance(bind, Session) else bind
    return engine_or_conn.dialect.name == "sqlite"


def _install_sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "")
        conn.exec_driver_sql(f"BEGIN {mode}".strip())
        # So that begin_write can tell a transaction that has only read (see there).
        conn.info[_CHANGES_AT_BEGIN] = conn.connection.driver_connection.total_changes  # type: ignore[union-attr]


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for a ``sqlite:///`` or ``postgresql+psycopg://`` URL.

    For SQLite the pragmas above are applied on every connection. Raises
    StorageUnavailableError for an unusable URL.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StorageUnavailableError(f"database URL is malformed: {exc}") from exc
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, **kwargs)
        _install_sqlite_hooks(engine)
        return engine
    engine = create_engine(parsed, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _install_idle_ping(engine)
    return engine


#: A pooled PostgreSQL connection left idle this long is pinged before it is used again.
PING_AFTER_IDLE_S = 2.0


def _install_idle_ping(engine: Engine) -> None:
    """Ping pooled connections that sat idle, so a server restart or a dropped connection
    costs no request an error, without a round trip on every checkout under load.

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout; a busy worker reuses its
    connections within milliseconds, so that ping was one round trip in five of a scan.
    A connection found dead is replaced by the pool (it retries the checkout).
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
            dbapi_connection.rollback()
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError("a pooled connection was found closed") from exc


def sqlite_path(engine: Engine) -> Path | None:
    """The database file of a SQLite engine (None for PostgreSQL or an in-memory database)."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return None
    return Path(str(engine.url.database))


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def begin_snapshot(session: Session) -> None:
    """Start the session's transaction as one consistent snapshot for a long read.

    PostgreSQL: REPEATABLE READ, so every statement sees the same committed state even while
    writers append. SQLite in WAL mode already reads one snapshot per transaction. A no-op if
    the transaction has begun (call it first).
    """
    if session.in_transaction() or is_sqlite(session):
        return
    bind = session.get_bind()
    if isinstance(bind, Connection) and bind.in_transaction():
        return  # joined to an outer transaction (as in tests): its isolation stands
    try:
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    except OperationalError as exc:
        raise StorageUnavailableError(f"database is unavailable: {exc.orig}") from exc


def begin_write(session: Session) -> None:
    """Start the session's transaction as a writer, so that what it reads next is current.

    On SQLite this issues ``BEGIN IMMEDIATE``: the write lock is taken up front and a
    concurrent writer waits instead of failing with a stale snapshot. A session that has
    only read so far (a web request loads its user first) ends that read transaction and
    begins again as a writer; objects it loaded stay, so a rule re-reads what it checks
    after this call (see :mod:`agritrace.trace.locks`). A session already writing, or
    joined to an outer transaction (as in tests), is left as it is. On PostgreSQL writers
    serialize on row locks taken by the code that needs them.
    """
    if session.in_transaction():
        if not _sqlite_reader(session):
            return
        session.commit()  # it only read: nothing to lose, and its snapshot must go
    try:
        session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
    except OperationalError as exc:
        raise StorageUnavailableError(f"database is unavailable: {exc.orig}") from exc
    session.info[_WRITER] = session.get_transaction()


def _sqlite_reader(session: Session) -> bool:
    """Whether the session is in a SQLite transaction begun without the write lock, on a
    connection of its own, with nothing written: one :func:`begin_write` may restart."""
    if not is_sqlite(session) or isinstance(session.get_bind(), Connection):
        return False
    if session.info.get(_WRITER) is session.get_transaction():
        return False
    if session.new or session.dirty or session.deleted:
        return False
    connection = session.connection()
    driver = connection.connection.driver_connection
    return bool(connection.info.get(_CHANGES_AT_BEGIN) == driver.total_changes)  # type: ignore[union-attr]


def driver_rows(connection: Connection, sql: str, params: Any) -> list[Any]:
    """The rows of ``sql`` (the driver's own parameter style) run on the connection's own
    driver connection, inside its transaction, without SQLAlchemy's execution layer: for hot
    paths only (a fifth of a PostgreSQL proof's time and half a scan count's went there).
    Rows come back as the driver makes them, with no type processing. Driver errors come
    out as SQLAlchemy's, as from any other query, so callers and the web's error pages treat
    them alike; a lost connection is invalidated, as SQLAlchemy does."""
    dialect = connection.dialect
    driver = connection.connection.driver_connection
    cursor = driver.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, params)
        rows: list[Any] = cursor.fetchall()
    except dialect.loaded_dbapi.Error as exc:
        lost = dialect.is_disconnect(exc, driver, cursor)
        error = DBAPIError.instance(
            sql,
            params,
            exc,
            dialect.loaded_dbapi.Error,
            dialect=dialect,
            connection_invalidated=lost,
        )
        if lost:  # as SQLAlchemy does: the pool must not hand this connection out again
            connection.invalidate(error)
        raise error from exc
    finally:
        cursor.close()
    return rows


def _close_in(connection: Any, pid: int, errors: Any) -> None:
    # Only the process that opened a connection closes it: a forked child leaves the
    # parent's session alone.
    if os.getpid() == pid:
        with contextlib.suppress(errors):  # the server may have dropped it already
            connection.close()


@dataclass(slots=True, weakref_slot=True, eq=False)
class _Held:
    connection: Any
    pid: int
    generation: int
    idle_since: float
    #: Closes the connection once: when dropped, on dispose, or when the thread ends (its
    #: thread-local data, the only strong reference, goes away).
    close: weakref.finalize[Any, Any] | None = None


class DirectStatements:
    """Single statements in autocommit on a driver connection each thread keeps, for a hot
    path that would otherwise pay, every time, for a pool checkout and checkin, an ORM
    session and switching the connection into autocommit and back (for the scan page's one
    statement, a fifth of the page's own CPU time went there). PostgreSQL only: SQLite has
    no round trip to save.

    The pool's guarantees hold: a connection idle for :data:`PING_AFTER_IDLE_S` is pinged
    first and replaced if the server closed it; a statement that meets a lost connection
    raises SQLAlchemy's OperationalError (a 503 on the web) and the next one opens a new
    connection; a forked child never uses or closes its parent's connection; a thread's
    connection is closed when the thread ends (a development server runs each request in a
    new thread); disposing the engine closes every connection this object opened.
    """

    def __init__(self, engine: Engine) -> None:
        self.dialect = engine.dialect
        self._dbapi_error: Any = engine.dialect.loaded_dbapi.Error
        cargs, cparams = engine.dialect.create_connect_args(engine.url)
        self._connect: Callable[[], Any] = lambda: engine.dialect.connect(*cargs, **cparams)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._opened: weakref.WeakSet[_Held] = weakref.WeakSet()
        self._generation = 0
        event.listen(engine, "engine_disposed", lambda _engine: self.close())

    def rows(self, sql: str, params: Any) -> list[Any]:
        """The rows of ``sql`` (the driver's parameter style), run in autocommit."""
        held = self._held()
        cursor = held.connection.cursor()
        try:
            cursor.execute(sql, params)
            rows: list[Any] = cursor.fetchall()
        except self._dbapi_error as exc:
            lost = self.dialect.is_disconnect(exc, held.connection, cursor)
            if lost:
                self._drop(held)
            raise DBAPIError.instance(
                sql,
                params,
                exc,
                self._dbapi_error,
                dialect=self.dialect,
                connection_invalidated=lost,
            ) from exc
        finally:
            cursor.close()
        held.idle_since = time.monotonic()
        return rows

    def close(self) -> None:
        """Close every connection opened in this process; threads open new ones on use."""
        with self._lock:
            self._generation += 1
            opened = list(self._opened)
            self._opened.clear()
        for held in opened:
            if held.close is not None:
                held.close()

    def _held(self) -> _Held:
        held: _Held | None = getattr(self._local, "held", None)
        if held is not None and (held.pid != os.getpid() or held.generation != self._generation):
            held = None  # a parent's connection (never touched here) or a closed one
        idle = held is not None and time.monotonic() - held.idle_since >= PING_AFTER_IDLE_S
        if held is not None and idle and not self._alive(held):
            self._drop(held)
            held = None
        if held is None:
            try:
                connection = self._connect()
                connection.autocommit = True
            except self._dbapi_error as exc:
                raise DBAPIError.instance(
                    None, None, exc, self._dbapi_error, dialect=self.dialect
                ) from exc
            held = _Held(connection, os.getpid(), self._generation, time.monotonic())
            held.close = weakref.finalize(held, _close_in, connection, held.pid, self._dbapi_error)
            with self._lock:
                self._opened.add(held)
            self._local.held = held
        return held

    def _alive(self, held: _Held) -> bool:
        try:
            cursor = held.connection.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
        except self._dbapi_error:
            return False
        return True

    def _drop(self, held: _Held) -> None:
        self._local.held = None
        with self._lock:
            self._opened.discard(held)
        if held.close is not None:
            held.close()
