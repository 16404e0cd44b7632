"""Fixtures shared by every suite.

``engine`` and ``session`` run each database test on SQLite and on PostgreSQL (when
``AGRITRACE_TEST_DATABASE_URL`` is set). Each test gets a session inside a transaction that
is rolled back afterwards; services' own commits become SAVEPOINT releases (SQLAlchemy's
"join an external transaction" recipe, with the pysqlite hooks in ``agritrace.db``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from agritrace.db import make_engine
from agritrace.migrations import upgrade
from tests.support import BACKENDS, fresh_database

NOW = dt.datetime(2026, 11, 20, 3, 0, tzinfo=dt.UTC)


@pytest.fixture(
    scope="session",
    params=[
        pytest.param(name, marks=[pytest.mark.postgres] if name == "postgres" else [], id=name)
        for name in BACKENDS
    ],
)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def engine(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    folder = tmp_path_factory.mktemp(f"db-{backend}")
    with fresh_database(backend, folder) as url:
        eng = make_engine(url)
        upgrade(eng)
        yield eng
        eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with engine.connect() as conn:
        outer = conn.begin()
        db = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            yield db
        finally:
            db.close()
            outer.rollback()


@pytest.fixture
def now() -> dt.datetime:
    """A fixed clock for services that take ``now``."""
    return NOW


@pytest.fixture
def fresh_db_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """An empty, migrated database (committed state, for CLI and multi-process tests)."""
    with fresh_database(backend, tmp_path) as url:
        eng = make_engine(url)
        upgrade(eng)
        eng.dispose()
        yield url
