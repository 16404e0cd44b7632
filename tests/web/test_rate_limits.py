"""Shared rate limits: every worker and host counts together in Redis, so the documented limit
is the limit (the review got 335 of 450 requests through 3 gunicorn workers, about 3x the
limit, because each process counted alone). When Redis is unreachable, public pages fail
open (logged) and sign-in fails closed.

The Redis tests need ``AGRITRACE_TEST_REDIS_URL`` (``.ci/run`` sets it); each uses its own key
prefix, so runs never share counts.
"""

from __future__ import annotations

import http.client
import logging
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from agritrace.db import make_engine
from agritrace.keys import KeyRing
from agritrace.migrations import upgrade
from agritrace.web import create_app
from agritrace.web.security import DEFAULT_RATE_LIMITS, RateLimiter
from tests.support import require_redis
from tests.web.conftest import BASE_URL, PASSPHRASE, SECRET_KEY, Site, make_settings
from tests.web.people import csrf_of

#: A cheap public page (no database): counts in the ``public`` group.
PUBLIC = "/problems/invalid-input"
WSGI = "agritrace.web.wsgi:app"


@pytest.fixture
def redis_url() -> str:
    return require_redis()


def _prefix() -> str:
    return f"agritrace-test-{secrets.token_hex(6)}"


def test_two_limiters_on_one_redis_share_the_count(redis_url: str) -> None:
    prefix = _prefix()
    secret = secrets.token_bytes(32)
    one, two = (
        RateLimiter({"stamp": 5}, storage_url=redis_url, prefix=prefix, secret=secret)
        for _ in range(2)
    )
    answers = [(one if i % 2 else two).hit("stamp", "198.51.100.7") for i in range(12)]
    assert sum(answer is None for answer in answers) == 5
    assert all(answer is not None and answer >= 1 for answer in answers[5:])


def test_two_apps_on_one_redis_let_through_exactly_the_limit(site: Site, redis_url: str) -> None:
    settings = replace(site.settings, redis_url=redis_url, redis_prefix=_prefix())
    engine = site.app.extensions["agritrace"].engine
    apps = [create_app(settings, engine=engine, rate_limits={"public": 7}) for _ in range(2)]
    clients = [app.test_client() for app in apps]
    statuses = [clients[i % 2].get(PUBLIC).status_code for i in range(20)]
    assert statuses.count(200) == 7
    assert statuses.count(429) == 13


def test_the_redis_keys_hold_no_client_address(redis_url: str) -> None:
    import redis

    prefix = _prefix()
    limiter = RateLimiter({"stamp": 5}, storage_url=redis_url, prefix=prefix, secret=b"k" * 32)
    limiter.hit("stamp", "203.0.113.99")
    keys = redis.Redis.from_url(redis_url).keys(f"{prefix}*")
    assert keys
    assert not any(b"203.0.113.99" in key for key in keys)


def test_memory_storage_counts_alone_per_process(site: Site) -> None:
    engine = site.app.extensions["agritrace"].engine
    apps = [create_app(site.settings, engine=engine, rate_limits={"public": 3}) for _ in range(2)]
    statuses = [app.test_client().get(PUBLIC).status_code for app in apps for _ in range(4)]
    assert statuses == [200, 200, 200, 429] * 2  # the demo's storage: documented as such


def test_without_redis_public_pages_fail_open_and_say_so(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    settings = replace(site.settings, redis_url=f"redis://127.0.0.1:{_closed_port()}/0")
    app = create_app(
        settings, engine=site.app.extensions["agritrace"].engine, rate_limits={"public": 1}
    )
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="agritrace.web.security"):
        statuses = [client.get(PUBLIC).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    assert "rate-limit storage unreachable" in caplog.text


def test_without_redis_sign_in_fails_closed(site: Site) -> None:
    settings = replace(site.settings, redis_url=f"redis://127.0.0.1:{_closed_port()}/0")
    app = create_app(
        settings, engine=site.app.extensions["agritrace"].engine, rate_limits={"signin": 20}
    )
    client = app.test_client()
    token = csrf_of(client)
    response = client.post(
        "/sign-in", data={"csrf": token, "username": "admin", "password": "anything-at-all"}
    )
    assert response.status_code == 503
    api = client.post("/sign-in", data={"csrf": token}, headers={"Accept": "application/json"})
    assert api.status_code == 503


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- a real multi-worker gunicorn ------------------------------------------------------------


@pytest.fixture
def instance(tmp_path: Path) -> Path:
    """A SQLite instance with a key ring and a migrated database (committed, on disk)."""
    url = f"sqlite:///{tmp_path / 'instance' / 'agritrace.db'}"
    settings = make_settings(tmp_path / "instance", url)
    KeyRing.create(settings.keys_dir, PASSPHRASE)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return tmp_path / "instance"


@pytest.fixture
def gunicorn(instance: Path, redis_url: str) -> Iterator[int]:
    port = _closed_port()
    env = {
        **os.environ,
        "AGRITRACE_INSTANCE": str(instance),
        "AGRITRACE_BASE_URL": BASE_URL,
        "AGRITRACE_SECRET_KEY": SECRET_KEY,
        "AGRITRACE_KEY_PASSPHRASE": PASSPHRASE.decode(),
        "AGRITRACE_REDIS_URL": redis_url,
        "AGRITRACE_REDIS_PREFIX": _prefix(),
        "AGRITRACE_RATE_LIMITS": "stamp=0,public=10",
    }
    env.pop("AGRITRACE_DATABASE_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "3", "-b", f"127.0.0.1:{port}", WSGI],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_ready(port, server)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wait_ready(port: int, server: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if server.poll() is not None:
            raise AssertionError(
                f"gunicorn stopped: {server.stderr.read() if server.stderr else ''}"
            )
        try:
            if _get(port, "/healthz")[0] == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("gunicorn did not start")


def _get(port: int, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        response = conn.getresponse()
        response.read()
        return response.status, str(response.getheader("Server", ""))
    finally:
        conn.close()


@pytest.mark.slow
def test_three_gunicorn_workers_let_through_exactly_the_limit(gunicorn: int) -> None:
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = [status for status, _ in pool.map(lambda _: _get(gunicorn, PUBLIC), range(36))]
    assert statuses.count(200) == 10
    assert statuses.count(429) == 26


def test_settings_change_only_the_groups_they_name(site: Site) -> None:
    settings = replace(site.settings, rate_limits={"stamp": 5})
    app = create_app(settings, engine=site.app.extensions["agritrace"].engine)
    limits = app.extensions["agritrace.limiter"].limits
    assert limits == {**DEFAULT_RATE_LIMITS, "stamp": 5}  # sign-in and API keep their limits
