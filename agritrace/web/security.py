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
endpoints (:data:`DEFAULT_RATE_LIMITS`: stamp checks, other public endpoints). The client
address is never stored: the limiter keeps only a keyed hash of it (HMAC-SHA-256 with a
random key that is replaced, with all counts, at every new window), in memory. Over the
limit a request gets 429 with ``Retry-After`` through the one error edge. Each process
counts alone, so with N gunicorn workers a client gets up to N times the limit.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, Response, request, session
from werkzeug.middleware.proxy_fix import ProxyFix

from agritrace.errors import AgritraceError, PermissionDeniedError

__all__ = [
    "CSP",
    "DEFAULT_RATE_LIMITS",
    "HSTS_MAX_AGE_S",
    "RATE_WINDOW_S",
    "CsrfError",
    "RateLimitedError",
    "RateLimiter",
    "check_csrf",
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

_PUBLIC_JSON = ("/.well-known/", "/ledger/", "/api/v1/stamps/")
_CSRF_KEY = "csrf"


class RateLimitedError(AgritraceError):
    """Too many requests from one client in the current window. Fact: ``retry_after``."""

    http_status = 429
    slug = "rate-limited"


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
    """Fixed-window request counts per (group, client), holding no client address.

    ``hit`` returns None when the request may go on, else the seconds until the window ends.
    A limit of 0 (or a group missing from ``limits``) means unlimited. Thread-safe.
    """

    def __init__(
        self,
        limits: Mapping[str, int],
        *,
        window_s: int = RATE_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = dict(limits)
        self.window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._window = -1
        self._key = secrets.token_bytes(32)
        self._counts: dict[tuple[str, bytes], int] = {}

    def _digest(self, client: str) -> bytes:
        return hmac.new(self._key, client.encode("utf-8", "replace"), hashlib.sha256).digest()[:16]

    def hit(self, group: str, client: str) -> int | None:
        limit = self.limits.get(group, 0)
        if limit <= 0:
            return None
        now = self._clock()
        window = int(now // self.window_s)
        with self._lock:
            if window != self._window:
                # A new window forgets every count and every hash, and the key that made them.
                self._window = window
                self._key = secrets.token_bytes(32)
                self._counts.clear()
            slot = (group, self._digest(client))
            count = self._counts.get(slot, 0) + 1
            self._counts[slot] = count
        if count <= limit:
            return None
        return max(1, int((window + 1) * self.window_s - now + 0.999))

    def tracked(self) -> int:
        """How many (group, client) counts are held now (for tests and monitoring)."""
        with self._lock:
            return len(self._counts)


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
        retry_after = limiter.hit(group, request.remote_addr or "unknown")
        if retry_after is not None:
            raise RateLimitedError(key="web.rate_limited", retry_after=retry_after)
        return None
