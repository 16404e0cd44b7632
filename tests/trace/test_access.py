"""Access services: sign-in with lock-out, API tokens, facility scope, audit runs."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib

import pytest
from sqlalchemy.orm import Session

from agritrace.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from agritrace.trace import access, passwords, registry
from agritrace.trace.models import User
from tests.trace.factories import certified_lot

PASSWORD = "correct horse battery"


def _user(session: Session, name: str = "mai", role: str = "operator") -> User:
    if not registry.facility_exists(session, "HD-VAI-01"):
        certified_lot(session, dt.datetime(2026, 11, 20, tzinfo=dt.UTC))
    return registry.add_user(
        session,
        username=name,
        password=PASSWORD,
        role=role,
        facility_code="HD-VAI-01" if role == "operator" else None,
    )


def test_sign_in_returns_the_user_and_resets_failures(session: Session, now: dt.datetime) -> None:
    user = _user(session)
    with pytest.raises(access.SignInFailedError):
        access.sign_in(session, "mai", "wrong", now=now)
    assert user.failed_logins == 1
    assert access.sign_in(session, " MAI ", PASSWORD, now=now).id == user.id
    assert user.failed_logins == 0


def _old_hash(password: str, n: int = 2**10) -> str:
    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=8, p=1, dklen=32, maxmem=64 << 20)
    return f"scrypt${n}$8$1${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def test_sign_in_rehashes_a_password_stored_with_older_scrypt_parameters(
    session: Session, now: dt.datetime
) -> None:
    user = _user(session)
    old = _old_hash(PASSWORD)
    user.password_hash = old
    session.commit()
    with pytest.raises(access.SignInFailedError):
        access.sign_in(session, "mai", "wrong password", now=now)
    session.refresh(user)
    assert user.password_hash == old  # a wrong password changes nothing
    access.sign_in(session, "mai", PASSWORD, now=now)
    session.refresh(user)
    assert user.password_hash != old
    assert user.password_hash.startswith("scrypt$16384$8$1$")
    assert not passwords.needs_rehash(user.password_hash)
    current = user.password_hash
    access.sign_in(session, "mai", PASSWORD, now=now)  # current parameters: kept as they are
    session.refresh(user)
    assert user.password_hash == current


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        (_old_hash("x" * 12), True),
        (_old_hash("x" * 12, n=2**15), True),
        ("pbkdf2$1$2$3$4$5", True),
        ("garbage", True),
        ("scrypt$16384$8$1$AAAA$!!!", True),
    ],
)
def test_needs_rehash_for_other_parameters_or_schemes(stored: str, expected: bool) -> None:
    assert passwords.needs_rehash(stored) is expected
    assert not passwords.needs_rehash(passwords.hash_password("x" * 12))


def test_the_account_ceiling_locks_for_fifteen_minutes(session: Session, now: dt.datetime) -> None:
    _user(session)
    ceiling = 5  # the real ceiling is ACCOUNT_MAX_FAILED_SIGN_INS; a small one is as good here
    for _ in range(ceiling - 1):
        with pytest.raises(access.SignInFailedError, match="wrong username or password"):
            access.sign_in(session, "mai", "wrong", now=now, max_failures=ceiling)
    with pytest.raises(access.LockedOutError) as locked:
        access.sign_in(session, "mai", "wrong", now=now, max_failures=ceiling)
    assert locked.value.facts["retry_after"] == 15 * 60
    with pytest.raises(access.LockedOutError):
        access.sign_in(
            session, "mai", PASSWORD, now=now + dt.timedelta(minutes=14), max_failures=ceiling
        )
    later = now + access.LOCKOUT + dt.timedelta(seconds=1)
    assert access.sign_in(session, "mai", PASSWORD, now=later).username == "mai"


def test_unknown_and_inactive_users_get_the_same_answer(session: Session, now: dt.datetime) -> None:
    user = _user(session)
    user.active = False
    session.commit()
    for name in ("mai", "nobody"):
        with pytest.raises(access.SignInFailedError, match=r"^wrong username or password$"):
            access.sign_in(session, name, PASSWORD, now=now)


def test_a_token_is_stored_as_its_hash_and_finds_its_user(
    session: Session, now: dt.datetime
) -> None:
    user = _user(session)
    made = access.create_token(session, user=user, name="erp", now=now)
    assert made.secret.startswith(access.TOKEN_PREFIX)
    assert len(made.secret) > 40
    assert made.token.token_hash == hashlib.sha256(made.secret.encode()).digest()
    assert access.user_for_token(session, made.secret, now=now).id == user.id
    assert made.token.last_used_at == now


@pytest.mark.parametrize("secret", ["", "agt_", "agt_nothing", "x" * 300, "Bearer agt_x"])
def test_unknown_tokens_are_refused(session: Session, now: dt.datetime, secret: str) -> None:
    with pytest.raises(access.AuthenticationRequiredError):
        access.user_for_token(session, secret, now=now)


def test_revoked_tokens_stop_and_only_the_owner_or_an_admin_revokes(
    session: Session, now: dt.datetime
) -> None:
    owner = _user(session)
    other = _user(session, "lan", "inspector")
    admin = _user(session, "root", "admin")
    made = access.create_token(session, user=owner, name="erp", now=now)
    with pytest.raises(NotFoundError):
        access.revoke_token(session, token_id=made.token.id, actor=other, now=now)
    with pytest.raises(InvalidInputError, match="reason must not be empty"):
        access.revoke_token(session, token_id=made.token.id, actor=admin, now=now)
    revoked = access.revoke_token(
        session, token_id=made.token.id, actor=admin, now=now, reason="  leaked in a log  "
    )
    assert (revoked.revoked_by, revoked.revoke_reason) == ("root", "leaked in a log")
    with pytest.raises(access.AuthenticationRequiredError, match="revoked"):
        access.user_for_token(session, made.secret, now=now)
    with pytest.raises(ConflictError):
        access.revoke_token(session, token_id=made.token.id, actor=owner, now=now)
    mine = access.create_token(session, user=owner, name="erp 2", now=now)
    revoked = access.revoke_token(session, token_id=mine.token.id, actor=owner, now=now)
    assert (revoked.revoked_by, revoked.revoke_reason) == (owner.username, None)


def test_an_operator_acts_only_for_its_facility(session: Session, now: dt.datetime) -> None:
    user = _user(session)
    own = registry.get_facility(session, "HD-VAI-01")
    other = registry.add_facility(session, code="HN-KHO-02", name="K", province="HN", address="x")
    access.check_facility(user, own)
    with pytest.raises(PermissionDeniedError, match="not yours"):
        access.check_facility(user, other)
    access.check_facility(_user(session, "lan", "inspector"), other)


def test_one_audit_runs_at_a_time_unless_the_other_was_abandoned(
    session: Session, now: dt.datetime
) -> None:
    run = access.start_audit_run(session, by="lan", target_size=10, now=now)
    with pytest.raises(ConflictError, match="already running"):
        access.start_audit_run(session, by="lan", target_size=10, now=now)
    later = now + access.ABANDONED_AUDIT + dt.timedelta(minutes=1)
    access.start_audit_run(session, by="lan", target_size=10, now=later)
    access.finish_audit_run(
        session, run.id, intact=True, message="ok", first_bad_index=None, done=10, now=later
    )
    finished = access.latest_audit_run(session, finished=True)
    assert finished is not None
    assert finished.id == run.id
    assert finished.intact is True


def test_an_admin_cannot_demote_itself(session: Session) -> None:
    admin = _user(session, "root", "admin")
    with pytest.raises(ConflictError):
        access.update_user(
            session,
            user_id=admin.id,
            role="inspector",
            facility_code=None,
            active=True,
            actor=admin,
        )
    changed = access.update_user(
        session,
        user_id=_user(session, "lan", "inspector").id,
        role="operator",
        facility_code="HD-VAI-01",
        active=True,
        actor=admin,
    )
    assert changed.facility is not None
