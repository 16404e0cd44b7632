"""Security for the web: headers on every response, a per-client rate limit, and the CSRF
token every form carries (kept in the signed session cookie, compared in constant time).

Headers: a strict Content-Security-Policy (:data:`CSP`: only our own style sheet and script,
no inline code, no frames), ``X-Content-Type-Options: nosniff``, ``Referrer-Policy:
same-origin`` (a scan URL holds the stamp code: no other site ever learns it, while this
site's ledger entry pages can link back to the stamp they were opened from),
``X-Frame-Options: DENY``, a
Permissions-Policy that allows geolocation only for this site, and HSTS when the app runs
behind TLS (``settings.behind_tls``, which also trusts one proxy's ``X-Forwarded-*``).
Public JSON (``/.well-known/``, ``/ledger/``, ``/api/v1/stamps/``) may be read from any
origin (``Access-Control-Allow-Origin: *``, no credentials).

Rate limit: a fixed window of :data:`RATE_WINDOW_S` seconds per client and per group of
endpoints (:data:`DEFAULT_RATE_LIMITS`: stamp checks, other public endpoints, sign-in forms,
API calls), counted by :class:`RateLimiter` in shared storage (Redis through the ``limits``
library when ``AGRITRACE_REDIS_URL`` is set, so every worker and host counts together;
memory otherwise, for the demo). The client address is never stored: only a keyed hash of
it, which expires with its window. Over the limit a request gets 429 with ``Retry-After``
through the one error edge. When Redis cannot be reached, public pages are served uncounted
(logged) and posted sign-in forms are refused with 503 (a guesser must never go uncounted).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, Response, request, session
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from werkzeug.middleware.proxy_fix import ProxyFix

from agritrace.errors import AgritraceError, PermissionDeniedError, StorageUnavailableError

__all__ = [
    "CSP",
    "DEFAULT_RATE_LIMITS",
    "HSTS_MAX_AGE_S",
    "RATE_WINDOW_S",
    "STORAGE_TIMEOUT_S",
    "CsrfError",
    "RateLimitStorageError",
    "RateLimitedError",
    "RateLimiter",
    "check_csrf",
    "client_id",
    "csrf_token",
    "init_app",
    "rate_group",
]

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HSTS_MAX_AGE_S = 2 * 365 * 24 * 3600
RATE_WINDOW_S = 60
#: Requests per client per window, by group. Generous: mobile networks in Vietnam put many
#: phones behind one carrier-grade NAT address.
#: ``signin`` counts posted sign-in forms (on top of the per-account lock-out); ``api`` counts
#: authenticated API calls.
DEFAULT_RATE_LIMITS: Mapping[str, int] = {"stamp": 120, "public": 600, "signin": 20, "api": 600}
#: How long a request waits for Redis before the limiter gives up (fails open or closed).
STORAGE_TIMEOUT_S = 0.5

logger = logging.getLogger(__name__)

_PUBLIC_JSON = ("/.well-known/", "/ledger/", "/api/v1/stamps/")
_CSRF_KEY = "csrf"


class RateLimitedError(AgritraceError):
    """Too many requests from one client in the current window. Fact: ``retry_after``."""

    http_status = 429
    slug = "rate-limited"


class RateLimitStorageError(StorageUnavailableError):
    """The shared rate-limit storage (Redis) cannot be reached, and this request must not go
    on uncounted (sign-in)."""

    slug = "rate-limit-unavailable"


class CsrfError(PermissionDeniedError):
    """A form was posted without this site's token (or the session expired)."""

    slug = "csrf-failed"


def rate_group(path: str, method: str = "GET") -> str | None:
    """Which limit a request counts against (None: not limited, e.g. static files)."""
    if path.startswith("/static/") or path == "/healthz":
        return None
    if path.startswith(("/S/", "/s/", "/api/v1/stamps/", "/check")):
        return "stamp"
    if path == "/sign-in" and method == "POST":
        return "signin"
    if path.startswith("/api/v1/") and path != "/api/v1/openapi.json":
        return "api"
    return "public"


