"""What one running agritrace holds, and its one write path.

The CLI (``agritrace.cli._common``) and the web app (``agritrace.web``) each build one
:class:`Runtime`: the checked settings, the engine and session factory, the private key ring
(opened lazily, and opened again after a rotation) and the clock.

Every write goes through :meth:`Runtime.write`::

    with runtime.write() as session:
        registry.add_facility(session, ...)

It opens the key ring first (a write that could not be proved is refused before anything is
written), commits what the block did, then signs and publishes a checkpoint over it
(:meth:`Runtime.checkpoint`), so every new ledger entry is provable at once. An exception in
the block rolls the session back and signs nothing. :meth:`Runtime.checkpoint` is the one
place a checkpoint is signed outside the ledger itself (a test keeps it so); witness
cosigning hooks in there.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from agritrace.config import Settings
from agritrace.db import make_engine, make_sessionmaker, utcnow
from agritrace.errors import AgritraceError
from agritrace.keys import INDEX_FILE, KeyInfo, KeyRing, read_public_keys
from agritrace.ledger import store
from agritrace.ledger.store import LedgerCheckpoint

__all__ = ["RingErrorHook", "Runtime", "check_schema"]

#: Turns an error opening the key ring into the one the caller shows (the web hides paths);
#: its second argument is True when the passphrase is missing, False when the ring did not open.
RingErrorHook = Callable[[AgritraceError, bool], AgritraceError]

_FileId = tuple[int, int, int]


def check_schema(engine: Engine) -> None:
    """Raise StorageUnavailableError unless the database exists and is at the head revision
    (the one check, :func:`agritrace.migrations.check_schema`)."""
    from agritrace.migrations import check_schema as check

    check(engine)


def _index_id(keys_dir: Path) -> _FileId:
    # Writers replace the index file (a new inode), so any rotation changes this.
    try:
        info = (keys_dir / INDEX_FILE).stat()
    except OSError:
        return (-1, -1, -1)
    return (info.st_ino, info.st_mtime_ns, info.st_size)


class _RingHolder:
    """The opened private key ring, opened on first use and again after a rotation (by any
    process: the index file's identity is compared)."""

    def __init__(
        self, settings: Settings, on_error: RingErrorHook | None, opened: KeyRing | None
    ) -> None:
        self._settings = settings
        self._on_error = on_error
        self._lock = threading.Lock()
        self._ring = opened
        self._index = None if opened is None else _index_id(settings.keys_dir)

    def get(self) -> KeyRing:
        with self._lock:
            current = _index_id(self._settings.keys_dir)
            if self._ring is not None and current == self._index:
                return self._ring
            try:
                passphrase = self._settings.require_key_passphrase()
            except AgritraceError as exc:
                raise self._translated(exc, missing_passphrase=True) from exc
            try:
                self._ring = KeyRing.open(
                    self._settings.keys_dir, passphrase, kdf=self._settings.key_kdf
                )
            except AgritraceError as exc:
                raise self._translated(exc, missing_passphrase=False) from exc
            self._index = current
            return self._ring

    def _translated(self, error: AgritraceError, *, missing_passphrase: bool) -> AgritraceError:
        return error if self._on_error is None else self._on_error(error, missing_passphrase)


class Runtime:
    """Settings, engine, sessions, key ring and clock of one running agritrace.

    ``engine`` defaults to one made from ``settings.database_url`` on first use; the schema
    is checked when the first session is opened. ``on_ring_error`` translates an error
    opening the key ring (the web answers 503 without naming files); ``ring`` is one already
    opened (just created). ``clock`` gives the current aware UTC time.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        engine: Engine | None = None,
        on_ring_error: RingErrorHook | None = None,
        ring: KeyRing | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self._engine = engine
        self._sessions: sessionmaker[Session] | None = None
        self._rings = _RingHolder(settings, on_ring_error, ring)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.settings.database_url)
        return self._engine

    @property
    def sessions(self) -> sessionmaker[Session]:
        """The session factory (the schema is checked when it is first built)."""
        if self._sessions is None:
            check_schema(self.engine)
            self._sessions = make_sessionmaker(self.engine)
        return self._sessions

    def now(self) -> dt.datetime:
        return self.clock()

    def ring(self) -> KeyRing:
        """The private key ring, decrypted with AGRITRACE_KEY_PASSPHRASE (for signing)."""
        return self._rings.get()

    def public_keys(self) -> list[KeyInfo]:
        """The ring's public keys; needs no passphrase (for verifying)."""
        return read_public_keys(self.settings.keys_dir)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for reading (a write goes through :meth:`write`)."""
        with self.sessions() as session:
            yield session

    @contextmanager
    def write(self, session: Session | None = None) -> Iterator[Session]:
        """Write in the block, then commit and sign a checkpoint over it; roll back and sign
        nothing if the block raises. ``session`` is the caller's own (a web request's);
        otherwise one is opened and closed here.

        The key ring is opened before the block runs. If signing fails after the commit,
        the write stands and the next write's checkpoint covers it.
        """
        self.ring()
        if session is None:
            with self.sessions() as own, self._committed(own):
                yield own
            return
        with self._committed(session):
            yield session

    @contextmanager
    def _committed(self, session: Session) -> Iterator[None]:
        try:
            yield
            session.commit()
        except BaseException:
            session.rollback()
            raise
        self.checkpoint(session)

    def checkpoint(self, session: Session) -> LedgerCheckpoint:
        """Sign (or reuse) a checkpoint over what is committed and publish it to the
        checkpoint folder: the one place the CLI and the web sign one."""
        from agritrace.trace import journal

        return journal.sign_checkpoint(
            session,
            origin=self.settings.origin,
            ring=self.ring(),
            publish_to=self.settings.checkpoints_dir,
        )

    def covering_checkpoint(self, session: Session) -> LedgerCheckpoint:
        """The latest checkpoint if it covers the whole ledger; otherwise a new one."""
        latest = store.latest_checkpoint(session)
        if latest is None or latest.size < store.head(session).size:
            return self.checkpoint(session)
        return latest

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
