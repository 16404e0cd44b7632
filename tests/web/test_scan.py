"""The consumer's scan page, the landing page and the error edge, through Flask's client."""

from __future__ import annotations

import dataclasses
import importlib
import re
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select

from agritrace.cli import cli, serve
from agritrace.db import make_engine, make_sessionmaker, utcnow
from agritrace.keys import KeyPurpose, KeyRing
from agritrace.migrations import upgrade
from agritrace.stamps.codec import Stamp
from agritrace.trace import recalls
from agritrace.trace.models import StampScanPlace, StampScanState
from agritrace.trace.scans import Caution, Reason, Verdict
from agritrace.web import create_app, i18n, state
from agritrace.web.security import CSP
from tests.support import fresh_database, kill_backend
from tests.web.conftest import (
    PASSPHRASE,
    PREFIX,
    RECALL_REASON,
    Site,
    build_site,
    make_settings,
    page_text,
    tag_text,
)

MAX_PAGE_BYTES = 30_000


def _token(body: bytes) -> str:
    found = re.search(rb'name="token" value="([^"]+)"', body)
    assert found, "the place form carries a stamp-bound token"
    return found.group(1).decode("ascii")


def _state(site: Site, code: str) -> StampScanState | None:
    with site.sessions() as session:
        return session.get(StampScanState, Stamp.from_text(code).serial)


def _journey(body: bytes) -> list[str]:
    """What each step of the page's journey card is (its first line)."""
    card = body.split(b'<ol class="journey">', 1)[1].split(b"</ol>", 1)[0]
    return [_what(item) for item in card.split(b"<li")[1:]]


def _what(item: bytes) -> str:
    found = re.search(rb'<p class="what">([^<]*)</p>', item)
    assert found, "every journey step says what it was"
    return found.group(1).decode("utf-8")


def _engine(site: Site) -> Engine:
    with site.app.app_context():
        return state().engine


# -- verdicts --------------------------------------------------------------------------------


def test_genuine_stamp_page_puts_the_verdict_first_in_vietnamese(
    site: Site, client: FlaskClient
) -> None:
    response = client.get(f"/S/{site.genuine}")
    assert response.status_code == 200
    body = response.data
    assert b'<html lang="vi">' in body
    assert tag_text(body, "h1") == "Chính hãng"
    assert body.index(b"<h1") < body.index(b'id="h-product"')  # the verdict comes first
    text = page_text(body)
    for fact in (
        "Vải thiều · HTX Vải thiều",
        "L2026-001",
        "10/06/2026",
        "VietGAP VG-HD-VAI-01",
        "Còn hiệu lực vào ngày thu hoạch",
        "Thu hoạch",
        "Làm lạnh",
        "Nhiệt độ: 4 °C",
        "Cấp tem truy xuất",
    ):
        assert fact in text, fact


def test_each_journey_step_links_to_its_ledger_proof(site: Site, client: FlaskClient) -> None:
    body = client.get(f"/S/{site.genuine}").data
    for index in [*site.journey_indices, site.genuine_batch["ledger_index"]]:
        assert f'href="/ledger/entries/{index}"'.encode() in body
        assert f"Sổ cái #{index}" in page_text(body)
        assert client.get(f"/ledger/entries/{index}").status_code == 200


@pytest.mark.parametrize("shape", ["/s/{code}", "/S/{lower}", "/s/{lower}"])
def test_any_case_of_path_and_code_is_the_same_stamp(
    site: Site, client: FlaskClient, shape: str
) -> None:
    path = shape.format(code=site.genuine, lower=site.genuine.lower())
    response = client.get(path)
    assert response.status_code == 200
    assert tag_text(response.data, "h1") == "Chính hãng"


def test_recalled_stamp_says_so_with_the_reason(site: Site, client: FlaskClient) -> None:
    body = client.get(f"/S/{site.recalled}").data
    assert tag_text(body, "h1") == "Đã thu hồi"
    text = page_text(body)
    assert f"Lý do thu hồi: {RECALL_REASON}" in text
    assert "Không sử dụng sản phẩm" in text


