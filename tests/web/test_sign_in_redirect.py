"""The sign-in form's ``next=`` never leads off-site and never fails: the review's
``/sign-in?next=/%09/evil.example`` (a browser drops the tab and reads ``//evil.example``),
backslashes, schemes, ``//`` and a newline (which made a 500)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from agritrace.trace import registry
from agritrace.web.auth import safe_next
from tests.web.conftest import Site, build_site
from tests.web.people import csrf_of

PASSWORD = "a-good-long-password"

OFF_SITE = [
    "/%09/evil.example",
    "/%0a/evil.example",
    "/%0d%0a/evil.example",
    "/%5cevil.example",
    "/%5c%5cevil.example",
    "%2f%2fevil.example",
    "//evil.example",
    "///evil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "/%20/evil.example",
    "%09//evil.example",
    "/%00/evil.example",
    "/%e2%80%8b/evil.example",  # a zero-width space
]


@pytest.fixture(scope="module")
def site(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with build_site(backend, tmp_path_factory.mktemp(f"redirect-{backend}")) as built:
        with built.sessions() as session:
            registry.add_user(
                session,
                username="mai",
                password=PASSWORD,
                role="operator",
                facility_code="HD-VAI-01",
            )
        yield built


def _off_site(location: str) -> bool:
    """Whether a browser would leave the site following ``location`` (it drops tabs and
    newlines and reads a backslash as a slash)."""
    cleaned = location.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/")
    parts = urlsplit(cleaned.strip())
    return bool(parts.scheme or parts.netloc)


@pytest.mark.parametrize("target", OFF_SITE)
def test_sign_in_never_redirects_off_site(site: Site, target: str) -> None:
    client = site.client()
    token = csrf_of(client)
    response = client.post(
        f"/sign-in?next={target}", data={"csrf": token, "username": "mai", "password": PASSWORD}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/portal/"
    again = client.get(f"/sign-in?next={target}")  # signed in: goes straight on
    assert again.status_code == 303
    assert again.headers["Location"] == "/portal/"


def test_a_same_site_next_is_kept(site: Site) -> None:
    client = site.client()
    token = csrf_of(client)
    response = client.post(
        "/sign-in?next=/account%3Fa%3D1",
        data={"csrf": token, "username": "mai", "password": PASSWORD},
    )
    assert response.headers["Location"] == "/account?a=1"


@given(st.text(max_size=40))
@example("/\t/evil.example")
@example("/\\evil.example")
@example("/\n/evil.example")
@example("/ /evil.example")
def test_safe_next_only_returns_same_site_paths(raw: str) -> None:
    found = safe_next(raw)
    if found is not None:
        assert found == raw
        assert found.startswith("/")
        assert not _off_site(found)
        assert "\n" not in found
        assert "\r" not in found
