"""Who may do what: signing in with lock-out, API tokens, user administration, scopes.

No web framework here: the web's sign-in form, its bearer-token check and the CLI call these
services with a Session.

- **Sign-in** (:func:`sign_in`): every attempt atomically reserves one of the account's
  :data:`ACCOUNT_MAX_FAILED_SIGN_INS` password checks; when they are used up the account is
  locked for :data:`LOCKOUT`, and even the right password is refused until then. The web
  throttles each (account, client) pair sooner (:data:`MAX_FAILED_SIGN_INS`), so one stranger
  cannot lock the owner out. An unknown user runs the same statements and the same scrypt
  work as a known one and gets the same message, so a form does not reveal who has an account.
- **API tokens** (:func:`create_token`): ``agt_`` + 32 random bytes (base64url), shown once;
  only its SHA-256 is stored, with its owner, name, creation, expiry (:data:`TOKEN_DAYS` by
  default, at most :data:`TOKEN_MAX_DAYS`; settings may change both), last use and
  revocation. An expired token authenticates no one. A
  token acts with its user's role and facility, and stops working when either is revoked or
  deactivated. Owners list and revoke their own (:func:`list_tokens`); an administrator
  pages through everyone's (:func:`tokens_page`) and revokes any (:func:`revoke_token`).
- **Scopes** (:func:`check_facility`): an operator acts only for its own facility.
- **Audit runs** (:class:`AuditRun`): when the ledger was last audited, by whom, how far a
  running audit has got, and what it found.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from typing import NoReturn

from sqlalchemy import BigInteger, ForeignKey, LargeBinary, String, Text, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship, selectinload

from agritrace.db import Base, UTCDateTime, begin_write
from agritrace.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from agritrace.trace.models import Facility, Role, User
from agritrace.trace.passwords import needs_rehash, rehash, verify_password
from agritrace.trace.registry import get_facility
from agritrace.trace.validation import check_text, parse_positive_int

__all__ = [
    "ACCOUNT_MAX_FAILED_SIGN_INS",
    "LOCKOUT",
    "MAX_FAILED_SIGN_INS",
    "TOKEN_DAYS",
    "TOKEN_MAX_DAYS",
    "TOKEN_PREFIX",
    "ApiToken",
    "AuditRun",
    "AuthenticationRequiredError",
    "LockedOutError",
    "NewToken",
    "SignInFailedError",
    "active_user",
    "check_facility",
    "create_token",
    "finish_audit_run",
    "get_audit_run",
    "get_user",
    "latest_audit_run",
    "list_tokens",
    "list_users",
    "normal_username",
    "operator_facility",
    "raise_locked_out",
    "refuse_throttled",
    "revoke_token",
    "set_audit_progress",
    "sign_in",
    "start_audit_run",
    "tokens_page",
    "update_user",
    "user_for_token",
]

#: Failed sign-ins allowed per (account, client) per :data:`LOCKOUT` (the web's throttle):
#: that client then waits; the account's owner, elsewhere, does not.
MAX_FAILED_SIGN_INS = 5
#: Password checks allowed per account, from all clients together, before it locks for
#: :data:`LOCKOUT` (a slower ceiling against guessing from many addresses).
ACCOUNT_MAX_FAILED_SIGN_INS = 50
LOCKOUT = dt.timedelta(minutes=15)
TOKEN_PREFIX = "agt_"  # noqa: S105 - a public marker, not a secret
MAX_TOKENS_PER_USER = 50
#: A new token's lifetime in days unless its owner asks for less (``AGRITRACE_TOKEN_DAYS``).
TOKEN_DAYS = 90
#: The longest lifetime an owner may ask for (``AGRITRACE_TOKEN_MAX_DAYS``).
TOKEN_MAX_DAYS = 365
#: An audit still unfinished after this long died with its process; another may start.
ABANDONED_AUDIT = dt.timedelta(hours=2)
#: A token's last use is written at most this often (not a write per API request).
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


class AuthenticationRequiredError(PermissionDeniedError):
    """No (valid) credentials came with the request."""

    http_status = 401
    slug = "authentication-required"


class SignInFailedError(AuthenticationRequiredError):
    """Wrong username or password (the message never says which)."""

    slug = "sign-in-failed"


class LockedOutError(SignInFailedError):
    """Too many failed sign-ins: the account is locked. Fact: ``retry_after`` (seconds)."""

    http_status = 429
    slug = "locked-out"


class ApiToken(Base):
    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    hint: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: The username of whoever revoked the token (its owner or an administrator).
    revoked_by: Mapped[str | None] = mapped_column(String(64))
    #: Why an administrator revoked another user's token (none when owners revoke their own).
    revoke_reason: Mapped[str | None] = mapped_column(Text)
    #: When the token stops working (set at creation: ``AGRITRACE_TOKEN_DAYS`` by default,
    #: at most ``AGRITRACE_TOKEN_MAX_DAYS``).
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class AuditRun(Base):
    """One run of the full ledger audit (``ledger.audit.audit``) started from the web."""

    __tablename__ = "audit_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_by: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    target_size: Mapped[int] = mapped_column(BigInteger)
    done: Mapped[int] = mapped_column(BigInteger)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    intact: Mapped[bool | None] = mapped_column()
    #: In English, with the hashes that differ (logs, and the page's technical detail).
    message: Mapped[str | None] = mapped_column(Text)
    first_bad_index: Mapped[int | None] = mapped_column(BigInteger)
    #: What was wrong: a slug of ``agritrace.ledger.audit.PROBLEMS``, or ``error`` when the
    #: audit could not run; none for an intact ledger (and for runs from before revision 0008).
    problem: Mapped[str | None] = mapped_column(String(32))
    #: How many signed checkpoints an intact ledger's audit verified.
    checkpoints: Mapped[int | None] = mapped_column(BigInteger)


@dataclass(frozen=True, slots=True)
class NewToken:
    """A token just created: ``secret`` is shown to its owner once and never again."""

    token: ApiToken
    secret: str


#: A stored-hash stand-in for unknown, inactive and locked accounts: checking a password
#: against it costs exactly what checking a real one costs (same scrypt parameters), and it
#: matches nothing (no password derives an all-zero key).
_DUMMY_HASH = "scrypt$16384$8$1$" + "A" * 22 + "==$" + "A" * 43 + "="


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    return None if moment is None else moment.astimezone(dt.UTC)


def normal_username(username: str) -> str:
    """The form a username is looked up (and throttled) by: trimmed, lower case, at most 64."""
    return username.strip().lower()[:64]


def sign_in(
    session: Session,
    username: str,
    password: str,
    *,
    now: dt.datetime,
    max_failures: int = ACCOUNT_MAX_FAILED_SIGN_INS,
) -> User:
    """The active user with this name and password. Commits.

    The per-account ceiling is counted atomically: an attempt first reserves one of the
    account's ``max_failures`` password checks (one ``UPDATE ... RETURNING``), so however many
    connections guess at once, at most ``max_failures`` passwords are checked before the
    account locks for :data:`LOCKOUT`. Every attempt runs the same statements and one scrypt
    check (against :data:`_DUMMY_HASH` for an unknown, inactive or locked account), so neither
    the answer nor the work tells who has an account. (The web also throttles each (account,
    client) pair at :data:`MAX_FAILED_SIGN_INS`, so that a stranger reaches this ceiling only
    from many clients.)

    A password hash made with older scrypt parameters is replaced by one with the current
    parameters (:func:`~agritrace.trace.passwords.needs_rehash`), unless the password was
    changed meanwhile.

    Raises SignInFailedError (wrong name or password, or an inactive account: one message for
    all) or LockedOutError (with ``retry_after``) while the account is locked.
    """
    name = normal_username(username)
    begin_write(session)
    reserved = session.execute(
        update(User)
        .where(
            User.username == name,
            User.active.is_(True),
            or_(User.locked_until.is_(None), User.locked_until <= now),
            User.failed_logins < max_failures,
        )
        .values(failed_logins=User.failed_logins + 1)
        .returning(User.id, User.password_hash)
    ).first()
    session.commit()  # the reservation holds before the password is checked
    matched = verify_password(password, reserved[1] if reserved else _DUMMY_HASH)
    begin_write(session)
    if reserved is not None and matched:
        session.execute(
            update(User).where(User.id == reserved[0]).values(failed_logins=0, locked_until=None)
        )
        if needs_rehash(reserved[1]):  # older scrypt parameters: store the current ones
            session.execute(
                update(User)
                .where(User.id == reserved[0], User.password_hash == reserved[1])
                .values(password_hash=rehash(password))
            )
        session.commit()
        return get_user(session, reserved[0])
    session.execute(
        update(User)
        .where(User.username == name, User.failed_logins >= max_failures)
        .values(failed_logins=0, locked_until=now + LOCKOUT)
    )
    locked_until = _aware(
        session.scalar(select(User.locked_until).where(User.username == name, User.active))
    )
    session.commit()
    if locked_until is not None and locked_until > now:
        raise_locked_out(math.ceil((locked_until - now).total_seconds()))
    raise SignInFailedError(key="signin.failed")


def raise_locked_out(wait_s: int) -> NoReturn:
    """Refuse a sign-in for ``wait_s`` more seconds (LockedOutError)."""
    raise LockedOutError(key="signin.locked", minutes=wait_s // 60 + 1, retry_after=wait_s)


def refuse_throttled(password: str, wait_s: int) -> NoReturn:
    """Refuse an attempt the caller's throttle stopped, after the same scrypt work a real
    check costs (so a throttled answer takes as long for every name)."""
    verify_password(password, _DUMMY_HASH)
    raise_locked_out(wait_s)


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(key="user.unknown", user=user_id)
    return user


def active_user(session: Session, user_id: object) -> User | None:
    """The active user with this id (from a session cookie), or None."""
    if isinstance(user_id, bool) or not isinstance(user_id, int):
        return None
    user = session.get(User, user_id)
    if user is None or not user.active:
        return None
    return user


def check_facility(user: User, facility: Facility) -> None:
    """Raise PermissionDeniedError unless ``user`` may act for ``facility``.

    Inspectors and administrators see every facility; an operator only its own.
    """
    if user.role is Role.OPERATOR and user.facility_id != facility.id:
        raise PermissionDeniedError(key="facility.not_yours", facility=facility.code)


def operator_facility(user: User) -> Facility:
    """The facility ``user`` acts for: PermissionDeniedError for a user bound to none
    (inspectors and administrators; an operator always has one, a CHECK constraint)."""
    if user.facility is None:
        raise PermissionDeniedError(key="access.role_may_not")
    return user.facility


# -- API tokens -----------------------------------------------------------------------------


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


def create_token(
    session: Session,
    *,
    user: User,
    name: str,
    now: dt.datetime,
    days: str | int | None = None,
    default_days: int = TOKEN_DAYS,
    max_days: int = TOKEN_MAX_DAYS,
) -> NewToken:
    """A new API token for ``user`` that works for ``days`` (empty: ``default_days``; at
    most ``max_days``); the returned secret is never stored. Commits. Raises
    InvalidInputError for a name or a lifetime out of bounds, ConflictError past
    :data:`MAX_TOKENS_PER_USER` live tokens."""
    label = check_text(name, field="token name", max_len=100)
    lifetime = (
        min(default_days, max_days)
        if days is None or (isinstance(days, str) and not days.strip())
        else parse_positive_int(days, field="days", maximum=max_days)
    )
    begin_write(session)
    live = session.scalars(
        select(ApiToken.id).where(
            ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None), ApiToken.expires_at > now
        )
    ).all()
    if len(live) >= MAX_TOKENS_PER_USER:
        raise ConflictError(key="token.too_many", limit=MAX_TOKENS_PER_USER)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=label,
        token_hash=_digest(secret),
        hint=secret[: len(TOKEN_PREFIX) + 4],
        created_at=now,
        expires_at=now + dt.timedelta(days=lifetime),
    )
    session.add(token)
    session.commit()
    return NewToken(token=token, secret=secret)


def user_for_token(session: Session, secret: str, *, now: dt.datetime) -> User:
    """The active user a live token belongs to; raises AuthenticationRequiredError.

    Records the token's last use (at most once per :data:`LAST_USED_RESOLUTION`).
    """
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        raise AuthenticationRequiredError(key="token.invalid")
    digest = _digest(secret)
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    if (
        token is None
        or not hmac.compare_digest(token.token_hash, digest)
        or token.revoked_at is not None
        or not token.user.active
    ):
        session.rollback()
        raise AuthenticationRequiredError(key="token.invalid_or_revoked")
    expires_at = _aware(token.expires_at)
    if expires_at is None or expires_at <= now:
        session.rollback()
        raise AuthenticationRequiredError(key="token.expired")
    last = _aware(token.last_used_at)
    if last is None or now - last >= LAST_USED_RESOLUTION:
        session.execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now))
        session.commit()
    return token.user


def list_tokens(session: Session, *, user: User | None = None) -> list[ApiToken]:
    """Tokens of ``user`` (None: everyone's), newest first."""
    query = select(ApiToken).order_by(ApiToken.id.desc())
    if user is not None:
        query = query.where(ApiToken.user_id == user.id)
    return list(session.scalars(query))


def tokens_page(session: Session, *, before: int | None, limit: int) -> list[ApiToken]:
    """Every user's tokens, newest first, with ids below ``before`` (None: from the newest):
    one keyset page of at most ``limit``, each with its owner and the owner's facility
    loaded (for the administrator's list)."""
    query = (
        select(ApiToken)
        .options(selectinload(ApiToken.user).selectinload(User.facility))
        .order_by(ApiToken.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(ApiToken.id < before)
    return list(session.scalars(query))


#: The longest reason an administrator may give for revoking a token.
REVOKE_REASON_MAX = 500


def revoke_token(
    session: Session, *, token_id: int, actor: User, now: dt.datetime, reason: str = ""
) -> ApiToken:
    """Revoke a token: its owner or an administrator may; the token keeps who did it and,
    when it is not the owner, why (``reason`` is then required). Commits. Raises
    NotFoundError for a token that does not exist or that ``actor`` may not see,
    ConflictError if revoked, InvalidInputError for a missing or malformed reason."""
    begin_write(session)
    token = session.get(ApiToken, token_id)
    if token is None or (token.user_id != actor.id and actor.role is not Role.ADMIN):
        raise NotFoundError(key="token.unknown", token=token_id)
    if token.revoked_at is not None:
        raise ConflictError(key="token.already_revoked", token=token.id, name=token.name)
    own = token.user_id == actor.id
    why = check_text(reason, field="reason", max_len=REVOKE_REASON_MAX, required=not own)
    token.revoked_at = now
    token.revoked_by = actor.username
    token.revoke_reason = why or None
    session.commit()
    return token


# -- users ----------------------------------------------------------------------------------


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def update_user(
    session: Session,
    *,
    user_id: int,
    role: str,
    facility_code: str | None,
    active: bool,
    actor: User,
) -> User:
    """Change a user's role, facility and whether it may sign in; clears a lock-out. Commits.

    An operator needs a facility, other roles have none. An administrator cannot demote or
    deactivate itself (so that one administrator always remains).
    """
    try:
        role_value = Role(role.strip().lower())
    except ValueError as exc:
        raise InvalidInputError(key="user.role_unknown", field="role", role=role) from exc
    if role_value is Role.OPERATOR and not facility_code:
        raise InvalidInputError(key="user.operator_needs_facility", field="facility")
    if role_value is not Role.OPERATOR and facility_code:
        raise InvalidInputError(
            key="user.role_without_facility", field="facility", role=role_value.value
        )
    begin_write(session)
    user = get_user(session, user_id)
    if user.id == actor.id and (role_value is not Role.ADMIN or not active):
        raise ConflictError(key="user.keep_own_admin")
    facility = get_facility(session, facility_code) if facility_code else None
    user.role = role_value
    user.facility = facility
    user.active = active
    user.failed_logins = 0
    user.locked_until = None
    session.commit()
    return user


# -- audit runs -----------------------------------------------------------------------------


def start_audit_run(session: Session, *, by: str, target_size: int, now: dt.datetime) -> AuditRun:
    """Record that an audit starts; refuses while another one runs. Commits."""
    begin_write(session)
    running = session.scalar(
        select(AuditRun.id).where(
            AuditRun.finished_at.is_(None), AuditRun.started_at > now - ABANDONED_AUDIT
        )
    )
    if running is not None:
        raise ConflictError(key="audit.running", audit=running)
    run = AuditRun(started_by=by, started_at=now, target_size=target_size, done=0)
    session.add(run)
    session.commit()
    return run


def set_audit_progress(session: Session, run_id: int, done: int) -> None:
    session.execute(update(AuditRun).where(AuditRun.id == run_id).values(done=done))
    session.commit()


def finish_audit_run(
    session: Session,
    run_id: int,
    *,
    intact: bool,
    message: str,
    first_bad_index: int | None,
    done: int,
    now: dt.datetime,
    problem: str | None = None,
    checkpoints: int | None = None,
) -> None:
    session.execute(
        update(AuditRun)
        .where(AuditRun.id == run_id)
        .values(
            finished_at=now,
            intact=intact,
            message=message[:2000],
            first_bad_index=first_bad_index,
            done=done,
            problem=problem,
            checkpoints=checkpoints,
        )
    )
    session.commit()


def get_audit_run(session: Session, run_id: int) -> AuditRun:
    run = session.get(AuditRun, run_id)
    if run is None:
        raise NotFoundError(key="audit.unknown", audit=run_id)
    return run


def latest_audit_run(session: Session, *, finished: bool = False) -> AuditRun | None:
    query = select(AuditRun).order_by(AuditRun.id.desc()).limit(1)
    if finished:
        query = query.where(AuditRun.finished_at.is_not(None))
    return session.scalars(query).first()
