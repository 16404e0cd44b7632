"""Token expiry at the web's edges: the API refuses an expired token (401, a problem that
says so), and the account page makes tokens with a chosen lifetime within the maximum."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select, update

from agritrace.db import utcnow
from agritrace.trace import access
from agritrace.trace.access import ApiToken
from tests.web.people import People, build_people


@pytest.fixture(scope="module")
def people(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[People]:
    with build_people(backend, tmp_path_factory.mktemp(f"expiry-{backend}")) as built:
        yield built


def _token_id(people: People, secret: str) -> int:
    with people.site.sessions() as session:
        found = session.scalar(
            select(ApiToken.id).where(ApiToken.hint == secret[: len(access.TOKEN_PREFIX) + 4])
        )
        assert found is not None
        return int(found)


def test_an_expired_token_gets_401_saying_so(people: People) -> None:
    client = people.site.client()
    headers = people.headers("inspector")
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    token_id = _token_id(people, people.tokens["inspector"])
    with people.site.sessions() as session:
        session.execute(
            update(ApiToken)
            .where(ApiToken.id == token_id)
            .values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )
        session.commit()
    refused = client.get("/api/v1/me", headers=headers)
    assert refused.status_code == 401
    assert "expired" in refused.get_json()["detail"]


def test_the_account_page_makes_a_token_for_the_days_asked(people: People) -> None:
    client = people.clients["operator_a"]
    csrf = people.csrf["operator_a"]
    made = client.post("/account/tokens", data={"csrf": csrf, "name": "scale", "days": "7"})
    assert made.status_code == 201
    secret = re.search(r'id="new-token">([^<]+)<', made.get_data(as_text=True))
    assert secret is not None
    with people.site.sessions() as session:
        token = session.get(ApiToken, _token_id(people, secret.group(1)))
        assert token is not None
        assert dt.timedelta(days=6) < token.expires_at - utcnow() <= dt.timedelta(days=7)
    for days in ("366", "٣", "0", "1" * 30):
        too_long = client.post("/account/tokens", data={"csrf": csrf, "name": "x", "days": days})
        assert too_long.status_code == 422  # InvalidInputError: a form error, never a 5xx