class RateLimiter:
    """Fixed-window request counts per (group, client), shared by every worker and host that
    uses the same storage, holding no client address.

    Counts live in the ``limits`` library's storage: Redis (``redis://...``: every gunicorn
    worker and every host counts together, so the documented limit is the limit) or memory
    (``memory://``: this process alone, for the demo and tests). A client is known only by a
    keyed hash (HMAC-SHA-256 with ``secret``, truncated to 128 bits) that expires with its
    window. ``hit`` returns None when the request may go on, else the seconds until the
    window ends. A limit of 0 (or a group missing from ``limits``) means unlimited.

    When the storage cannot be reached, ``hit`` lets the request through and logs it (the
    public pages stay up: ``fail_open``), or raises RateLimitStorageError (a 503) when the
    caller must not go on uncounted (sign-in: ``fail_open=False``). Thread-safe.
    """

    def __init__(
        self,
        limits: Mapping[str, int],
        *,
        storage_url: str = "memory://",
        prefix: str = "agritrace",
        secret: bytes = b"",
        window_s: int = RATE_WINDOW_S,
    ) -> None:
        self.limits = dict(limits)
        self.window_s = window_s
        self.storage_url = storage_url
        self._secret = secret or secrets.token_bytes(32)
        options: dict[str, float | str | bool] = {}
        if storage_url.startswith(("redis://", "rediss://", "redis+unix://")):
            options = {
                "key_prefix": prefix,
                "socket_connect_timeout": STORAGE_TIMEOUT_S,
                "socket_timeout": STORAGE_TIMEOUT_S,
            }
        self._storage = storage_from_string(storage_url, wrap_exceptions=True, **options)
        self._counter = FixedWindowRateLimiter(self._storage)
        self._prefix = prefix

    def _digest(self, group: str, client: str) -> str:
        message = f"{self._prefix}\x00{group}\x00{client}".encode("utf-8", "replace")
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:32]

    def _item(self, limit: int, window_s: int) -> RateLimitItem:
        return RateLimitItemPerSecond(limit, window_s)

    def hit(
        self,
        group: str,
        client: str,
        *,
        limit: int | None = None,
        window_s: int | None = None,
        fail_open: bool = True,
    ) -> int | None:
        """Count one request of ``client`` against ``group`` (``limit`` and ``window_s``
        override the group's). Returns None, or the seconds to wait when over the limit."""
        amount = self.limits.get(group, 0) if limit is None else limit
        if amount <= 0:
            return None
        item = self._item(amount, window_s or self.window_s)
        key = self._digest(group, client)
        try:
            if self._counter.hit(item, self._prefix, group, key):
                return None
            reset = self._counter.get_window_stats(item, self._prefix, group, key).reset_time
        except StorageError as exc:
            if not fail_open:
                raise RateLimitStorageError(key="web.rate_storage_unavailable") from exc
            logger.warning("rate-limit storage unreachable: %s request let through", group)
            return None
        return max(1, math.ceil(reset - time.time()))

    def exhausted(self, group: str, client: str, *, limit: int, window_s: int) -> int | None:
        """None while ``client`` has requests left in ``group``, else the seconds until its
        window ends (what the next ``hit`` would answer). Raises RateLimitStorageError when
        the storage cannot be reached."""
        item = self._item(limit, window_s)
        try:
            stats = self._counter.get_window_stats(
                item, self._prefix, group, self._digest(group, client)
            )
        except StorageError as exc:
            raise RateLimitStorageError(key="web.rate_storage_unavailable") from exc
        if stats.remaining > 0:
            return None
        return max(1, math.ceil(stats.reset_time - time.time()))

    def clear(self, group: str, client: str, *, limit: int, window_s: int) -> None:
        """Forget ``client``'s count in ``group`` (after a successful sign-in)."""
        item = self._item(limit, window_s)
        try:
            self._counter.clear(item, self._prefix, group, self._digest(group, client))
        except StorageError:
            logger.warning("rate-limit storage unreachable: count of %s not cleared", group)


def client_id() -> str:
    """This request's client, as the rate limits know it: its address (through the one
    trusted proxy behind TLS). Only ever hashed, never stored."""
    return request.remote_addr or "unknown"


def csrf_token() -> str:
    """This browser's form token, kept in its signed session cookie."""
    token = session.get(_CSRF_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(24)
        session[_CSRF_KEY] = token
    return token


def check_csrf() -> None:
    """Raise CsrfError unless the posted ``csrf`` field matches the session's token."""
    expected = session.get(_CSRF_KEY)
    sent = request.form.get(_CSRF_KEY, "")
    if not isinstance(expected, str) or not hmac.compare_digest(expected, sent):
        raise CsrfError(key="web.csrf")


def _headers(behind_tls: bool) -> Callable[[Response], Response]:
    def add(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "geolocation=(self), camera=(), microphone=()")
        if behind_tls:
            headers.setdefault("Strict-Transport-Security", f"max-age={HSTS_MAX_AGE_S}")
        if request.path.startswith(_PUBLIC_JSON):
            headers.setdefault("Access-Control-Allow-Origin", "*")
        return response

    return add


def init_app(app: Flask, *, behind_tls: bool, limiter: RateLimiter) -> None:
    """Install the headers, the proxy fix (behind TLS) and the rate limit on ``app``."""
    if behind_tls:
        # One proxy in front terminates TLS: trust its X-Forwarded-For/-Proto (only).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=0)  # type: ignore[method-assign]
    app.after_request(_headers(behind_tls))
    app.extensions["agritrace.limiter"] = limiter

    @app.before_request
    def _limit() -> Any:
        group = rate_group(request.path, request.method)
        if group is None:
            return None
        retry_after = limiter.hit(group, client_id(), fail_open=group != "signin")
        if retry_after is not None:
            raise RateLimitedError(key="web.rate_limited", retry_after=retry_after)
        return None
