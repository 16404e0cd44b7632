"""web/security.py on its own: which limit a request counts against, and the rate limiter."""

from __future__ import annotations

import pytest

from agritrace.web.security import RateLimiter, rate_group


@pytest.mark.parametrize(
    ("path", "method", "group"),
    [
        ("/static/site.css", "GET", None),
        ("/healthz", "GET", None),
        ("/S/ABC", "GET", "stamp"),
        ("/s/abc", "POST", "stamp"),
        ("/api/v1/stamps/X", "GET", "stamp"),
        ("/check", "GET", "stamp"),
        ("/sign-in", "POST", "signin"),
        ("/sign-in", "GET", "public"),
        ("/api/v1/lots", "GET", "api"),
        ("/api/v1/openapi.json", "GET", "public"),
        ("/inspect/", "GET", "public"),
    ],
)
def test_rate_group(path: str, method: str, group: str | None) -> None:
    assert rate_group(path, method) == group


def test_the_limiter_counts_per_group_and_client_and_clears() -> None:
    limiter = RateLimiter({"stamp": 2, "public": 0}, storage_url="memory://", prefix="t-sec-1")
    assert limiter.hit("stamp", "a") is None
    assert limiter.hit("stamp", "a") is None
    wait = limiter.hit("stamp", "a")
    assert wait is not None
    assert 1 <= wait <= limiter.window_s
    assert limiter.hit("stamp", "b") is None  # another client has its own count
    assert all(limiter.hit("public", "a") is None for _ in range(10))  # 0: unlimited
    assert limiter.hit("unknown", "a") is None  # a group without a limit is not limited
    assert limiter.exhausted("stamp", "a", limit=2, window_s=limiter.window_s) is not None
    limiter.clear("stamp", "a", limit=2, window_s=limiter.window_s)
    assert limiter.exhausted("stamp", "a", limit=2, window_s=limiter.window_s) is None
    assert limiter.hit("stamp", "a") is None


def test_the_limiter_keeps_no_client_address() -> None:
    limiter = RateLimiter({"stamp": 5}, storage_url="memory://", prefix="t-sec-2", secret=b"k")
    other = RateLimiter({"stamp": 5}, storage_url="memory://", prefix="t-sec-2", secret=b"j")
    key = limiter._digest("stamp", "203.0.113.9")
    assert "203.0.113.9" not in key
    assert len(key) == 32
    assert key != other._digest("stamp", "203.0.113.9")  # keyed: the secret changes it
