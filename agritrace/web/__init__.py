"""The web front: :func:`create_app` builds the Flask app from checked :class:`Settings`.

Blueprints: ``scan`` (the consumer's pages: ``/``, ``/S/<code>``), ``wellknown`` (public keys,
revocations, checkpoint, proofs, entries), ``auth`` (sign-in, sign-out, account and API
tokens), ``portal`` (facility operators), ``inspect`` (inspectors), ``admin``
(administrators) and ``api`` (``/api/v1``, bearer tokens). Public pages read only the key
ring's public keys. Writes (which sign a checkpoint, print stamps or rotate keys) open the
private key ring lazily, and only when ``AGRITRACE_KEY_PASSPHRASE`` is set (:func:`ring`);
without it those pages say so and the API answers 503.

Per app: one :class:`~agritrace.runtime.Runtime` (engine, session factory, key ring; the CLI
builds the same), the stamp prefix, the public keys and a rate limiter, kept in
:class:`WebState`. Per request: at most one database session, opened on first use (:func:`db`)
and closed at teardown. Every write runs in ``with write():`` (:func:`write`), which commits
and then signs a checkpoint. Views are thin: they validate input, call one service and render.

Serve it with ``agritrace serve`` in development and with gunicorn in production, e.g.
``gunicorn -w 4 -b 127.0.0.1:8000 'agritrace.web.wsgi:app'``.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from flask import Flask, Response, current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from agritrace.config import Settings
from agritrace.db import DirectStatements, is_sqlite, make_engine, make_sessionmaker
from agritrace.errors import AgritraceError, StorageUnavailableError
from agritrace.keys import INDEX_FILE, KeyInfo, KeyPurpose, KeyRing, read_public_keys
from agritrace.runtime import Runtime
from agritrace.stamps.codec import stamp_prefix
from agritrace.trace.scans import ScanCache

__all__ = [
    "KEYS_RECHECK_S",
    "KeyRingUnavailableError",
    "PublicKeys",
    "WebState",
    "create_app",
    "db",
    "ring",
    "runtime",
    "state",
    "write",
]

#: How often, at most, the key ring's index is checked for a rotation.
KEYS_RECHECK_S = 30.0

_STATIC = Path(__file__).resolve().parent / "static"


class PublicKeys:
    """The key ring's public keys, read at start-up (without any passphrase).

    A rotation adds a key while the app runs; stamps issued under it must verify at once, so
    the index file is looked at (``stat``) at most every :data:`KEYS_RECHECK_S` seconds and
    the keys are read again when it changed. Raises NotFoundError at start-up if
    there is no key ring (run ``agritrace init``).
    """

    def __init__(
        self,
        folder: Path,
        *,
        recheck_s: float = KEYS_RECHECK_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.folder = folder
        self._recheck_s = recheck_s
        self._clock = clock
        self._lock = threading.Lock()
        self._mtime = self._stat()
        self._load(read_public_keys(folder))
        self._checked = clock()

    def _load(self, infos: list[KeyInfo]) -> None:
        self._infos = infos
        self._stamp_keys = {
            info.key_id: info.public_key for info in infos if info.purpose is KeyPurpose.STAMP
        }

    def _stat(self) -> tuple[int, int, int]:
        # Writers replace the index file (a new inode), so any rotation changes this.
        try:
            info = (self.folder / INDEX_FILE).stat()
        except OSError:
            return (-1, -1, -1)
        return (info.st_ino, info.st_mtime_ns, info.st_size)

    def _refresh(self) -> None:
        now = self._clock()
        if now - self._checked < self._recheck_s:
            return
        with self._lock:
            if now - self._checked < self._recheck_s:
                return
            self._checked = now
            mtime = self._stat()
            if mtime == self._mtime:
                return
            try:
                self._load(read_public_keys(self.folder))
                self._mtime = mtime
            except (OSError, StorageUnavailableError):  # mid-write: keep the loaded keys
                current_app.logger.warning("the key ring is unreadable; keeping loaded keys")

    def infos(self) -> list[KeyInfo]:
        self._refresh()
        return list(self._infos)

    def stamp_keys(self) -> Mapping[int, Ed25519PublicKey]:
        """Stamp verification keys by id, active and retired."""
        self._refresh()
        return self._stamp_keys

    def jwks(self) -> dict[str, Any]:
        """Every public key as an RFC 8037 JWK Set (what ``keys.json`` serves)."""
        return {"keys": [info.jwk() for info in self.infos()]}


class KeyRingUnavailableError(StorageUnavailableError):
    """The private key ring cannot be opened here (no passphrase, or a wrong one)."""

    slug = "key-ring-unavailable"


def _ring_unavailable(error: AgritraceError, missing_passphrase: bool) -> AgritraceError:
    """Why the key ring does not open, said to a visitor without any path of this server."""
    if missing_passphrase:  # its message names the variable, no path
        return KeyRingUnavailableError(key="web.signing_needs_passphrase", reason=str(error))
    # The reason names files on this server: for its log, never for a visitor.
    logging.getLogger(__name__).warning("the key ring does not open: %s", error)
    return KeyRingUnavailableError(key="web.signing_ring_unopened")


@dataclass(frozen=True, slots=True)
class WebState:
    """What every request of one app shares."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    prefix: str
    keys: PublicKeys
    host: str
    static_version: str
    #: The one write path and the private key ring (:class:`~agritrace.runtime.Runtime`).
    runtime: Runtime
    scan_cache: ScanCache = field(default_factory=ScanCache)
    #: PostgreSQL: the connections the scan page counts scans on (none on SQLite).
    direct: DirectStatements | None = None


