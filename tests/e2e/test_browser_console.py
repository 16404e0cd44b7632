"""The signed-in paths in a real Chromium: an operator signs in, creates a lot, issues
stamps, downloads the PDF and records shipping; an inspector audits the ledger, recalls a
lot and exports its records. Screenshots are kept in ``<repo>/test-artifacts/``.

Runs on SQLite (the pages do not depend on the backend). Without ``/usr/bin/chromium`` the
tests skip locally and fail in CI (``AGRITRACE_REQUIRE_ALL=1``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ARTIFACTS, serving
from tests.web.people import People, build_people

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[People, str]]:
    with (
        build_people("sqlite", tmp_path_factory.mktemp("browser-console")) as people,
        serving(people.site.app) as url,
    ):
        yield people, url


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, locale="en-US", accept_downloads=True
    )
    opened = context.new_page()
    errors: list[str] = []
    opened.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield opened
    context.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors


def _shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000
    return path


def _sign_in(page: Any, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/sign-in?lang=en")
    page.fill("#f-username", username)
    page.fill("#f-password", password)
    page.click("main button[type=submit]")
    page.wait_for_load_state()


def test_operator_creates_a_lot_issues_stamps_and_ships(
    live: tuple[People, str], page: Any
) -> None:
    from playwright.sync_api import expect

    _, base = live
    page.goto(f"{base}/portal/")
    assert "/sign-in" in page.url
    _shot(page, "console-01-sign-in")
    _sign_in(page, base, "operator-a", "operator-a-password")
    expect(page.locator("h1")).to_have_text("HTX Vải thiều")
    page.click("text=New lot")
    page.select_option("#f-product", "VAI")
    page.fill("#f-code", "B-2026-7")
    page.fill("#f-units", "12")
    page.fill("#f-quantity", "60")
    page.fill("#f-harvest_date", "2026-06-10")
    page.fill("#f-origin_area", "Thanh Hà")
    _shot(page, "console-02-new-lot")
    page.click("main button[type=submit]")
    expect(page.locator("h1")).to_have_text("Lot B-2026-7")
    page.fill("#f-count", "12")
    page.click("text=Issue stamps")
    expect(page.locator("tr.new")).to_have_count(1)
    _shot(page, "console-03-stamps-issued")
    with page.expect_download() as info:
        page.click("tr.new >> text=PDF")
    pdf = Path(info.value.path())
    assert pdf.read_bytes().startswith(b"%PDF")
    page.click("text=Record an event >> nth=0")
    page.select_option("#f-step", "shipping")
    page.fill("#f-lot", "B-2026-7")
    page.fill("#f-time", "2026-06-11T05:00")
    page.select_option("#f-destination", "HN-KHO-02")
    page.fill("#f-temperature", "5")
    page.click("main button[type=submit]")
    expect(page.locator(".saved")).to_contain_text("Recorded in the ledger")
    expect(page.locator("main table").nth(1)).to_contain_text("Shipped → HN-KHO-02")
    _shot(page, "console-04-shipped")
    # a rule the service refuses is shown beside the form
    page.goto(f"{base}/portal/events/new?lot=B-2026-7&step=cooling")
    page.fill("#f-time", "2026-06-11T06:00")
    page.click("main button[type=submit]")
    expect(page.locator(".alert")).to_contain_text("only the holder records")
    _shot(page, "console-05-rule-refused")


def test_inspector_audits_recalls_and_exports(live: tuple[People, str], page: Any) -> None:
    from playwright.sync_api import expect

    people, base = live
    _sign_in(page, base, "inspector", "inspector-password")
    expect(page.locator("h1")).to_have_text("Ledger")
    page.click("text=Audit the whole ledger")
    expect(page.locator("#audit-result")).to_contain_text("Intact", timeout=20_000)
    _shot(page, "console-06-audit")
    page.goto(f"{base}/inspect/lots/{people.lot_a}")
    page.fill("#f-reason", "Pesticide residue above the limit")
    page.click("text=Recall lot")
    expect(page.locator("#lot-status")).to_contain_text("Recalled")
    _shot(page, "console-07-recalled")
    for button, start in (("#export-epcis", b"{"), ("#export-fsma", b"Traceability")):
        with page.expect_download() as info:
            page.click(button)
        assert Path(info.value.path()).read_bytes().startswith(start)
    page.goto(f"{base}/inspect/proof/inclusion?index=3&size={people.site.checkpoint_sizes[-1]}")
    expect(page.locator("#verdict")).to_contain_text("Proof verified")
    _shot(page, "console-08-inclusion-proof")
    page.goto(f"{base}/inspect/dashboard")
    assert page.locator("svg.chart").count() == 2
    _shot(page, "console-09-dashboard")
