"""DirectStatements: the scan count's own autocommit connections, on a real PostgreSQL."""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from agritrace import db as db_module
from agritrace.db import DirectStatements, make_engine
from tests.support import kill_backend, require_postgres, wait_backend_gone

PID_SQL = "SELECT pg_backend_pid()"


@pytest.fixture
def engines() -> Iterator[tuple[Engine, Engine]]:
    """The engine under test and a second one to watch and kill connections with."""
    url = require_postgres()
    engine, admin = make_engine(url), make_engine(url)
    try:
        yield engine, admin
    finally:
        engine.dispose()
        admin.dispose()


def _pid(direct: DirectStatements) -> int:
    pid: int = direct.rows(PID_SQL, None)[0][0]
    return pid


def _pid_in_new_thread(direct: DirectStatements) -> int:
    """The backend a new thread's statement runs on; the thread has ended on return."""
    seen: list[int] = []
    worker = threading.Thread(target=lambda: seen.append(_pid(direct)))
    worker.start()
    worker.join()
    assert len(seen) == 1
    return seen[0]


def test_statements_run_in_autocommit_on_one_connection_per_thread(
    engines: tuple[Engine, Engine],
) -> None:
    engine, admin = engines
    direct = DirectStatements(engine)
    first = _pid(direct)
    assert _pid(direct) == first  # the thread keeps its connection
    # Autocommit: after a statement the connection is idle, not idle in a transaction.
    with admin.connect() as conn:
        activity = text("SELECT state FROM pg_stat_activity WHERE pid = :pid")
        assert conn.execute(activity, {"pid": first}).scalar_one() == "idle"
    assert _pid_in_new_thread(direct) != first  # another thread, another connection


def test_a_threads_connection_is_closed_when_the_thread_ends(
    engines: tuple[Engine, Engine],
) -> None:
    """A development server runs each request in a new thread: their connections must not
    pile up until the engine is disposed."""
    engine, admin = engines
    direct = DirectStatements(engine)
    pid = _pid_in_new_thread(direct)
    gc.collect()  # the thread's local data is freed with it; collect anything left over
    wait_backend_gone(admin, pid)


def test_a_failed_statement_raises_sqlalchemys_error_and_keeps_the_connection(
    engines: tuple[Engine, Engine],
) -> None:
    engine, _ = engines
    direct = DirectStatements(engine)
    pid = _pid(direct)
    with pytest.raises(ProgrammingError):
        direct.rows("SELECT no_such_column FROM no_such_table", None)
    assert _pid(direct) == pid  # autocommit: nothing to roll back, the connection is fine


def test_a_busy_connection_killed_by_the_server_fails_once_then_is_replaced(
    engines: tuple[Engine, Engine],
) -> None:
    engine, admin = engines
    direct = DirectStatements(engine)
    old = _pid(direct)
    kill_backend(admin, old)
    with pytest.raises(OperationalError) as caught:
        _pid(direct)  # used again within the idle threshold: no ping, the statement fails
    assert caught.value.connection_invalidated
    assert _pid(direct) != old


def test_an_idle_connection_killed_by_the_server_is_replaced_unnoticed(
    engines: tuple[Engine, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, admin = engines
    direct = DirectStatements(engine)
    old = _pid(direct)
    kill_backend(admin, old)
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_S", 0.0)  # as if it sat idle a while
    assert _pid(direct) != old


def test_disposing_the_engine_closes_the_connections(engines: tuple[Engine, Engine]) -> None:
    engine, admin = engines
    direct = DirectStatements(engine)
    old = _pid(direct)
    engine.dispose()
    wait_backend_gone(admin, old)
    assert _pid(direct) != old  # the next statement opens a new one


def test_a_forked_child_opens_its_own_connection(engines: tuple[Engine, Engine]) -> None:
    engine, _ = engines
    direct = DirectStatements(engine)
    parent = _pid(direct)
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: report its backend and leave without running cleanup
        try:
            os.write(write, str(_pid(direct)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        reported = int(pipe.read())
    os.waitpid(child, 0)
    assert reported != parent
    assert _pid(direct) == parent  # the parent's connection was left alone