def test_suspicious_stamp_says_its_claim_code_was_used_twice(
    site: Site, client: FlaskClient
) -> None:
    body = client.get(f"/S/{site.suspicious}").data
    assert tag_text(body, "h1") == "Đáng ngờ"
    text = page_text(body)
    assert "được dùng bởi hai người khác nhau" in text
    assert "đã được xác nhận ngày" in text
    assert "Hà Nội" in text


def test_distant_places_from_several_clients_are_a_note_under_a_genuine_verdict(
    site: Site, client: FlaskClient
) -> None:
    body = client.get(f"/S/{site.noted}").data
    assert tag_text(body, "h1") == "Chính hãng"
    assert "hai nơi cách nhau hơn 300 km trong vòng 6 giờ" in page_text(body)


def test_english_page_explains_claim_codes(site: Site, client: FlaskClient) -> None:
    text = page_text(client.get(f"/S/{site.claim_code()}?lang=en").data)
    assert "Claim code (under the scratch-off)" in text
    assert "scratch off the layer" in text


def test_forged_stamp_is_not_genuine_and_shows_no_product(site: Site, client: FlaskClient) -> None:
    response = client.get(f"/S/{site.forged}")
    assert response.status_code == 404
    body = response.data
    assert tag_text(body, "h1") == "Không chính hãng"
    text = page_text(body)
    assert "Chữ ký số trên tem không khớp" in text
    assert "Vải thiều" not in text
    assert b'name="csrf"' not in body


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/S/HELLO", "Đây không phải là một mã tem hợp lệ"),
        ("/S/" + "A" * 116, "Đây không phải là một mã tem hợp lệ"),
        ("/S/abc/def", "Đây không phải là một mã tem hợp lệ"),
    ],
)
def test_malformed_codes_are_not_genuine_pages_not_errors(
    client: FlaskClient, path: str, reason: str
) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert tag_text(response.data, "h1") == "Không chính hãng"
    assert reason in page_text(response.data)


def test_unissued_serial_is_not_genuine(site: Site, client: FlaskClient) -> None:
    response = client.get(f"/S/{site.code(10_000)}")
    assert response.status_code == 404
    body = response.data
    assert tag_text(body, "h1") == "Không chính hãng"
    assert "chưa bao giờ được cấp" in page_text(body)


# -- language ------------------------------------------------------------------------------


def test_accept_language_english_gives_english(site: Site, client: FlaskClient) -> None:
    body = client.get(f"/S/{site.genuine}", headers={"Accept-Language": "en-GB,en;q=0.8"}).data
    assert b'<html lang="en">' in body
    assert tag_text(body, "h1") == "Genuine"
    assert "Valid on the harvest date" in page_text(body)


def test_unknown_languages_fall_back_to_vietnamese(site: Site, client: FlaskClient) -> None:
    body = client.get(f"/S/{site.genuine}", headers={"Accept-Language": "fr, de"}).data
    assert tag_text(body, "h1") == "Chính hãng"


def test_language_link_switches_and_is_remembered(site: Site, client: FlaskClient) -> None:
    page = client.get(f"/S/{site.genuine}").data
    assert b'href="?lang=en"' in page
    english = client.get(f"/S/{site.genuine}?lang=en")
    assert tag_text(english.data, "h1") == "Genuine"
    assert "lang=en" in english.headers["Set-Cookie"]
    assert tag_text(client.get("/").data, "h1") == "Check a traceability stamp"
    back = client.get(f"/S/{site.genuine}?lang=vi").data
    assert tag_text(back, "h1") == "Chính hãng"


# -- scan recording --------------------------------------------------------------------------


