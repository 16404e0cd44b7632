"""The administrator's list of every user's API tokens: what it shows (and never shows),
its pages, and revoking anyone's token with the form token, in Vietnamese and English.
Who may open and post it at all is in ``test_access_matrix.py``."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest

from agritrace.db import utcnow
from agritrace.trace import access
from agritrace.web.admin import TOKENS_PAGE
from agritrace.web.i18n import format_datetime
from tests.web.conftest import page_text
from tests.web.people import FACILITY_A, People, build_people


@pytest.fixture(scope="module")
def people(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[People]:
    with build_people(backend, tmp_path_factory.mktemp(f"tokens-{backend}")) as built:
        yield built


def _listing(people: People, query: str = "", lang: str = "en") -> str:
    response = people.clients["admin"].get(f"/admin/tokens?lang={lang}{query}")
    assert response.status_code == 200, response.data[:300]
    return response.get_data(as_text=True)


def _row(body: str, token_id: int) -> str:
    found = re.search(rf'<tr id="token-{token_id}"[^>]*>(.*?)</tr>', body, re.S)
    assert found is not None, f"token {token_id} is not listed"
    return page_text(found.group(1))


def _new_token(people: People, role: str, name: str = "script") -> tuple[int, str]:
    with people.site.sessions() as session:
        user = access.get_user(session, people.users[role])
        made = access.create_token(session, user=user, name=name, now=utcnow())
        return made.token.id, made.secret


def _revoke(people: People, token_id: int, lang: str = "en", **form: str) -> Any:
    return people.clients["admin"].post(
        f"/admin/tokens/{token_id}/revoke?lang={lang}",
        data={"csrf": people.csrf["admin"], "reason": "the integration was retired", **form},
    )


def _stored(people: People, token_id: int) -> access.ApiToken:
    with people.site.sessions() as session:
        token = session.get(access.ApiToken, token_id)
        assert token is not None
        return token


def _ids(body: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="token-(\d+)"', body)]


def test_every_user_s_tokens_are_listed_with_owner_rights_and_dates(people: People) -> None:
    token_id, _ = _new_token(people, "operator_a", "scale at the packhouse")
    body = _listing(people)
    row = _row(body, token_id)
    assert "operator-a" in row
    assert "scale at the packhouse" in row
    assert f"Facility operator · {FACILITY_A}" in row
    expires = _stored(people, token_id).expires_at
    assert format_datetime(expires, "en", people.site.settings.zone) in row  # 90 days by default
    assert (expires - utcnow()).days in {89, 90}
    assert "Active" in row
    for role in ("operator_b", "inspector", "admin"):
        assert role.replace("_", "-") in page_text(body)


def test_the_list_in_vietnamese(people: People) -> None:
    text = page_text(_listing(people, lang="vi"))
    assert "Khóa API của người dùng" in text
    assert f"Người vận hành cơ sở · {FACILITY_A}" in text
    assert "Hết hạn" in text  # the column; every token now has a date
    assert "Thu hồi" in text


def test_no_secret_or_hash_of_a_token_is_ever_shown(people: People) -> None:
    _, extra = _new_token(people, "inspector")
    body = _listing(people)
    for secret in [*people.tokens.values(), extra]:
        digest = hashlib.sha256(secret.encode()).digest()
        hint = secret[: len(access.TOKEN_PREFIX) + 4]
        assert f"{hint}…" in body  # what the owner also sees, to tell tokens apart
        for shown in (
            secret,
            secret[len(hint) :],
            digest.hex(),
            base64.b64encode(digest).decode(),
            base64.urlsafe_b64encode(digest).decode().rstrip("="),
        ):
            assert shown not in body


def test_the_list_comes_in_pages_newest_first(people: People) -> None:
    for n in range(TOKENS_PAGE + 5):
        _new_token(people, "inspector" if n % 2 else "admin", f"bulk {n}")
    with people.site.sessions() as session:
        every = [t.id for t in access.tokens_page(session, before=None, limit=10_000)]
    first = _listing(people)
    assert _ids(first) == every[:TOKENS_PAGE]
    found = re.search(r'href="([^"]*before=(\d+))" rel="next"', first)
    assert found is not None
    assert int(found.group(2)) == every[TOKENS_PAGE - 1]
    second = _listing(people, f"&before={found.group(2)}")
    assert _ids(second) == every[TOKENS_PAGE : 2 * TOKENS_PAGE]


def test_the_administrator_revokes_anyone_s_token(
    people: People, caplog: pytest.LogCaptureFixture
) -> None:
    token_id, secret = _new_token(people, "operator_b", "old integration")
    api = people.site.client()
    bearer = {"Authorization": f"Bearer {secret}"}
    assert api.get("/api/v1/me", headers=bearer).status_code == 200
    caplog.set_level(logging.INFO)
    response = _revoke(people, token_id)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/tokens?revoked={token_id}"
    assert api.get("/api/v1/me", headers=bearer).status_code == 401
    body = _listing(people, f"&revoked={token_id}")
    assert f"API token #{token_id} revoked." in page_text(body)
    assert "Revoked" in _row(body, token_id)
    assert f'action="/admin/tokens/{token_id}/revoke"' not in body
    # The owner sees it revoked too, and the log names who did it.
    own = people.clients["operator_b"].get("/account?lang=en").get_data(as_text=True)
    owner_row = re.search(r"<tr><td>old integration</td>(.*?)</tr>", own, re.S)
    assert owner_row is not None
    assert "Revoked" in owner_row.group(1)
    assert any(
        "revoked by administrator admin: the integration was retired" in record.getMessage()
        for record in caplog.records
    )
    # The token keeps who revoked it and why; both the listing and the owner see it.
    stored = _stored(people, token_id)
    assert (stored.revoked_by, stored.revoke_reason) == ("admin", "the integration was retired")
    assert "by admin" in _row(body, token_id)
    assert "Reason: the integration was retired" in page_text(_row(body, token_id))
    assert "by admin" in owner_row.group(1)
    assert "Reason: the integration was retired" in owner_row.group(1)


@pytest.mark.parametrize(
    ("lang", "reason", "expected"),
    [
        ("vi", "", "lý do không được để trống"),
        ("en", "   ", "reason must not be empty"),
        ("en", "x" * 501, "reason is longer than 500 characters"),
    ],
)
def test_revoking_another_user_s_token_needs_a_reason(
    people: People, lang: str, reason: str, expected: str
) -> None:
    token_id, secret = _new_token(people, "operator_a", "needs a reason")
    refused = _revoke(people, token_id, lang=lang, reason=reason)
    assert refused.status_code == 422
    assert expected in page_text(refused.data)
    row = re.search(rf'<tr id="token-{token_id}".*?</tr>', refused.get_data(as_text=True), re.S)
    assert row is not None
    assert 'aria-invalid="true"' in row.group(0)  # the reason field of that token's form
    assert _stored(people, token_id).revoked_at is None
    assert (
        people.site.client()
        .get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
        .status_code
        == 200
    )


def test_an_owner_revoking_their_own_token_gives_no_reason(people: People) -> None:
    token_id, _ = _new_token(people, "operator_a", "my own")
    response = people.clients["operator_a"].post(
        f"/account/tokens/{token_id}/revoke", data={"csrf": people.csrf["operator_a"]}
    )
    assert response.status_code == 303
    stored = _stored(people, token_id)
    assert stored.revoked_at is not None
    with people.site.sessions() as session:
        owner = access.get_user(session, people.users["operator_a"]).username
    assert (stored.revoked_by, stored.revoke_reason) == (owner, None)


def test_revoking_keeps_the_page_the_administrator_was_on(people: People) -> None:
    token_id, _ = _new_token(people, "operator_a")
    response = _revoke(people, token_id, before=str(token_id + 1))
    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/tokens?before={token_id + 1}&revoked={token_id}"


@pytest.mark.parametrize(
    ("lang", "expected"),
    [("vi", "khóa API 'twice' đã bị thu hồi từ trước"), ("en", "token 'twice' is already revoked")],
)
def test_revoking_twice_is_refused_in_the_page_language(
    people: People, lang: str, expected: str
) -> None:
    token_id, _ = _new_token(people, "operator_a", "twice")
    assert _revoke(people, token_id).status_code == 303
    again = _revoke(people, token_id, lang=lang)
    assert again.status_code == 409
    assert expected in page_text(again.data)


@pytest.mark.parametrize(
    ("lang", "expected"),
    [("vi", "không có khóa API 987654"), ("en", "unknown token 987654")],
)
def test_an_unknown_token_is_a_404_beside_the_list(
    people: People, lang: str, expected: str
) -> None:
    response = _revoke(people, 987654, lang=lang)
    assert response.status_code == 404
    assert expected in page_text(response.data)


def test_revoking_needs_the_form_token(people: People) -> None:
    token_id, secret = _new_token(people, "operator_a")
    response = people.clients["admin"].post(f"/admin/tokens/{token_id}/revoke", data={})
    assert response.status_code == 403
    assert (
        people.site.client()
        .get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
        .status_code
        == 200
    )


@pytest.mark.parametrize("before", ["abc", "-1", "1.5", "9" * 30, "١٢"])
def test_a_bad_page_is_a_friendly_422(people: People, before: str) -> None:
    response = people.clients["admin"].get(f"/admin/tokens?lang=vi&before={before}")
    assert response.status_code == 422
    assert "trang phải là số nguyên" in page_text(response.data)
    token_id, secret = _new_token(people, "operator_a")
    refused = _revoke(people, token_id, before=before)
    assert refused.status_code == 422
    assert (
        people.site.client()
        .get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
        .status_code
        == 200
    )
