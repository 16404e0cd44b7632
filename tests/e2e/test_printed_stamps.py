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
from agritrace.stamps.printing import render_pdf
from agritrace.trace import issuance
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


def test_every_printed_stamp_decodes_and_opens_as_genuine(site: Site, tmp_path: Path) -> None:
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
    urls = _decode(tmp_path / "labels.png")
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
