"""The scan page in a real Chromium at phone size: what a person sees for a genuine, a
recalled, a suspicious and a forged stamp, the language switch, the place form with and
without JavaScript, and contrast. Screenshots are kept in ``<repo>/test-artifacts/``.

The app runs on werkzeug's server in a thread, on SQLite (the page does not depend on the
backend; the web suites cover both). Without ``/usr/bin/chromium`` the tests skip locally
and fail in CI (``AGRITRACE_REQUIRE_ALL=1``).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from agritrace.stamps import claims
from agritrace.stamps.codec import Stamp
from agritrace.trace.models import StampBatch, StampScanState
from tests.e2e.conftest import ARTIFACTS, serving
from tests.web.conftest import RECALL_REASON, Site, build_site

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
#: WCAG 2.2 AA for large text is 3:1 and for body text 4.5:1; the verdict must beat AAA.
MIN_VERDICT_CONTRAST = 7.0

# WCAG relative luminance and contrast ratio of the verdict banner, computed in the page.
CONTRAST_JS = """() => {
  const rgb = (css) => css.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lum = ([r, g, b]) => {
    const c = [r, g, b].map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const h1 = document.querySelector("h1");
  const banner = h1.closest("section");
  const fg = lum(rgb(getComputedStyle(h1).color));
  const bg = lum(rgb(getComputedStyle(banner).backgroundColor));
  return (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
}"""


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, str]]:
    with build_site("sqlite", tmp_path_factory.mktemp("browser")) as site, serving(site.app) as url:
        yield site, url


def _context(browser: Any, **options: Any) -> Any:
    settings: dict[str, Any] = {
        "viewport": PHONE,
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
        "locale": "vi-VN",
    }
    settings.update(options)
    return browser.new_context(**settings)


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    context = _context(browser)
    page = context.new_page()
    yield page
    context.close()


def _shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000
    return path


def _heading(page: Any, text: str) -> None:
    """Wait until the page (after a click, still loading) shows ``text`` as its heading."""
    from playwright.sync_api import expect

    expect(page.locator("h1")).to_have_text(text, use_inner_text=True)


def _verdict_is_first_and_clear(page: Any) -> None:
    box = page.locator("h1").bounding_box()
    assert box is not None
    assert box["y"] + box["height"] <= PHONE["height"] / 2  # in the top half of the screen
    assert page.evaluate(CONTRAST_JS) >= MIN_VERDICT_CONTRAST
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_genuine_stamp(live: tuple[Site, str], phone: Any) -> None:
    site, base = live
    phone.goto(f"{base}/S/{site.genuine}")
    assert phone.locator("h1").inner_text() == "CHÍNH HÃNG"
    assert phone.locator("html").get_attribute("lang") == "vi"
    _verdict_is_first_and_clear(phone)
    banner = phone.locator("section.verdict").inner_text()
    assert "Vải thiều · HTX Vải thiều" in banner
    assert phone.get_by_text("Còn hiệu lực vào ngày thu hoạch").is_visible()
    steps = phone.locator("ol.journey > li")
    assert steps.count() >= 4
    assert steps.first.locator(".what").inner_text() == "Thu hoạch"
    badge = steps.first.locator("a.ledger")
    assert badge.inner_text().startswith("Sổ cái #")
    assert (
        phone.get_by_text("Đây là lần quét đầu tiên").is_visible()
        or phone.get_by_text("Đã quét").is_visible()
    )
    _shot(phone, "scan-genuine-vi")
    badge.click()
    phone.wait_for_url("**/ledger/entries/**")
    assert phone.locator("h1").inner_text().startswith("Mục sổ cái #")  # a page, not JSON


def test_recalled_stamp(live: tuple[Site, str], phone: Any) -> None:
    site, base = live
    phone.goto(f"{base}/S/{site.recalled}")
    assert phone.locator("h1").inner_text() == "ĐÃ THU HỒI"
    _verdict_is_first_and_clear(phone)
    banner = phone.locator("section.verdict").inner_text()
    assert RECALL_REASON in banner
    assert "Không sử dụng sản phẩm" in banner
    _shot(phone, "scan-recalled-vi")


def test_suspicious_stamp(live: tuple[Site, str], phone: Any) -> None:
    site, base = live
    phone.goto(f"{base}/S/{site.suspicious}")
    assert phone.locator("h1").inner_text() == "ĐÁNG NGỜ"
    _verdict_is_first_and_clear(phone)
    assert "được dùng bởi hai người khác nhau" in phone.locator("section.verdict").inner_text()
    assert "đã được xác nhận ngày" in phone.locator("section.claim").inner_text()
    _shot(phone, "scan-suspicious-vi")


def test_claim_form_works_without_javascript(live: tuple[Site, str], browser: Any) -> None:
    site, base = live
    code = site.claim_code()
    with site.sessions() as session:
        batch = session.get(StampBatch, site.claim_batch["id"])
        assert batch is not None
        assert batch.claim_key is not None
        right = claims.claim_code(bytes.fromhex(batch.claim_key), Stamp.from_text(code).serial)
    context = _context(browser, java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{base}/S/{code}")
    page.get_by_role("textbox", name="Mã xác nhận").fill(claims.to_text(right))
    page.get_by_label("Tỉnh, thành phố (không bắt buộc)").select_option("Cần Thơ")
    page.get_by_role("button", name="Xác nhận sản phẩm").click()
    _heading(page, "CHÍNH HÃNG")
    assert page.get_by_text("sản phẩm đã được xác nhận là của bạn").is_visible()
    other = _context(browser, java_script_enabled=False).new_page()
    other.goto(f"{base}/S/{code}")
    assert "tại Cần Thơ" in other.locator("section.claim").inner_text()
    context.close()


def test_forged_stamp(live: tuple[Site, str], phone: Any) -> None:
    site, base = live
    phone.goto(f"{base}/S/{site.forged}")
    assert phone.locator("h1").inner_text() == "KHÔNG CHÍNH HÃNG"
    _verdict_is_first_and_clear(phone)
    assert "Chữ ký số trên tem không khớp" in phone.locator("section.verdict").inner_text()
    assert phone.locator("#h-product").count() == 0
    _shot(phone, "scan-forged-vi")


def test_language_switch(live: tuple[Site, str], phone: Any) -> None:
    site, base = live
    phone.goto(f"{base}/S/{site.genuine}")
    phone.get_by_role("link", name="English").click()
    _heading(phone, "GENUINE")
    assert phone.locator("html").get_attribute("lang") == "en"
    assert phone.get_by_text("Valid on the harvest date").is_visible()
    _shot(phone, "scan-genuine-en")
    phone.goto(f"{base}/S/{site.recalled}")  # the choice is remembered
    assert phone.locator("h1").inner_text() == "RECALLED"
    phone.get_by_role("link", name="Tiếng Việt").click()
    _heading(phone, "ĐÃ THU HỒI")


def test_english_phone_gets_english(live: tuple[Site, str], browser: Any) -> None:
    site, base = live
    context = _context(browser, locale="en-US")
    page = context.new_page()
    page.goto(f"{base}/S/{site.forged}")
    assert page.locator("h1").inner_text() == "NOT GENUINE"
    context.close()


def _place(site: Site, code: str) -> tuple[Decimal | None, Decimal | None]:
    with site.sessions() as session:
        state = session.scalars(
            select(StampScanState).where(StampScanState.serial == Stamp.from_text(code).serial)
        ).one()
        return state.last_place_lat, state.last_place_lon


def test_place_form_works_without_javascript(live: tuple[Site, str], browser: Any) -> None:
    site, base = live
    code = site.fresh_code()
    context = _context(browser, java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{base}/S/{code}")
    assert page.locator("h1").inner_text() == "CHÍNH HÃNG"
    assert not page.locator("#locate").is_visible()  # the script-only button stays hidden
    page.get_by_text("Chia sẻ vị trí gần đúng của bạn").click()
    page.get_by_label("Vĩ độ").fill("10,7769")
    page.get_by_label("Kinh độ").fill("106.7009")
    page.get_by_role("button", name="Gửi vị trí").click()
    _heading(page, "CHÍNH HÃNG")
    assert page.get_by_text("vị trí gần đúng đã được ghi nhận").is_visible()
    assert _place(site, code) == (Decimal("10.8"), Decimal("106.7"))
    context.close()


def test_location_button_sends_a_rounded_place(live: tuple[Site, str], browser: Any) -> None:
    site, base = live
    code = site.fresh_code()
    context = _context(
        browser,
        geolocation={"latitude": 21.0285, "longitude": 105.8542},
        permissions=["geolocation"],
    )
    page = context.new_page()
    page.goto(f"{base}/S/{code}")
    page.get_by_text("Chia sẻ vị trí gần đúng của bạn").click()
    page.get_by_role("button", name="Dùng vị trí của tôi").click()
    page.wait_for_selector("p.saved")
    assert _place(site, code) == (Decimal("21.0"), Decimal("105.9"))
    context.close()


def test_landing_page_checks_a_typed_code(live: tuple[Site, str], phone: Any) -> None:
    site, base = live
    phone.goto(f"{base}/")
    assert phone.locator("h1").inner_text() == "Kiểm tra tem truy xuất nguồn gốc"
    _shot(phone, "landing-vi")
    phone.get_by_label("Hoặc nhập mã tem").fill(site.forged.lower())
    phone.get_by_role("button", name="Kiểm tra").click()
    _heading(phone, "KHÔNG CHÍNH HÃNG")