def test_first_scan_is_announced_and_counted_once_per_browser(site: Site) -> None:
    code = site.fresh_code()
    phone = site.client()
    first = phone.get(f"/S/{code}").data
    assert "Đây là lần quét đầu tiên của tem này." in page_text(first)
    phone.get(f"/S/{code}?lang=en")  # switching language is not another scan
    phone.get(f"/S/{code}")  # nor is reloading
    other = site.client().get(f"/S/{code}").data
    assert "Đã quét 2 lần." in page_text(other)
    recorded = _state(site, code)
    assert recorded is not None
    assert recorded.scan_count == 2


def test_on_postgresql_a_lost_count_connection_costs_one_503_then_scans_go_on(
    site: Site, backend: str
) -> None:
    """The scan count runs on its own connection (DirectStatements); when the server drops
    it mid-use, that one scan gets the friendly 503 page and the next is counted again."""
    if backend == "sqlite":
        with site.app.app_context():
            assert state().direct is None  # in-process: nothing to save a round trip on
        return
    code = site.fresh_code()
    phone = site.client()
    assert phone.get(f"/S/{code}").status_code == 200
    with site.app.app_context():
        direct = state().direct
    assert direct is not None
    kill_backend(_engine(site), direct.rows("SELECT pg_backend_pid()", None)[0][0])
    lost = site.client().get(f"/S/{code}")
    assert lost.status_code == 503
    assert "<html" in lost.get_data(as_text=True)
    assert site.client().get(f"/S/{code}").status_code == 200
    recorded = _state(site, code)
    assert recorded is not None
    assert recorded.scan_count == 2


def test_head_requests_are_not_scans(site: Site) -> None:
    code = site.fresh_code()
    assert site.client().head(f"/S/{code}").status_code == 200
    assert _state(site, code) is None


@pytest.mark.parametrize(
    "agent",
    [
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "TelegramBot (like TwitterBot)",
        "WhatsApp/2.24.6.77 A",
        "Mozilla/5.0 (compatible; coccocbot-web/1.0; +http://help.coccoc.com/searchengine)",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    ],
)
def test_link_preview_fetchers_get_the_page_but_are_not_scans(site: Site, agent: str) -> None:
    code = site.fresh_code()
    response = site.client().get(f"/S/{code}", headers={"User-Agent": agent})
    assert response.status_code == 200
    assert tag_text(response.data, "h1") == "Chính hãng"
    assert _state(site, code) is None


@pytest.mark.parametrize(
    "agent",
    [
        # Zalo's and Messenger's in-app browsers are people who scanned the stamp.
        "Mozilla/5.0 (Linux; Android 13; SM-A146P) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0 Mobile Safari/537.36 Zalo android/12100",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Mobile/15E148 [FBAN/MessengerForiOS;FBAV/445.0]",
        "Mozilla/5.0 (Linux; Android 12; CUBOT X50) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/119.0 Mobile Safari/537.36",
    ],
)
def test_phones_and_in_app_browsers_are_scans(site: Site, agent: str) -> None:
    code = site.fresh_code()
    assert site.client().get(f"/S/{code}", headers={"User-Agent": agent}).status_code == 200
    recorded = _state(site, code)
    assert recorded is not None
    assert recorded.scan_count == 1


def test_many_clients_add_a_note_but_the_stamp_stays_genuine(site: Site) -> None:
    code = site.fresh_code()
    for _ in range(21):
        body = site.client().get(f"/S/{code}").data
    assert tag_text(body, "h1") == "Chính hãng"
    assert "Tem này đã được 21 thiết bị khác nhau quét" in page_text(body)


def test_shared_place_is_stored_rounded_without_counting_again(site: Site) -> None:
    code = site.fresh_code()
    phone = site.client()
    token = _token(phone.get(f"/S/{code}").data)
    response = phone.post(
        f"/S/{code}", data={"token": token, "action": "place", "lat": "21,0468", "lon": "105.8412"}
    )
    assert response.status_code == 200
    assert "vị trí gần đúng đã được ghi nhận" in page_text(response.data)
    serial = Stamp.from_text(code).serial
    with site.sessions() as session:
        place = session.scalars(select(StampScanPlace).where(StampScanPlace.serial == serial)).one()
        stamp_state = session.get(StampScanState, serial)
    assert (place.lat, place.lon) == (Decimal("21.0"), Decimal("105.8"))
    assert stamp_state is not None
    assert stamp_state.scan_count == 1


