"""Printed stamps round trip: render, rasterize with real tools, decode with zxing-cpp, verify."""

from __future__ import annotations

import io
import re
import subprocess
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import zxingcpp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image, ImageDraw

from agritrace.errors import InvalidInputError
from agritrace.stamps import printing, signing
from agritrace.stamps.codec import short_code, sign_stamp, verify_code
from agritrace.stamps.printing import (
    LabelLayout,
    PrintItem,
    render_pdf,
    render_png,
    render_svg,
    svg_text,
    write_csv,
)
from agritrace.stamps.signing import make_print_items
from tests.stamps.conftest import PREFIX, QR_ONLY, require_tool
from tests.support import unavailable


def items_for(key: Ed25519PrivateKey, first: int, count: int) -> list[PrintItem]:
    return list(make_print_items(first, count, key_id=0, private_key=key, prefix=PREFIX))


def decode_urls(image: Image.Image) -> list[str]:
    results = zxingcpp.read_barcodes(image, formats=QR_ONLY)
    return [r.text for r in results]


def rasterize(pdftoppm: str, pdf: Path, dpi: int = 300) -> Image.Image:
    stem = pdf.with_suffix("")
    subprocess.run(
        [pdftoppm, "-r", str(dpi), "-png", "-singlefile", str(pdf), str(stem)],
        check=True,
        capture_output=True,
    )
    return Image.open(stem.with_suffix(".png"))


def decode_labels(
    image: Image.Image, layout: LabelLayout, count: int, dpi: int = 300
) -> list[str | None]:
    """Decode each label slot of a rasterized page on its own, in layout order.

    zxing-cpp's multi-symbol search misses some codes on a page packed with small labels,
    although every one of them decodes alone; cropping also checks each code's position.
    """
    px = dpi / 25.4
    cols, _ = layout.grid()
    found: list[str | None] = []
    for slot in range(count):
        col, row = slot % cols, slot // cols
        left = (layout.margin_mm + col * (layout.label_w_mm + layout.gap_mm)) * px
        top = (layout.margin_mm + row * (layout.label_h_mm + layout.gap_mm)) * px
        box = (
            int(left),
            int(top),
            int(left + layout.label_w_mm * px),
            int(top + layout.label_h_mm * px),
        )
        urls = decode_urls(image.crop(box))
        found.append(urls[0] if len(urls) == 1 else None)
    return found


def assert_all_genuine(urls: list[str], key: Ed25519PrivateKey) -> None:
    for url in urls:
        verify_code(url, prefix=PREFIX, public_keys={0: key.public_key()})


# --- PDF ---------------------------------------------------------------------------------


