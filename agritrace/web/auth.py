"""Signing in and out, the signed-in user, role checks, and each user's API tokens.

The session cookie (Flask's, signed with ``AGRITRACE_SECRET_KEY``; ``HttpOnly``,
``SameSite=Lax``, ``Secure`` behind TLS) holds the user's id, a random per-session nonce and
the sign-in time; a sign-in starts a new session (no fixation), a sign-out clears it, and a
session older than :data:`SESSION_MAX_AGE` counts as signed out. Every form carries the
session's CSRF token (:func:`agritrace.web.security.csrf_token`), checked for every POST of
the blueprints that call :func:`protect`. Password checks and lock-out are the service's
(:func:`agritrace.trace.access.sign_in`).

``GET/POST /sign-in``, ``POST /sign-out``, ``GET /account`` (tokens), ``POST
/account/tokens`` (the new token is shown once), ``POST /account/tokens/<id>/revoke``.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue

from agritrace.db import utcnow
from agritrace.errors import AgritraceError, PermissionDeniedError
from agritrace.trace import access
from agritrace.trace.models import Role, User
from agritrace.web import db
from agritrace.web.i18n import current_language, format_datetime
from agritrace.web.security import RateLimiter, check_csrf, client_id, csrf_token

__all__ = [
    "SESSION_MAX_AGE",
    "bp",
    "current_user",
    "home_for",
    "init_app",
    "protect",
    "require",
    "safe_next",
]

SESSION_MAX_AGE = dt.timedelta(hours=12)
#: The rate-limit group of sign-in attempts per (account, client) pair.
_PAIR_GROUP = "signin-pair"
_LOCKOUT_S = int(access.LOCKOUT.total_seconds())
_UID, _NONCE, _AT = "uid", "sn", "at"

F = TypeVar("F", bound=Callable[..., ResponseReturnValue])

bp = Blueprint("auth", __name__)


def current_user() -> User | None:
    """The signed-in user of this request (by session cookie or bearer token), or None."""
    if "user" in g:
        found: User | None = g.user
        return found
    user = None
    signed_at = session.get(_AT)
    if (
        isinstance(signed_at, int)
        and isinstance(session.get(_NONCE), str)
        and utcnow().timestamp() - signed_at < SESSION_MAX_AGE.total_seconds()
    ):
        user = access.active_user(db(), session.get(_UID))
    g.user = user
    return user


def home_for(user: User) -> str:
    if user.role is Role.OPERATOR:
        return url_for("portal.home")
    if user.role is Role.INSPECTOR:
        return url_for("inspect.home")
    return url_for("admin.home")


#: The longest path :func:`safe_next` returns to.
NEXT_MAX_LEN = 500


def safe_next(raw: str | None) -> str | None:
    """A same-site path to go back to after signing in, or None (never another site).

    Browsers strip tabs and newlines inside a URL and read a backslash as a slash, so
    ``/\t/evil.example`` or ``/\\evil.example`` would leave the site: only printable ASCII
    without spaces or backslashes is accepted, and it must be a path (``/`` not followed by
    ``/``, no scheme, no host). A newline never reaches a ``Location`` header.
    """
    if not raw or len(raw) > NEXT_MAX_LEN or not raw.isascii() or "\\" in raw:
        return None
    if any(not char.isprintable() or char.isspace() for char in raw):
        return None
    if not raw.startswith("/") or raw.startswith("//"):
        return None
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc:
        return None
    return raw


def signed_in_user() -> User:
    """The signed-in user of a view behind :func:`require` (PermissionDeniedError if none,
    which :func:`require` already rules out)."""
    user = current_user()
    if user is None:
        raise PermissionDeniedError(key="access.role_may_not")
    return user


def require(*roles: Role) -> Callable[[F], F]:
    """Let a view run only for a signed-in user with one of ``roles``.

    Anonymous visitors are sent to the sign-in page (and back afterwards); a signed-in user
    with another role gets 403.
    """

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            user = current_user()
            if user is None:
                return redirect(url_for("auth.sign_in", next=request.full_path.rstrip("?")), 303)
            if user.role not in roles:
                raise PermissionDeniedError(key="access.role_may_not")
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def _private(response: Any) -> Any:
    response.headers["Cache-Control"] = "no-store"
    return response


def protect(blueprint: Blueprint) -> None:
    """Check the CSRF token of every state-changing request to ``blueprint``; mark its pages
    private (never cached)."""

    def guard() -> None:
        if request.method not in {"GET", "HEAD", "OPTIONS"}:
            check_csrf()

    blueprint.before_request(guard)
    blueprint.after_request(_private)


protect(bp)


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> ResponseReturnValue:
    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        user = current_user()
        if user is not None:
            return redirect(target or home_for(user), 303)
        return render_template("auth/sign_in.html", error=None, username="", next=target)
    username = request.form.get("username", "")
    password = request.form.get("password", "")
    pair = f"{access.normal_username(username)}\x00{client_id()}"
    try:
        _throttle(pair, password)
        user = _sign_in(pair, username, password)
    except access.SignInFailedError as exc:
        page = render_template("auth/sign_in.html", error=exc, username=username[:64], next=target)
        return page, exc.http_status, _retry_after(exc)
    _limiter().clear(_PAIR_GROUP, pair, limit=access.MAX_FAILED_SIGN_INS, window_s=_LOCKOUT_S)
    session.clear()  # a new session: no fixation, a new CSRF token
    session.permanent = True
    session[_UID] = user.id
    session[_NONCE] = secrets.token_urlsafe(16)
    session[_AT] = int(utcnow().timestamp())
    g.user = user
    return redirect(target or home_for(user), 303)


def _limiter() -> RateLimiter:
    found: RateLimiter = current_app.extensions["agritrace.limiter"]
    return found


def _throttle(pair: str, password: str) -> None:
    """Count this attempt of one (account, client) pair before any password is checked (one
    atomic increment in the shared storage; fails closed, a 503, when it is unreachable);
    over :data:`~agritrace.trace.access.MAX_FAILED_SIGN_INS` the pair waits out the lock-out,
    at the cost of a real check, while the account's owner, elsewhere, can still sign in."""
    wait = _limiter().hit(
        _PAIR_GROUP, pair, limit=access.MAX_FAILED_SIGN_INS, window_s=_LOCKOUT_S, fail_open=False
    )
    if wait is not None:
        access.refuse_throttled(password, wait)