def test_place_without_the_form_token_is_refused(site: Site, client: FlaskClient) -> None:
    response = client.post(f"/S/{site.genuine}", data={"lat": "21", "lon": "105"})
    assert response.status_code == 403
    assert "text/html" in response.content_type
    assert "Traceback" not in page_text(response.data)


def test_place_that_is_not_a_place_is_a_friendly_422(site: Site) -> None:
    code = site.fresh_code()
    phone = site.client()
    token = _token(phone.get(f"/S/{code}").data)
    response = phone.post(
        f"/S/{code}", data={"token": token, "action": "place", "lat": "north", "lon": "105"}
    )
    assert response.status_code == 422
    assert "Dữ liệu nhập không hợp lệ." in page_text(response.data)


# -- landing ---------------------------------------------------------------------------------


def test_landing_explains_and_offers_a_form(client: FlaskClient) -> None:
    body = client.get("/").data
    assert tag_text(body, "h1") == "Kiểm tra tem truy xuất nguồn gốc"
    assert b'action="/check"' in body
    assert b'name="code"' in body


@pytest.mark.parametrize("shape", ["{code}", "{url}", "  {lower_url}\n", "{spaced}"])
def test_typed_code_or_link_leads_to_the_stamp_page(
    site: Site, client: FlaskClient, shape: str
) -> None:
    code = site.genuine
    typed = shape.format(
        code=code,
        url=PREFIX + code,
        lower_url=(PREFIX + code).lower(),
        spaced=" ".join(code[i : i + 4] for i in range(0, len(code), 4)),
    )
    response = client.get("/check", query_string={"code": typed})
    assert response.status_code == 303
    target = response.headers["Location"]
    assert target.upper().endswith(f"/S/{code}")
    assert tag_text(client.get(target).data, "h1") == "Chính hãng"


def test_empty_typed_code_is_a_422_with_a_message(client: FlaskClient) -> None:
    response = client.get("/check?code=+")
    assert response.status_code == 422
    assert "Hãy nhập mã tem" in page_text(response.data)


def test_bare_prefix_goes_to_the_landing_page(client: FlaskClient) -> None:
    response = client.get("/S/")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/")


# -- page properties -----------------------------------------------------------------------


def test_scan_page_is_small_even_with_its_style_sheet_and_script(
    site: Site, client: FlaskClient
) -> None:
    page = client.get(f"/S/{site.genuine}").data
    sizes = []
    for path in ("/static/site.css", "/static/place.js"):
        with client.get(path) as response:  # a file response: close it
            sizes.append(len(response.data))
    assert len(page) + sum(sizes) < MAX_PAGE_BYTES, (len(page), sizes)


def test_pages_need_no_javascript_and_carry_none_inline(site: Site, client: FlaskClient) -> None:
    for path in ("/", f"/S/{site.genuine}", f"/S/{site.forged}", "/nope"):
        body = client.get(path).data
        scripts = re.findall(rb"<script[^>]*>", body)
        assert all(b' src="/static/place.js' in tag for tag in scripts), scripts
        assert b"<script>" not in body
        assert b" onclick=" not in body
        assert b" style=" not in body


def test_security_headers_are_set(site: Site, client: FlaskClient) -> None:
    response = client.get(f"/S/{site.genuine}")
    headers = response.headers
    assert headers["Content-Security-Policy"] == CSP
    assert "default-src 'none'" in CSP
    assert "frame-ancestors 'none'" in CSP
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in headers
    assert "HttpOnly" in headers["Set-Cookie"]