def test_pdf_page_decodes_to_exactly_the_signed_urls(
    tmp_path: Path, pdftoppm: str, pdftotext: str, stamp_key: Ed25519PrivateKey
) -> None:
    items = items_for(stamp_key, 5_000_001, 48)
    pdf = tmp_path / "sheet.pdf"
    summary = render_pdf(items, pdf, layout=LabelLayout())
    assert (summary.stamps, summary.pages, summary.per_page) == (48, 1, 48)

    page = rasterize(pdftoppm, pdf)
    urls = decode_urls(page)
    assert len(urls) == 48
    assert set(urls) == {item.url for item in items}
    assert_all_genuine(urls, stamp_key)
    assert decode_labels(page, LabelLayout(), 48) == [item.url for item in items]

    text = subprocess.run(
        [pdftotext, "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert set(re.findall(r"\d{3} \d{3} \d{3}-\d", text)) == {item.label for item in items}


def test_pdf_at_level_q_decodes(
    tmp_path: Path, pdftoppm: str, stamp_key: Ed25519PrivateKey
) -> None:
    items = items_for(stamp_key, 77, 24)
    pdf = tmp_path / "q.pdf"
    render_pdf(items, pdf, layout=LabelLayout(), level="Q")
    results = zxingcpp.read_barcodes(rasterize(pdftoppm, pdf), formats=QR_ONLY)
    assert {r.text for r in results} == {item.url for item in items}
    assert {r.ec_level for r in results} == {"Q"}


def test_pdf_with_small_modules_and_many_pages(
    tmp_path: Path, pdftoppm: str, stamp_key: Ed25519PrivateKey
) -> None:
    layout = LabelLayout(label_w_mm=21, label_h_mm=23, margin_mm=5, gap_mm=1, module_mm=0.4)
    items = items_for(stamp_key, 1, 200)
    steps: list[int] = []
    pdf = tmp_path / "small.pdf"
    summary = render_pdf(items, pdf, layout=layout, progress=steps.append)
    assert summary.per_page == 9 * 12
    assert summary.pages == 2
    assert steps == [108, 92]
    info = subprocess.run(
        [require_tool("pdfinfo"), str(pdf)], check=True, capture_output=True, text=True
    ).stdout
    assert re.search(r"^Pages:\s+2$", info, re.MULTILINE)
    first_page = rasterize(pdftoppm, pdf)  # -singlefile: page 1 only
    assert decode_labels(first_page, layout, 108) == [item.url for item in items[:108]]


def test_pdf_is_deterministic_and_the_parallel_path_gives_the_same_bytes(
    monkeypatch: pytest.MonkeyPatch, stamp_key: Ed25519PrivateKey
) -> None:
    items = items_for(stamp_key, 900, 130)
    serial, parallel = io.BytesIO(), io.BytesIO()
    render_pdf(items, serial, workers=1)
    monkeypatch.setattr(printing, "PARALLEL_MIN_ITEMS", 20)
    monkeypatch.setattr(printing, "_PDF_CHUNK", 17)
    summary = render_pdf(iter(items), parallel, workers=2)
    assert summary.stamps == 130
    assert parallel.getvalue() == serial.getvalue()
    again = io.BytesIO()
    render_pdf(items, again, workers=1)
    assert again.getvalue() == serial.getvalue()


def test_threads_render_at_once_without_touching_reportlab_settings(
    stamp_key: Ed25519PrivateKey,
) -> None:
    # The old code switched reportlab's global rl_config.useA85 off and on around each save:
    # with threaded workers one render could restore it while another was saving.
    from reportlab import rl_config

    items = items_for(stamp_key, 500, 40)
    reference = io.BytesIO()
    render_pdf(items, reference, workers=1)
    setting = rl_config.useA85

    def render(_: int) -> bytes:
        out = io.BytesIO()
        render_pdf(items, out, workers=1)
        return out.getvalue()

    with ThreadPoolExecutor(4) as pool:
        outputs = list(pool.map(render, range(8)))
    assert rl_config.useA85 == setting == 0
    assert all(output == reference.getvalue() for output in outputs)
    assert b"ASCII85Decode" not in reference.getvalue()


@pytest.mark.parametrize("module_mm", [0.0, 0.2, 0.39])
def test_modules_under_0_4_mm_are_refused(module_mm: float) -> None:
    with pytest.raises(InvalidInputError, match=r"too small.*at least 0.4 mm"):
        LabelLayout(module_mm=module_mm)


def test_label_too_small_for_the_code_is_refused_and_nothing_is_written(
    tmp_path: Path, stamp_key: Ed25519PrivateKey
) -> None:
    layout = LabelLayout(label_w_mm=20, label_h_mm=20)
    out = tmp_path / "never.pdf"
    with pytest.raises(
        InvalidInputError, match=r"20 x 20 mm label cannot hold a 41-module code at 0.5 mm"
    ) as info:
        render_pdf(items_for(stamp_key, 1, 3), out, layout=layout)
    assert info.value.facts["needed_w_mm"] == 24.5
    assert list(tmp_path.iterdir()) == []


def test_label_too_short_for_the_short_code_is_refused(stamp_key: Ed25519PrivateKey) -> None:
    layout = LabelLayout(label_w_mm=30, label_h_mm=25)  # 24.5 mm code + 2.6 mm of text
    with pytest.raises(InvalidInputError, match=r"needs 24.5 x 27.1 mm"):
        render_pdf(items_for(stamp_key, 1, 1), io.BytesIO(), layout=layout)


def test_grid_with_a_code_size_checks_the_code_fits() -> None:
    assert LabelLayout().grid(41) == LabelLayout().grid() == (6, 8)
    assert LabelLayout().grid(49) == (6, 8)  # version 8, level Q
    with pytest.raises(InvalidInputError, match="cannot hold a 57-module code"):
        LabelLayout().grid(57)


def test_label_larger_than_the_page_is_refused() -> None:
    layout = LabelLayout(label_w_mm=300, label_h_mm=300)
    with pytest.raises(InvalidInputError, match="no 300 x 300 mm label fits"):
        render_pdf([], io.BytesIO(), layout=layout)


def test_output_in_a_missing_folder_is_invalid_input(
    tmp_path: Path, stamp_key: Ed25519PrivateKey
) -> None:
    [item] = items_for(stamp_key, 1, 1)
    with pytest.raises(InvalidInputError, match=r"cannot write .*No such file or directory"):
        render_png(item, tmp_path / "missing" / "x.png")


def test_nothing_to_print_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="nothing to print"):
        render_pdf([], io.BytesIO())


# --- PNG and SVG -------------------------------------------------------------------------


def test_png_is_1_bit_with_quiet_zone_and_decodes(
    tmp_path: Path, stamp_key: Ed25519PrivateKey
) -> None:
    [item] = items_for(stamp_key, 31, 1)
    out = tmp_path / "stamp.png"
    render_png(item, out, scale_px=6)
    image = Image.open(out)
    assert image.format == "PNG"
    assert image.mode == "1"
    assert image.size == (49 * 6, 49 * 6)
    # the quiet zone (4 modules = 24 px) is white all round
    light = image.convert("L")
    for box in [(0, 0, 294, 24), (0, 270, 294, 294), (0, 0, 24, 294), (270, 0, 294, 294)]:
        assert light.crop(box).getextrema() == (255, 255)
    assert decode_urls(image) == [item.url]
    assert_all_genuine([item.url], stamp_key)


def test_png_refuses_zero_scale(tmp_path: Path, stamp_key: Ed25519PrivateKey) -> None:
    [item] = items_for(stamp_key, 31, 1)
    with pytest.raises(InvalidInputError, match="at least 1 pixel"):
        render_png(item, tmp_path / "x.png", scale_px=0)


def _svg_paths(document: str) -> list[ET.Element]:
    root = ET.fromstring(document)  # noqa: S314 - parses our own output, not untrusted XML
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return list(root.iter("{http://www.w3.org/2000/svg}path"))


def _rasterize_svg_path(d: str, side: int, scale: int) -> Image.Image:
    """Draw the path's rectangles (``M x y h w v 1 h -w z``) on white, ``scale`` px per module."""
    image = Image.new("L", (side * scale, side * scale), 255)
    draw = ImageDraw.Draw(image)
    subpaths = re.findall(r"M(\d+) (\d+)h(\d+)v(\d+)h-(\d+)z", d)
    assert "".join(f"M{x} {y}h{w}v{h}h-{w2}z" for x, y, w, h, w2 in subpaths) == d
    for x, y, w, h, w2 in subpaths:
        assert w == w2
        left, top = int(x) * scale, int(y) * scale
        right, bottom = left + int(w) * scale - 1, top + int(h) * scale - 1
        draw.rectangle((left, top, right, bottom), fill=0)
    return image


def test_svg_has_one_path_and_its_rectangles_decode(
    tmp_path: Path, stamp_key: Ed25519PrivateKey
) -> None:
    [item] = items_for(stamp_key, 32, 1)
    out = tmp_path / "stamp.svg"
    render_svg(item, out, module_mm=0.5)
    document = out.read_text(encoding="utf-8")
    root = ET.fromstring(document)  # noqa: S314 - our own output
    assert root.get("viewBox") == "0 0 49 49"
    assert (root.get("width"), root.get("height")) == ("24.50mm", "24.50mm")
    assert len(list(root)) == 1
    [path] = _svg_paths(document)
    d = path.get("d")
    assert d is not None
    assert decode_urls(_rasterize_svg_path(d, 49, 6)) == [item.url]
    assert_all_genuine([item.url], stamp_key)


@pytest.mark.browser
def test_svg_rendered_by_chromium_decodes(tmp_path: Path, stamp_key: Ed25519PrivateKey) -> None:
    chromium = require_tool("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - dev extra not installed
        unavailable("playwright is not installed")
    [item] = items_for(stamp_key, 33, 1)
    document = svg_text(item, module_mm=1.0)
    html = f"<html><body style='margin:20px;background:#fff'>{document}</body></html>"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run"],
        )
        try:
            page = browser.new_page(viewport={"width": 400, "height": 400})
            page.set_content(html)
            shot = tmp_path / "svg.png"
            page.screenshot(path=str(shot))
        finally:
            browser.close()
    assert decode_urls(Image.open(shot)) == [item.url]


def test_svg_refuses_modules_under_0_4_mm(stamp_key: Ed25519PrivateKey) -> None:
    [item] = items_for(stamp_key, 34, 1)
    with pytest.raises(InvalidInputError, match="too small"):
        svg_text(item, module_mm=0.3)


# --- CSV and items -----------------------------------------------------------------------


def test_csv_has_exact_header_and_rows(tmp_path: Path, stamp_key: Ed25519PrivateKey) -> None:
    items = items_for(stamp_key, 10, 3)
    out = tmp_path / "stamps.csv"
    assert write_csv(items, out) == 3
    expected = "serial,url\n" + "".join(f"{i.serial},{i.url}\n" for i in items)
    assert out.read_bytes() == expected.encode("ascii")
    stream = io.StringIO(newline="")
    assert write_csv(iter(items), stream) == 3
    assert stream.getvalue() == expected


def test_csv_of_no_items_is_just_the_header() -> None:
    stream = io.StringIO()
    assert write_csv([], stream) == 0
    assert stream.getvalue() == "serial,url\n"


def test_print_items_carry_url_and_short_code(stamp_key: Ed25519PrivateKey) -> None:
    [item] = items_for(stamp_key, 42, 1)
    stamp = sign_stamp(42, key_id=0, private_key=stamp_key, prefix=PREFIX)
    assert item == PrintItem(42, stamp.to_url(PREFIX), short_code(42))
    assert item == PrintItem.from_stamp(stamp, PREFIX)


def test_parallel_signing_gives_the_same_items_in_order(
    monkeypatch: pytest.MonkeyPatch, stamp_key: Ed25519PrivateKey
) -> None:
    serial = list(
        make_print_items(100, 60, key_id=2, private_key=stamp_key, prefix=PREFIX, workers=1)
    )
    monkeypatch.setattr(signing, "PARALLEL_MIN_SERIALS", 10)
    monkeypatch.setattr(signing, "_SIGN_CHUNK", 7)
    parallel = list(
        make_print_items(100, 60, key_id=2, private_key=stamp_key, prefix=PREFIX, workers=2)
    )
    assert parallel == serial
    assert [item.serial for item in parallel] == list(range(100, 160))


def test_make_print_items_checks_arguments_before_any_work(stamp_key: Ed25519PrivateKey) -> None:
    with pytest.raises(InvalidInputError):
        make_print_items(0, 10, key_id=0, private_key=stamp_key, prefix=PREFIX)


# --- the skip-or-fail rule ---------------------------------------------------------------


def test_missing_tool_skips_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tests.support.REQUIRE_ALL", False)
    with pytest.raises(pytest.skip.Exception, match="no-such-tool-xyz is not installed"):
        require_tool("no-such-tool-xyz")


def test_missing_tool_fails_when_everything_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tests.support.REQUIRE_ALL", True)
    with pytest.raises(pytest.fail.Exception, match="required in CI"):
        require_tool("no-such-tool-xyz")


def test_csv_with_claim_codes_has_a_claim_code_column() -> None:
    items = [
        PrintItem(1, PREFIX + "AAAA", "A", claim="12345-67890"),
        PrintItem(2, PREFIX + "BBBB", "B", claim="09876-54321"),
    ]
    stream = io.StringIO()
    assert write_csv(items, stream) == 2
    assert stream.getvalue() == (
        f"serial,url,claim_code\n1,{PREFIX}AAAA,12345-67890\n2,{PREFIX}BBBB,09876-54321\n"
    )


def test_a_label_too_small_for_the_claim_area_is_refused() -> None:
    layout = LabelLayout(label_h_mm=28.0)
    layout.check_fits(41)
    with pytest.raises(InvalidInputError, match="cannot hold"):
        layout.check_fits(41, claim=True)