def _sign_in(pair: str, username: str, password: str) -> User:
    """The service's sign-in; a failure that used up the pair's last attempt says so at
    once (locked out), as the account lock-out always did."""
    try:
        return access.sign_in(db(), username, password, now=utcnow())
    except access.LockedOutError:
        raise
    except access.SignInFailedError:
        wait = _limiter().exhausted(
            _PAIR_GROUP, pair, limit=access.MAX_FAILED_SIGN_INS, window_s=_LOCKOUT_S
        )
        if wait is not None:
            access.raise_locked_out(wait)
        raise


def _retry_after(exc: AgritraceError) -> dict[str, str]:
    wait = exc.facts.get("retry_after")
    return {"Retry-After": str(wait)} if isinstance(wait, int) else {}


@bp.post("/sign-out")
def sign_out() -> ResponseReturnValue:
    session.clear()
    g.user = None
    return redirect(url_for("auth.sign_in"), 303)


@bp.get("/account")
@require(Role.OPERATOR, Role.INSPECTOR, Role.ADMIN)
def account() -> ResponseReturnValue:
    return _account_page(new_token=None, error=None)


def _account_page(
    *, new_token: access.NewToken | None, error: AgritraceError | None, status: int = 200
) -> ResponseReturnValue:
    user = signed_in_user()
    tokens = access.list_tokens(db(), user=user)
    settings = current_app.extensions["agritrace"].settings
    page = render_template(
        "auth/account.html",
        tokens=tokens,
        new_token=new_token,
        error=error,
        now=utcnow(),
        token_days=min(settings.token_days, settings.token_max_days),
        token_max_days=settings.token_max_days,
    )
    return page, status


@bp.post("/account/tokens")
@require(Role.OPERATOR, Role.INSPECTOR, Role.ADMIN)
def create_token() -> ResponseReturnValue:
    user = signed_in_user()
    try:
        settings = current_app.extensions["agritrace"].settings
        made = access.create_token(
            db(),
            user=user,
            name=request.form.get("name", ""),
            now=utcnow(),
            days=request.form.get("days", ""),
            default_days=settings.token_days,
            max_days=settings.token_max_days,
        )
    except AgritraceError as exc:
        return _account_page(new_token=None, error=exc, status=exc.http_status)
    return _account_page(new_token=made, error=None, status=201)


@bp.post("/account/tokens/<int:token_id>/revoke")
@require(Role.OPERATOR, Role.INSPECTOR, Role.ADMIN)
def revoke_token(token_id: int) -> ResponseReturnValue:
    user = signed_in_user()
    access.revoke_token(db(), token_id=token_id, actor=user, now=utcnow())
    return redirect(url_for("auth.account"), 303)


def init_app(app: Flask) -> None:
    """Give templates ``csrf_token()``, ``current_user()`` and ``home_for``."""

    zone = app.extensions["agritrace"].settings.zone

    def when_iso(text: str) -> str:
        """An ISO 8601 time from a record, in the viewer's zone and language."""
        try:
            moment = dt.datetime.fromisoformat(text)
        except (TypeError, ValueError):
            return str(text)
        if moment.tzinfo is None:
            return str(text)
        return format_datetime(moment, current_language(), zone)

    @app.context_processor
    def _helpers() -> dict[str, Any]:
        return {
            "csrf_token": csrf_token,
            "current_user": current_user,
            "home_for": home_for,
            "when_iso": when_iso,
        }