def test_hsts_and_secure_cookies_behind_tls(site: Site) -> None:
    settings = make_settings(site.settings.instance, site.settings.database_url, behind_tls=True)
    app = create_app(settings, engine=_engine(site), rate_limits={})
    response = app.test_client().get(
        f"/S/{site.fresh_code()}", headers={"X-Forwarded-Proto": "https"}
    )
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Secure" in response.headers["Set-Cookie"]


# -- errors ----------------------------------------------------------------------------------


def test_unknown_page_is_a_friendly_404(client: FlaskClient) -> None:
    response = client.get("/khong-co", headers={"Accept-Language": "vi"})
    assert response.status_code == 404
    assert response.content_type.startswith("text/html")
    assert "Không tìm thấy trang này." in page_text(response.data)


def test_wrong_method_is_a_friendly_405(site: Site, client: FlaskClient) -> None:
    response = client.put(f"/S/{site.genuine}")
    assert response.status_code == 405
    assert "Phương thức này không được hỗ trợ" in page_text(response.data)


def test_too_many_requests_get_429_with_retry_after(backend: str, tmp_path: Path) -> None:
    with fresh_database(backend, tmp_path) as url:
        engine = make_engine(url)
        upgrade(engine)
        settings = make_settings(tmp_path / "instance", url)
        KeyRing.create(settings.keys_dir, PASSPHRASE)
        app = create_app(settings, engine=engine, rate_limits={"stamp": 3, "public": 5})
        client = app.test_client()
        codes = [client.get("/S/HELLO").status_code for _ in range(4)]
        assert codes == [404, 404, 404, 429]  # not-genuine pages until the limit
        page = client.get("/S/HELLO")
        assert "text/html" in page.content_type
        assert int(page.headers["Retry-After"]) >= 1
        assert "quá nhiều yêu cầu" in page_text(page.data)
        api = client.get("/api/v1/stamps/HELLO")
        assert (api.status_code, api.content_type) == (429, "application/problem+json")
        assert api.get_json()["retry_after"] >= 1
        other = client.get("/S/HELLO", environ_base={"REMOTE_ADDR": "10.0.0.7"})
        assert other.status_code == 404  # another client has its own budget (a verdict, not 429)
        engine.dispose()


def test_unexpected_errors_are_a_plain_500_without_details(site: Site) -> None:
    app = create_app(site.settings, engine=_engine(site), rate_limits={})

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("secret internal detail")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    text = page_text(response.data)
    assert "secret internal detail" not in text
    assert "Traceback" not in text
    assert "Máy chủ gặp sự cố" in text


def test_database_outage_is_a_503_page_not_a_500(site: Site) -> None:
    app = create_app(site.settings, engine=_engine(site), rate_limits={})
    unreachable = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    web = app.extensions["agritrace"]
    app.extensions["agritrace"] = dataclasses.replace(web, sessions=make_sessionmaker(unreachable))
    client = app.test_client()
    page = client.get(f"/S/{site.genuine}")
    assert page.status_code == 503
    assert "Dịch vụ tạm thời không khả dụng" in page_text(page.data)
    api = client.get(f"/api/v1/stamps/{site.genuine}")
    assert (api.status_code, api.content_type) == (503, "application/problem+json")
    assert "detail" not in api.get_json()  # no database message reaches the public
    unreachable.dispose()


# -- catalogue, entry points -----------------------------------------------------------------


def test_both_languages_have_every_message() -> None:
    assert set(i18n.VI) == set(i18n.EN)
    needed = [f"verdict.{v.value}" for v in Verdict] + [f"verdict.{v.value}.lead" for v in Verdict]
    needed += [f"reason.{r.value}" for r in Reason] + [f"caution.{c.value}" for c in Caution]
    assert [key for key in needed if key not in i18n.EN] == []


