"""API tokens expire (the review found tokens that worked for ever): a default and a maximum
lifetime, enforced at authentication; tokens made before revision 0010 get 90 days from the
migration."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from agritrace.config import Settings
from agritrace.db import make_engine, make_sessionmaker, utcnow
from agritrace.errors import InvalidInputError
from agritrace.migrations import upgrade
from agritrace.trace import access, registry
from agritrace.trace.access import ApiToken
from agritrace.trace.models import User
from tests.support import fresh_database

OLD = "2026-01-02 03:04:05"  # raw SQL text, as both backends take it
BASE = {"AGRITRACE_BASE_URL": "https://trace.example.vn"}


def _admin(session: Session) -> User:
    return registry.add_user(
        session, username="root", password="a-long-password", role="admin", facility_code=None
    )


def test_a_new_token_lives_the_default_lifetime(session: Session, now: dt.datetime) -> None:
    made = access.create_token(session, user=_admin(session), name="erp", now=now)
    assert made.token.expires_at == now + dt.timedelta(days=access.TOKEN_DAYS)


def test_an_owner_may_ask_for_less_but_not_more_than_the_maximum(
    session: Session, now: dt.datetime
) -> None:
    user = _admin(session)
    short = access.create_token(session, user=user, name="a", now=now, days="7", max_days=30)
    assert short.token.expires_at == now + dt.timedelta(days=7)
    with pytest.raises(InvalidInputError, match="days"):
        access.create_token(session, user=user, name="b", now=now, days="31", max_days=30)
    for bad in ("0", "-1", "1e3", "٣", "７", "99999999999999999999999"):
        with pytest.raises(InvalidInputError):
            access.create_token(session, user=user, name="c", now=now, days=bad, max_days=30)


def test_an_expired_token_authenticates_no_one(session: Session, now: dt.datetime) -> None:
    made = access.create_token(session, user=_admin(session), name="erp", now=now, days=1)
    last_moment = made.token.expires_at - dt.timedelta(seconds=1)
    assert access.user_for_token(session, made.secret, now=last_moment).username == "root"
    with pytest.raises(access.AuthenticationRequiredError, match="expired"):
        access.user_for_token(session, made.secret, now=made.token.expires_at)


def test_settings_read_the_lifetimes_and_refuse_nonsense() -> None:
    settings = Settings.from_env(
        {**BASE, "AGRITRACE_TOKEN_DAYS": "30", "AGRITRACE_TOKEN_MAX_DAYS": "60"}
    )
    assert (settings.token_days, settings.token_max_days) == (30, 60)
    assert (Settings.from_env(BASE).token_days, Settings.from_env(BASE).token_max_days) == (90, 365)
    for env in (
        {"AGRITRACE_TOKEN_DAYS": "0"},
        {"AGRITRACE_TOKEN_DAYS": "٣٠"},
        {"AGRITRACE_TOKEN_DAYS": "99999"},
        {"AGRITRACE_TOKEN_DAYS": "100", "AGRITRACE_TOKEN_MAX_DAYS": "50"},
    ):
        with pytest.raises(InvalidInputError, match="AGRITRACE_TOKEN"):
            Settings.from_env({**BASE, **env})


def test_the_migration_gives_existing_tokens_ninety_days(backend: str, tmp_path: Path) -> None:
    with fresh_database(backend, tmp_path) as url:
        engine = make_engine(url)
        upgrade(engine, "0008")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO app_user (username, password_hash, role, active, failed_logins,"
                    " created_at) VALUES ('old', 'x', 'admin', true, 0, :at)"
                ),
                {"at": OLD},
            )
            conn.execute(
                text(
                    "INSERT INTO api_token (user_id, name, token_hash, hint, created_at)"
                    " SELECT id, 'legacy', :hash, 'agt_abcd', :at FROM app_user"
                ),
                {"hash": b"h" * 32, "at": OLD},
            )
        before = utcnow()
        upgrade(engine)
        with make_sessionmaker(engine)() as session:
            token = session.scalars(select(ApiToken)).one()
            expected = before + dt.timedelta(days=90)
            assert abs(token.expires_at - expected) < dt.timedelta(minutes=5)
        engine.dispose()
