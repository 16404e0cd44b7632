"""A ledger entry's page in a real Chromium at phone size, reached the way a consumer reaches
it: from a journey badge on a stamp's page, with JavaScript off. The screenshot is kept in
``<repo>/test-artifacts/`` like the other browser tests'.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import ARTIFACTS, serving
from tests.web.conftest import Site, build_site

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, str]]:
    with (
        build_site("sqlite", tmp_path_factory.mktemp("browser-entry")) as site,
        serving(site.app) as url,
    ):
        yield site, url


def test_a_journey_badge_opens_the_entry_page_on_a_phone(
    live: tuple[Site, str], browser: Any
) -> None:
    from playwright.sync_api import expect

    site, base = live
    context = browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="vi-VN",
        java_script_enabled=False,  # the page needs none
    )
    page = context.new_page()
    page.goto(f"{base}/S/{site.genuine}")
    badge = page.locator("ol.journey > li").first.locator("a.ledger")
    index = badge.inner_text().removeprefix("Sổ cái #")
    badge.click()
    page.wait_for_url(re.compile(rf"/ledger/entries/{index}$"))
    expect(page.locator("h1")).to_have_text(f"Mục sổ cái #{index}")
    assert page.locator("html").get_attribute("lang") == "vi"
    status = page.locator("#proof-status")
    assert status.get_attribute("data-verified") == "yes"
    assert status.is_visible()
    assert "Thu hoạch" in page.locator("p.what").inner_text()
    # Phone-first: nothing wider than the screen (hashes and the raw JSON wrap).
    page.get_by_text("Bản ghi gốc").click()
    page.get_by_text("Các băm của bằng chứng").click()
    assert page.locator("#entry-json").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "ledger-entry-vi.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 1000
    # And back to the stamp the visitor came from.
    page.locator("a.back").click()
    page.wait_for_url(f"**/S/{site.genuine}")
    expect(page.locator("h1")).to_have_text("CHÍNH HÃNG", use_inner_text=True)
    context.close()
