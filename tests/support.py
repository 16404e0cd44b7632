"""Helpers the test suites share: real databases made fresh, and the skip-or-fail rule.

A test that needs PostgreSQL, Chromium or a tool skips locally with a reason, but fails when
``AGRITRACE_REQUIRE_ALL=1`` (set by ``.ci/run``), so nothing skips silently in CI.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from agritrace.db import make_engine

REQUIRE_ALL = os.environ.get("AGRITRACE_REQUIRE_ALL", "") == "1"
PG_URL = os.environ.get("AGRITRACE_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("AGRITRACE_TEST_REDIS_URL", "")
BACKENDS = ("sqlite", "postgres")


def unavailable(reason: str) -> None:
    """Skip the current test locally; fail it when every dependency is required (CI)."""
    if REQUIRE_ALL:
        pytest.fail(f"required in CI but unavailable: {reason}")
    pytest.skip(reason)


def require_postgres() -> str:
    if not PG_URL:
        unavailable("PostgreSQL not configured: set AGRITRACE_TEST_DATABASE_URL")
    return PG_URL


def require_redis() -> str:
    """The test Redis's URL (``AGRITRACE_TEST_REDIS_URL``), answering a PING; else skip/fail."""
    if not REDIS_URL:
        unavailable("Redis not configured: set AGRITRACE_TEST_REDIS_URL")
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        unavailable(f"Redis at {REDIS_URL} does not answer: {exc}")
    return REDIS_URL


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} is not installed")
    return str(path)


def _with_search_path(url: str, schema: str) -> str:
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    query = dict(parsed.query)
    query["options"] = f"-csearch_path={schema}"
    return parsed.set(query=query).render_as_string(hide_password=False)


@contextmanager
def fresh_database(backend: str, folder: Path) -> Iterator[str]:
    """A URL to an empty database of ``backend``, removed afterwards.

    SQLite: a new file in ``folder``. PostgreSQL: a new schema in the test database, reached
    through ``search_path`` so that every connection (other processes too) sees only it.
    """
    if backend == "sqlite":
        yield f"sqlite:///{folder / f'test-{secrets.token_hex(4)}.db'}"
        return
    base = require_postgres()
    schema = f"t_{secrets.token_hex(6)}"
    admin = make_engine(base)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield _with_search_path(base, schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def kill_backend(engine: Engine, pid: int) -> None:
    """End PostgreSQL backend ``pid`` (as a server restart or an idle timeout would) through
    ``engine``, and return once the server no longer lists it (it ends asynchronously)."""
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    wait_backend_gone(engine, pid)


def wait_backend_gone(engine: Engine, pid: int) -> None:
    """Return once PostgreSQL backend ``pid`` has ended; fail if it has not soon."""
    query = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
    for _ in range(200):
        with engine.connect() as conn:
            if not conn.execute(query, {"pid": pid}).scalar_one():
                return
    raise AssertionError(f"PostgreSQL backend {pid} is still alive")
