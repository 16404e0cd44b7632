"""Lock-out under attack: the review got 12 password guesses instead of 5 through 3 parallel
connections (the failure counter was read, then written, without a lock), could lock any
account (administrators too) from anywhere, and told real accounts from unknown ones by how
fast they answered. Now: each attempt atomically reserves a check, per (account, client) in
the shared limiter and per account in the database; a stranger's failures lock only the
stranger; every name costs the same statements and one scrypt check.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from agritrace.db import utcnow
from agritrace.errors import AgritraceError
from agritrace.trace import access, registry
from agritrace.trace.models import User
from tests.web.conftest import Site, build_site
from tests.web.people import sign_in

PASSWORD = "a-good-long-password"


@pytest.fixture(scope="module")
def site(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with build_site(backend, tmp_path_factory.mktemp(f"lockout-{backend}")) as built:
        with built.sessions() as session:
            for name in ("racer", "ceiling", "boss", "owner", "same-a", "same-b"):
                registry.add_user(
                    session,
                    username=name,
                    password=PASSWORD,
                    role="admin" if name == "boss" else "operator",
                    facility_code=None if name == "boss" else "HD-VAI-01",
                )
        yield built


@pytest.fixture
def real_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every stored hash a password was checked against (the real check still runs)."""
    seen: list[str] = []
    lock = threading.Lock()
    real = access.verify_password

    def spy(password: str, stored: str) -> bool:
        with lock:
            seen.append(stored)
        return real(password, stored)

    monkeypatch.setattr(access, "verify_password", spy)
    return seen


def _race(threads: int, attempts: int, attempt: Callable[[int], Any]) -> None:
    start = threading.Barrier(threads)

    def run(worker: int) -> None:
        start.wait()
        for _ in range(attempts):
            attempt(worker)

    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()


def _hash_of(site: Site, name: str) -> str:
    with site.sessions() as session:
        return registry_user(session, name).password_hash


def registry_user(session: Session, name: str) -> User:
    found = session.scalar(select(User).where(User.username == name))
    assert found is not None
    return found


def test_three_parallel_browsers_get_five_guesses_not_more(
    site: Site, real_checks: list[str]
) -> None:
    address = "203.0.113.55"
    clients = [site.client(address=address) for _ in range(3)]  # one address, three connections
    statuses: list[int] = []
    _race(
        3, 4, lambda i: statuses.append(sign_in(clients[i], "racer", "wrong-guess-1").status_code)
    )
    assert real_checks.count(_hash_of(site, "racer")) == access.MAX_FAILED_SIGN_INS
    assert sorted(set(statuses)) == [401, 429]
    waiting = site.client(address=address)
    assert sign_in(waiting, "racer", PASSWORD).status_code == 429  # this client waits


def test_parallel_connections_get_no_more_than_the_account_ceiling(
    site: Site, real_checks: list[str]
) -> None:
    ceiling = 5

    def guess(_worker: int) -> None:
        with site.sessions() as session, contextlib.suppress(AgritraceError):
            access.sign_in(session, "ceiling", "wrong-guess", now=utcnow(), max_failures=ceiling)

    _race(3, 4, guess)
    assert real_checks.count(_hash_of(site, "ceiling")) == ceiling
    with site.sessions() as session, pytest.raises(access.LockedOutError):
        access.sign_in(session, "ceiling", PASSWORD, now=utcnow(), max_failures=ceiling)


def test_a_stranger_cannot_lock_an_administrator_out(site: Site) -> None:
    stranger = site.client()
    stranger.environ_base["REMOTE_ADDR"] = "203.0.113.66"
    answers = [sign_in(stranger, "boss", f"guess-{i}-xxxx").status_code for i in range(12)]
    assert answers[: access.MAX_FAILED_SIGN_INS - 1] == [401] * (access.MAX_FAILED_SIGN_INS - 1)
    assert set(answers[access.MAX_FAILED_SIGN_INS - 1 :]) == {429}
    owner = site.client()
    owner.environ_base["REMOTE_ADDR"] = "198.51.100.10"
    assert sign_in(owner, "boss", PASSWORD).status_code == 303


def test_a_throttled_name_looks_the_same_whether_it_exists_or_not(site: Site) -> None:
    client = site.client()
    client.environ_base["REMOTE_ADDR"] = "203.0.113.77"
    real = [sign_in(client, "owner", "guess-xxxxxx").status_code for _ in range(7)]
    unknown = [sign_in(client, "no-such-user", "guess-xxxxxx").status_code for _ in range(7)]
    assert real == unknown == [401, 401, 401, 401, 429, 429, 429]


def _work(site: Site, client: FlaskClient, name: str, real_checks: list[str]) -> tuple[Any, ...]:
    """The SQL statements and the number of password checks one failed sign-in costs."""
    statements: list[str] = []
    engine = site.app.extensions["agritrace"].engine

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        statements.append(statement)

    before = len(real_checks)
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert sign_in(client, name, "wrong-guess-xyz").status_code == 401
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return tuple(statements), len(real_checks) - before


def test_unknown_and_real_accounts_cost_the_same_work(site: Site, real_checks: list[str]) -> None:
    client = site.client()
    client.environ_base["REMOTE_ADDR"] = "203.0.113.88"
    real = _work(site, client, "same-a", real_checks)
    unknown = _work(site, client, "nobody-at-all", real_checks)
    inactive_name = "same-b"
    with site.sessions() as session:
        registry_user(session, inactive_name).active = False
        session.commit()
    inactive = _work(site, client, inactive_name, real_checks)
    assert real == unknown == inactive
    assert real[1] == 1  # one scrypt check each
