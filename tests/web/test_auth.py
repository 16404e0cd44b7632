"""Signing in and out: session cookie flags, CSRF on every form, lock-out, API tokens."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from agritrace.db import utcnow
from agritrace.trace import access, registry
from agritrace.trace.access import ApiToken
from agritrace.trace.models import User
from agritrace.web import create_app
from tests.web.conftest import Site, build_site, make_settings
from tests.web.people import csrf_of, sign_in

PASSWORD = "a-good-long-password"


@pytest.fixture(scope="module")
def site(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with build_site(backend, tmp_path_factory.mktemp(f"auth-{backend}")) as built:
        with built.sessions() as session:
            for name in ("mai", "lan", "hoa", "tuan"):
                registry.add_user(
                    session,
                    username=name,
                    password=PASSWORD,
                    role="operator",
                    facility_code="HD-VAI-01",
                )
        yield built


def test_sign_in_sets_a_secure_session_cookie_and_sends_the_user_home(site: Site) -> None:
    client = site.client()
    response = sign_in(client, "mai", PASSWORD)
    assert response.status_code == 303
    assert response.headers["Location"] == "/portal/"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert client.get("/portal/").status_code == 200


def test_behind_tls_the_cookie_is_secure_and_hsts_is_sent(site: Site, tmp_path: object) -> None:
    settings = make_settings(site.settings.instance, site.settings.database_url, behind_tls=True)
    engine = site.app.extensions["agritrace"].engine
    app = create_app(settings, engine=engine, rate_limits={})
    client = app.test_client()
    response = sign_in(client, "lan", PASSWORD)
    assert "Secure" in response.headers["Set-Cookie"]
    assert "max-age=" in response.headers["Strict-Transport-Security"]


def test_wrong_password_is_refused_with_one_message(site: Site) -> None:
    client = site.client()
    wrong = sign_in(client, "hoa", "not-the-password")
    unknown = sign_in(client, "nobody-here", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    # One message for both, in the page's language (Vietnamese unless the visitor chose).
    assert "sai tên đăng nhập hoặc mật khẩu" in wrong.get_data(as_text=True)
    assert "sai tên đăng nhập hoặc mật khẩu" in unknown.get_data(as_text=True)
    assert client.get("/portal/").status_code == 303


def test_five_failures_lock_the_account_even_for_the_right_password(site: Site) -> None:
    client = site.client()
    for _ in range(access.MAX_FAILED_SIGN_INS - 1):
        assert sign_in(client, "tuan", "wrong-password-x").status_code == 401
    locked = sign_in(client, "tuan", "wrong-password-x")
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 60
    assert sign_in(client, "tuan", PASSWORD).status_code == 429
    # The lock holds this client only: the owner, signing in from elsewhere, gets in.
    owner = site.client()
    owner.environ_base["REMOTE_ADDR"] = "198.51.100.23"
    assert sign_in(owner, "tuan", PASSWORD).status_code == 303


def test_a_form_without_the_token_is_refused(site: Site) -> None:
    client = site.client()
    sign_in(client, "mai", PASSWORD)
    response = client.post("/account/tokens", data={"name": "x"})
    assert response.status_code == 403
    assert client.post("/sign-in", data={"username": "mai", "password": PASSWORD}).status_code == (
        403
    )


def test_sign_out_ends_the_session(site: Site) -> None:
    client = site.client()
    sign_in(client, "mai", PASSWORD)
    token = csrf_of(client, "/account")
    assert client.post("/sign-out", data={"csrf": token}).status_code == 303
    assert client.get("/account").headers["Location"].startswith("/sign-in")


def test_sign_in_goes_back_only_to_this_site(site: Site) -> None:
    client = site.client()
    token = csrf_of(client)
    response = client.post(
        "/sign-in",
        data={"csrf": token, "username": "mai", "password": PASSWORD, "next": "//evil.example/"},
    )
    assert response.headers["Location"] == "/portal/"


def test_a_token_is_shown_once_stored_hashed_and_revocable(site: Site) -> None:
    client = site.client()
    sign_in(client, "mai", PASSWORD)
    token = csrf_of(client, "/account")
    page = client.post("/account/tokens", data={"csrf": token, "name": "erp"})
    assert page.status_code == 201
    text = page.get_data(as_text=True)
    secret = text.split('id="new-token">')[1].split("<")[0]
    assert secret.startswith("agt_")
    assert secret not in client.get("/account").get_data(as_text=True)
    with site.sessions() as session:
        stored = session.scalars(select(ApiToken).where(ApiToken.name == "erp")).one()
        assert secret.encode() not in stored.token_hash
        token_id = stored.id
    api = site.client()
    headers = {"Authorization": f"Bearer {secret}"}
    assert api.get("/api/v1/me", headers=headers).get_json()["username"] == "mai"
    client.post(f"/account/tokens/{token_id}/revoke", data={"csrf": token})
    refused = api.get("/api/v1/me", headers=headers)
    assert refused.status_code == 401
    assert refused.content_type == "application/problem+json"


def test_a_deactivated_user_is_signed_out_and_its_tokens_stop(site: Site) -> None:
    client: FlaskClient = site.client()
    with site.sessions() as session:
        user = registry.add_user(
            session, username="gone", password=PASSWORD, role="inspector", facility_code=None
        )
        secret = access.create_token(session, user=user, name="t", now=utcnow()).secret
    sign_in(client, "gone", PASSWORD)
    assert client.get("/inspect/").status_code == 200
    with site.sessions() as session:
        found = session.get(User, user.id)
        assert found is not None
        found.active = False
        session.commit()
    assert client.get("/inspect/").status_code == 303
    assert (
        site.client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code
        == 401
    )


def test_sign_in_is_rate_limited(site: Site) -> None:
    engine = site.app.extensions["agritrace"].engine
    app = create_app(site.settings, engine=engine, rate_limits={"signin": 2})
    client = app.test_client()
    statuses = [sign_in(client, "nobody", "wrong-password").status_code for _ in range(3)]
    assert statuses == [401, 401, 429]