def state() -> WebState:
    """The current app's :class:`WebState`."""
    found: WebState = current_app.extensions["agritrace"]
    return found


def db() -> Session:
    """The request's database session, opened on first use and closed at teardown."""
    session: Session | None = g.get("db_session")
    if session is None:
        session = state().sessions()
        g.db_session = session
    return session


def runtime() -> Runtime:
    """The app's :class:`~agritrace.runtime.Runtime`."""
    return state().runtime


def ring() -> KeyRing:
    """The private key ring (raises KeyRingUnavailableError, a 503, without a passphrase)."""
    return runtime().ring()


def write() -> AbstractContextManager[Session]:
    """Write with the request's session: the key ring is opened first, then the block's
    writes are committed and a checkpoint is signed over them (rolled back, nothing signed,
    if the block raises). See :meth:`agritrace.runtime.Runtime.write`."""
    return runtime().write(db())


def _close_session(_error: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def _check_schema(engine: Engine) -> None:
    from agritrace.migrations import check_schema

    check_schema(engine)


def _static_version() -> str:
    digest = hashlib.sha256()
    for path in sorted(_STATIC.glob("*")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def _healthz() -> Response:
    """Liveness for load balancers: answers without touching the database."""
    return Response("ok\n", mimetype="text/plain")


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    rate_limits: Mapping[str, int] | None = None,
) -> Flask:
    """Build the app. ``engine`` defaults to one made from ``settings.database_url`` (tests
    pass their own); ``rate_limits`` replaces :data:`~agritrace.web.security.
    DEFAULT_RATE_LIMITS` (requests per client per minute by group; 0 or a missing group means
    unlimited), while ``settings.rate_limits`` only changes the groups it names.

    Raises (at start-up, not per request) InvalidInputError for a missing or short secret
    key or a bad base URL, NotFoundError when there is no key ring, and
    StorageUnavailableError when the database is missing or not at the current schema.
    """
    import agritrace.trace.access  # noqa: F401 - registers the access tables on the metadata
    from agritrace.web import (
        admin,
        api,
        auth,
        edge,
        errors,
        i18n,
        inspect,
        portal,
        scan,
        security,
        wellknown,
    )

    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.require_secret_key(),
        SESSION_COOKIE_NAME="agritrace",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.behind_tls,
        PREFERRED_URL_SCHEME="https" if settings.behind_tls else "http",
        MAX_CONTENT_LENGTH=16 * 1024,
        MAX_FORM_MEMORY_SIZE=16 * 1024,
        SEND_FILE_MAX_AGE_DEFAULT=7 * 24 * 3600,
        PERMANENT_SESSION_LIFETIME=auth.SESSION_MAX_AGE,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    edge.init_app(app)
    prefix = stamp_prefix(settings.base_url, allow_long=True)
    engine = engine if engine is not None else make_engine(settings.database_url)
    _check_schema(engine)
    shared = Runtime(settings, engine=engine, on_ring_error=_ring_unavailable)
    app.extensions["agritrace"] = WebState(
        settings=settings,
        engine=engine,
        sessions=make_sessionmaker(engine),
        prefix=prefix,
        keys=PublicKeys(settings.keys_dir),
        host=prefix.removesuffix("/S/").split("://", 1)[1].lower(),
        static_version=_static_version(),
        runtime=shared,
        direct=None if is_sqlite(engine) else DirectStatements(engine),
    )
    app.teardown_appcontext(_close_session)
    if rate_limits is None:  # the settings name some groups; the others keep their defaults
        rate_limits = {**security.DEFAULT_RATE_LIMITS, **(settings.rate_limits or {})}
    limiter = security.RateLimiter(
        rate_limits,
        storage_url=settings.rate_storage_url,
        prefix=settings.redis_prefix,
        secret=hashlib.sha256(
            b"agritrace-rate-limit\x00" + settings.require_secret_key().encode()
        ).digest(),
    )
    security.init_app(app, behind_tls=settings.behind_tls, limiter=limiter)
    i18n.init_app(app, settings.zone)
    errors.init_app(app)
    app.register_blueprint(scan.bp)
    app.register_blueprint(wellknown.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(portal.bp)
    app.register_blueprint(inspect.bp)
    app.register_blueprint(admin.bp)
    auth.init_app(app)
    app.add_url_rule("/healthz", "healthz", _healthz)

    @app.context_processor
    def _site() -> dict[str, Any]:
        web = state()
        return {"site_host": web.host, "static_version": web.static_version}

    return app
