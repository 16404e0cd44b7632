"""``agritrace demo``: seeds a working instance whose printed stamps verify as announced."""

from __future__ import annotations

import re
import secrets
import subprocess
from pathlib import Path

import zxingcpp
from click.testing import CliRunner
from PIL import Image

from agritrace.cli import cli
from agritrace.config import Settings
from agritrace.web import create_app
from tests.support import require_tool


def test_demo_seeds_stamps_with_the_announced_verdicts(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["demo", "--no-serve", "--folder", str(folder)], env={})
    assert result.exit_code == 0, result.output
    urls = dict(
        re.findall(
            r"^  (genuine \(dried|recalled|suspicious|forged)\S*[^\n]*? (HTTP\S+)$",
            result.stdout,
            re.M,
        )
    )
    assert set(urls) == {"genuine (dried", "recalled", "suspicious", "forged"}
    assert (folder / "stamps.pdf").stat().st_size > 10_000
    settings = Settings.from_env(
        {
            "AGRITRACE_INSTANCE": str(folder),
            "AGRITRACE_BASE_URL": "http://127.0.0.1:5000",
            "AGRITRACE_SECRET_KEY": secrets.token_urlsafe(32),
        }
    )
    client = create_app(settings).test_client()
    verdicts = {}
    for name, url in urls.items():
        response = client.get("/api/v1/stamps/" + url.rsplit("/S/", 1)[1])
        verdicts[name] = response.get_json()["verdict"]
    assert verdicts == {
        "genuine (dried": "genuine",
        "recalled": "recalled",
        "suspicious": "suspicious",
        "forged": "not_genuine",
    }
    assert "farm" in result.stdout
    assert "operator of BG-LN-01" in result.stdout


def test_demo_refuses_to_wipe_a_folder_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "precious.txt").write_text("keep me")
    result = CliRunner().invoke(
        cli, ["demo", "--no-serve", "--folder", str(tmp_path / "mine")], env={}
    )
    assert result.exit_code == 2
    assert "is not an agritrace demo folder" in result.stderr
    assert (tmp_path / "mine" / "precious.txt").exists()


def test_demo_pdf_decodes(tmp_path: Path) -> None:
    pdftoppm = require_tool("pdftoppm")
    folder = tmp_path / "demo"
    assert (
        CliRunner().invoke(cli, ["demo", "--no-serve", "--folder", str(folder)], env={}).exit_code
        == 0
    )
    subprocess.run(
        [
            pdftoppm,
            "-r",
            "200",
            "-png",
            "-singlefile",
            str(folder / "stamps.pdf"),
            str(tmp_path / "p"),
        ],
        check=True,
    )
    decoded = zxingcpp.read_barcodes(Image.open(tmp_path / "p.png"))
    assert len(decoded) >= 40
    assert all(r.text.startswith("HTTP://127.0.0.1:5000/S/") for r in decoded)
