"""Printed stamps scan as genuine: issue a batch, render its PDF label sheet, rasterize it at
300 dpi with pdftoppm, decode every QR code with zxing-cpp, and open each decoded URL's path
through the app, on each backend."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import zxingcpp
from PIL import Image

from agritrace.keys import KeyPurpose
from agritrace.stamps.printing import PrintItem, render_pdf
from agritrace.trace import issuance
from agritrace.trace.models import StampBatch
from tests.support import require_tool
from tests.web.conftest import PREFIX, RECORDED_AT, Site, build_site, tag_text

STAMPS = 24


@pytest.fixture(scope="module")
def site(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with build_site(backend, tmp_path_factory.mktemp(f"printed-{backend}")) as built:
        yield built


def _decode(png: Path) -> list[str]:
    with Image.open(png) as image:
        found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    return [result.text for result in found]


def _print_and_scan(
    site: Site, tmp_path: Path, *, claim_codes: bool
) -> tuple[StampBatch, list[PrintItem], Path, list[str]]:
    """Issue a batch, render its PDF, rasterize it at 300 dpi and decode every QR code."""
    pdftoppm = require_tool("pdftoppm")
    key = site.ring.signer(KeyPurpose.STAMP, 0)
    with site.sessions() as session:
        batch = issuance.issue_batch(
            session,
            lot_ref="HD-VAI-01/L2026-001",
            count=STAMPS,
            key_id=0,
            prefix=PREFIX,
            now=RECORDED_AT,
            claim_codes=claim_codes,
        )
        items = list(issuance.print_items(batch, private_key=key, parallel=False))
    pdf = tmp_path / "labels.pdf"
    render_pdf(items, pdf)
    subprocess.run(
        [pdftoppm, "-r", "300", "-png", "-singlefile", str(pdf), str(tmp_path / "labels")],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return batch, items, pdf, _decode(tmp_path / "labels.png")


def test_every_printed_stamp_decodes_and_opens_as_genuine(site: Site, tmp_path: Path) -> None:
    batch, items, _pdf, urls = _print_and_scan(site, tmp_path, claim_codes=False)
    assert sorted(urls) == sorted(item.url for item in items)
    client = site.client()
    for url in urls:
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}/S/".upper() == PREFIX
        page = client.get(parts.path)
        assert page.status_code == 200
        assert tag_text(page.data, "h1") == "Chính hãng", url
        code = parts.path.removeprefix("/S/")
        verdict = client.get(f"/api/v1/stamps/{code}").get_json()
        assert verdict["verdict"] == "genuine"
        assert batch.first_serial <= verdict["serial"] <= batch.last_serial


def test_labels_with_claim_codes_still_decode_and_print_each_code_in_its_scratch_area(
    site: Site, tmp_path: Path
) -> None:
    """A batch with claim codes: every QR still decodes at 300 dpi, the PDF's text holds each
    stamp's claim code with the scratch-off mark, and a printed claim code claims its item."""
    pdftotext = require_tool("pdftotext")
    _batch, items, pdf, urls = _print_and_scan(site, tmp_path, claim_codes=True)
    assert sorted(urls) == sorted(item.url for item in items)
    text = subprocess.run(
        [pdftotext, str(pdf), "-"], check=True, capture_output=True, timeout=60, text=True
    ).stdout
    assert text.count("SCRATCH-OFF") == STAMPS
    for item in items:
        assert item.claim is not None
        assert item.claim in text
    first = items[0]
    path = urlsplit(first.url).path
    phone = site.client()
    page = phone.get(path).get_data(as_text=True)
    token = page.split('name="token" value="', 1)[1].split('"', 1)[0]
    claimed = phone.post(path, data={"token": token, "action": "claim", "claim": first.claim})
    assert claimed.status_code == 200
    assert "Cảm ơn bạn: sản phẩm đã được xác nhận là của bạn." in claimed.get_data(as_text=True)