def test_serve_command_runs_the_app_on_the_dev_server(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: dict[str, object] = {}

    def fake_run(host: str, port: int, app: Flask, **options: object) -> None:
        served.update(host=host, port=port, app=app)

    monkeypatch.setattr(serve, "run_simple", fake_run)
    env = {
        "AGRITRACE_INSTANCE": str(site.settings.instance),
        "AGRITRACE_DATABASE_URL": site.settings.database_url,
        "AGRITRACE_BASE_URL": site.settings.base_url,
        "AGRITRACE_SECRET_KEY": site.settings.secret_key,
        "AGRITRACE_KEY_PASSPHRASE": PASSPHRASE.decode(),
    }
    result = CliRunner().invoke(cli, ["serve", "--port", "5055"], env=env)
    assert result.exit_code == 0, result.output
    assert (served["host"], served["port"]) == ("127.0.0.1", 5055)
    assert isinstance(served["app"], Flask)


def test_wsgi_module_builds_the_app_from_the_environment(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGRITRACE_INSTANCE", str(site.settings.instance))
    monkeypatch.setenv("AGRITRACE_DATABASE_URL", site.settings.database_url)
    monkeypatch.setenv("AGRITRACE_BASE_URL", site.settings.base_url)
    monkeypatch.setenv("AGRITRACE_SECRET_KEY", site.settings.secret_key)
    sys.modules.pop("agritrace.web.wsgi", None)
    module = importlib.import_module("agritrace.web.wsgi")
    try:
        response = module.app.test_client().get(f"/api/v1/stamps/{site.genuine}")
        assert response.get_json()["verdict"] == "genuine"
    finally:
        with module.app.app_context():
            state().engine.dispose()
        sys.modules.pop("agritrace.web.wsgi", None)


# -- what the page keeps between scans ----------------------------------------------------------


def test_the_page_follows_a_recall_made_after_it_was_shown(backend: str, tmp_path: Path) -> None:
    """The lot's cards are rendered once per lot and language and reused; a recall recorded
    after the page was shown (in both languages) must still show on the next scan."""
    with build_site(backend, tmp_path) as site:
        code = site.fresh_code()
        before = {lang: site.client().get(f"/S/{code}?lang={lang}").data for lang in ("vi", "en")}
        assert tag_text(before["vi"], "h1") == "Chính hãng"
        assert tag_text(before["en"], "h1") == "Genuine"
        assert "Cấp tem truy xuất" in page_text(before["vi"])
        assert "Stamps issued" in page_text(before["en"])
        with site.sessions() as session:
            recalls.recall_lot(
                session,
                lot_ref="HD-VAI-01/L2026-001",
                reason="Kiểm tra lại dư lượng",
                signer=site.ring.active_signer(KeyPurpose.STAMP),
                now=utcnow(),
            )
        after = {lang: site.client().get(f"/S/{code}?lang={lang}").data for lang in ("vi", "en")}
        assert tag_text(after["vi"], "h1") == "Đã thu hồi"
        assert tag_text(after["en"], "h1") == "Recalled"
        # The journey card was rendered anew: it gained the recall step, in each language.
        for lang, label in (("vi", "Thu hồi"), ("en", "Recalled")):
            old_steps, new_steps = _journey(before[lang]), _journey(after[lang])
            assert len(new_steps) == len(old_steps) + 1
            assert label not in old_steps
            assert label in new_steps
        assert "Lý do thu hồi: Kiểm tra lại dư lượng" in page_text(after["vi"])


def test_each_open_of_the_page_by_a_new_visitor_counts_once(backend: str, tmp_path: Path) -> None:
    """Visitors without the cookie each count (the count path commits in one statement on
    PostgreSQL, outside any transaction); the same visitor reopening the page does not."""
    with build_site(backend, tmp_path) as site:
        code = site.fresh_code()
        for expected in range(1, 6):
            site.client().get(f"/S/{code}")
            found = _state(site, code)
            assert found is not None
            assert found.scan_count == expected
        returning = site.client()
        returning.get(f"/S/{code}")
        returning.get(f"/S/{code}?lang=en")
        found = _state(site, code)
        assert found is not None
        assert found.scan_count == 6
