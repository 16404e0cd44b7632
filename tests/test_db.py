"""The database layer: pragmas, types, and the per-test rollback harness itself."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from agritrace import db as db_module
from agritrace.db import begin_write, make_engine, make_sessionmaker, utcnow
from agritrace.migrations import current_revision, head_revision
from agritrace.trace import registry
from agritrace.trace.models import Facility
from tests.support import require_postgres


def test_sqlite_runs_with_wal_full_sync_and_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_schema_is_at_head(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()


def test_timestamps_come_back_aware_utc(session: Session) -> None:
    facility = registry.add_facility(session, code="F1", name="A", province="P", address="x")
    session.expire_all()
    stored = session.get(Facility, facility.id)
    assert stored is not None
    assert stored.created_at.tzinfo is dt.UTC
    assert abs(stored.created_at - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)


def test_service_commit_inside_test_is_invisible_to_others_and_rolled_back(
    engine: Engine,
) -> None:
    """The harness's promise: a test's commits never leak into the database."""
    with engine.connect() as conn:
        outer = conn.begin()
        session = Session(bind=conn, join_transaction_mode="create_savepoint")
        registry.add_facility(session, code="ISOLATED", name="A", province="P", address="x")
        assert session.scalar(select(func.count()).select_from(Facility)) == 1
        with engine.connect() as other:
            seen = other.execute(text("SELECT count(*) FROM facility WHERE code = 'ISOLATED'"))
            assert seen.scalar() == 0
        session.close()
        outer.rollback()
    with engine.connect() as conn:
        after = conn.execute(text("SELECT count(*) FROM facility WHERE code = 'ISOLATED'"))
        assert after.scalar() == 0


def test_foreign_keys_are_enforced(session: Session) -> None:
    with pytest.raises(IntegrityError):
        session.execute(
            text(
                "INSERT INTO certificate (facility_id, scheme, number, issuer, valid_from,"
                " valid_to, scope, status, created_at) VALUES (999, 'vietgap', 'N', 'I',"
                " '2026-01-01', '2026-12-31', 's', 'active', '2026-01-01 00:00:00')"
            )
        )


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        pid: int = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    return pid


@pytest.fixture
def killed_pool() -> Iterator[tuple[Engine, int]]:
    """A one-connection PostgreSQL pool whose connection the server has just closed (as a
    restart or an idle timeout would), and the pid that connection had."""
    url = require_postgres()
    engine = make_engine(url, pool_size=1, max_overflow=0)
    admin = make_engine(url)
    try:
        pid = _backend_pid(engine)
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        yield engine, pid
    finally:
        admin.dispose()
        engine.dispose()


def test_an_idle_pooled_connection_killed_by_the_server_is_replaced_unnoticed(
    killed_pool: tuple[Engine, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL connections are pinged before reuse only after sitting idle; one the server
    closed meanwhile is replaced and the query still works."""
    engine, old_pid = killed_pool
    # The connection went back to the pool just now; pretend it has been idle a while.
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_S", 0.0)
    assert _backend_pid(engine) != old_pid


def test_a_busy_pooled_connection_is_reused_without_a_ping(
    killed_pool: tuple[Engine, int],
) -> None:
    """Under load a connection comes back within milliseconds and is used without a ping:
    the next query meets the dead connection (a 503 on the web), and the pool drops it, so
    the query after that works again."""
    engine, old_pid = killed_pool
    with pytest.raises(OperationalError):
        _backend_pid(engine)
    assert _backend_pid(engine) != old_pid


def test_begin_write_never_commits_what_its_transaction_already_wrote(fresh_db_url: str) -> None:
    """begin_write restarts a SQLite transaction that only read (so that the writer sees
    current rows); one that wrote stays whole: rolled back, nothing of it remains."""
    engine = make_engine(fresh_db_url)
    sessions = make_sessionmaker(engine)
    insert = text(
        "INSERT INTO product (code, name, category, unit, created_at) "
        "VALUES ('BW-1', 'x', 'fruit', 'box', :at)"
    )
    with sessions() as session:
        session.execute(insert, {"at": utcnow()})
        begin_write(session)
        session.rollback()
    with sessions() as session:
        assert session.scalar(text("SELECT count(*) FROM product WHERE code = 'BW-1'")) == 0
    engine.dispose()
