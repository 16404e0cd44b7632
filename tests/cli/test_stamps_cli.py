"""``agritrace stamps`` end to end: issue, print (PDF rasterized and decoded), reprint, verify,
and one clear line with nothing written on bad input."""

from __future__ import annotations

import csv
import json
import re
import subprocess
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import text

from agritrace.db import make_engine
from tests.cli.conftest import RunCli, bad_input, ok_json
from tests.support import require_tool

LOT = "HD-VAI-01/L1"


@pytest.fixture
def lot(run: RunCli) -> RunCli:
    assert run("init").exit_code == 0
    steps = [
        ("facility", "add", "--code", "HD-VAI-01", "--name", "HTX Vải thiều", "--province",
         "Hải Dương", "--address", "Thanh Hà"),
        ("facility", "certify", "HD-VAI-01", "--scheme", "vietgap", "--number", "VG-1",
         "--issuer", "NAFIQAD", "--valid-from", "2026-01-01", "--valid-to", "2030-12-31",
         "--scope", "vải"),
        ("product", "add", "--code", "VAI", "--name", "Vải thiều", "--category", "fruit",
         "--unit", "box"),
        ("lot", "create", "--facility", "HD-VAI-01", "--product", "VAI", "--code", "L1",
         "--units", "100", "--quantity", "500", "--quantity-unit", "kg",
         "--harvest-date", "2026-06-10", "--origin-area", "Thanh Hà"),
    ]  # fmt: skip
    for step in steps:
        result = run(*step)
        assert result.exit_code == 0, result.stderr
    return run


REGISTRY_ENTRIES = 3  # the fixture's facility, certificate and lot are ledger entries


def _nothing_issued(run: RunCli) -> None:
    assert ok_json(run("stamps", "list", "--json")) == []
    assert ok_json(run("ledger", "status", "--json"))["size"] == REGISTRY_ENTRIES


def test_printed_pdf_decodes_to_stamps_that_verify(lot: RunCli, tmp_path: Path) -> None:
    pdftoppm = require_tool("pdftoppm")
    pdf, sheet = tmp_path / "stamps.pdf", tmp_path / "sheet"
    batch = ok_json(lot("stamps", "issue", "--lot", LOT, "--count", "24", "--pdf", str(pdf),
                        "--csv", str(tmp_path / "s.csv"), "--json"))  # fmt: skip
    assert batch["outputs"]["pdf"]["pages"] == 1
    subprocess.run([pdftoppm, "-r", "300", "-png", "-singlefile", str(pdf), str(sheet)], check=True)
    decoded = {r.text for r in zxingcpp.read_barcodes(Image.open(f"{sheet}.png"))}
    with (tmp_path / "s.csv").open(newline="") as fh:
        expected = {row["url"] for row in csv.DictReader(fh)}
    assert len(expected) == 24
    assert decoded == expected
    for url in sorted(decoded)[:5]:
        assert lot("stamps", "verify", url).exit_code == 0


def test_claim_codes_reach_the_print_shops_csv_and_are_reprinted_identically(
    lot: RunCli, tmp_path: Path
) -> None:
    batch = ok_json(lot("stamps", "issue", "--lot", LOT, "--count", "5", "--claim-codes",
                        "--csv", str(tmp_path / "a.csv"), "--json"))  # fmt: skip
    assert batch["claim_codes"] is True
    with (tmp_path / "a.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 5
    assert all(re.fullmatch(r"[0-9]{5}-[0-9]{5}", row["claim_code"]) for row in rows)
    assert len({row["claim_code"] for row in rows}) == 5
    assert lot("stamps", "print", str(batch["id"]), "--csv", str(tmp_path / "b.csv")).exit_code == 0
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()
    plain = ok_json(lot("stamps", "issue", "--lot", LOT, "--count", "1", "--csv",
                        str(tmp_path / "c.csv"), "--json"))  # fmt: skip
    assert plain["claim_codes"] is False
    assert (tmp_path / "c.csv").read_text().splitlines()[0] == "serial,url"


def test_png_and_svg_outputs_one_file_per_stamp(lot: RunCli, tmp_path: Path) -> None:
    ok_json(lot("stamps", "issue", "--lot", LOT, "--count", "3", "--png-dir", str(tmp_path / "png"),
                "--svg-dir", str(tmp_path / "svg"), "--json"))  # fmt: skip
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == ["1.png", "2.png", "3.png"]
    assert sorted(p.name for p in (tmp_path / "svg").iterdir()) == ["1.svg", "2.svg", "3.svg"]
    [result] = zxingcpp.read_barcodes(Image.open(tmp_path / "png" / "2.png"))
    assert lot("stamps", "verify", result.text).exit_code == 0


def test_reprint_gives_identical_codes(lot: RunCli, tmp_path: Path) -> None:
    batch = ok_json(lot("stamps", "issue", "--lot", LOT, "--count", "10", "--csv",
                        str(tmp_path / "a.csv"), "--json"))  # fmt: skip
    assert lot("stamps", "print", str(batch["id"]), "--csv", str(tmp_path / "b.csv")).exit_code == 0
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()


def test_verify_offline_with_published_keys(lot: RunCli, tmp_path: Path) -> None:
    ok_json(
        lot(
            "stamps",
            "issue",
            "--lot",
            LOT,
            "--count",
            "2",
            "--csv",
            str(tmp_path / "s.csv"),
            "--json",
        )
    )
    assert lot("keys", "export-public", str(tmp_path / "keys.json")).exit_code == 0
    url = (tmp_path / "s.csv").read_text().splitlines()[1].split(",")[1]
    result = ok_json(
        lot("stamps", "verify", url.lower(), "--keys", str(tmp_path / "keys.json"), "--json")
    )
    assert result["genuine"] is True
    assert result["serial"] == 1


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda u: u[:-20] + ("A" if u[-20] != "A" else "B") + u[-19:], "bad-signature"),
        (lambda u: u.replace("TRACE.EXAMPLE.VN", "EVIL.EXAMPLE.VN"), "wrong-issuer"),
        (lambda u: u[:-10], "malformed"),
        (lambda u: "not a stamp", "malformed"),
    ],
)
def test_verify_says_why_a_stamp_is_not_genuine(
    lot: RunCli, tmp_path: Path, mutate, reason
) -> None:  # type: ignore[no-untyped-def]
    ok_json(
        lot(
            "stamps",
            "issue",
            "--lot",
            LOT,
            "--count",
            "1",
            "--csv",
            str(tmp_path / "s.csv"),
            "--json",
        )
    )
    url = (tmp_path / "s.csv").read_text().splitlines()[1].split(",")[1]
    result = lot("stamps", "verify", mutate(url), "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["reason"] == reason


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--count", "0"), "count must be greater than zero"),
        (("--count", "-4"), "count must be greater than zero"),
        (("--count", "101"), "exceed lot HD-VAI-01/L1's 100 declared units"),
        (("--count", "5", "--lot", "HD-VAI-01/NOPE"), "unknown lot HD-VAI-01/NOPE"),
        (("--count", "5", "--module", "0.3", "--pdf", "x.pdf"), "too small"),
        (("--count", "5", "--label-width", "10", "--pdf", "x.pdf"), "cannot hold"),
        (("--count", "5", "--pdf", "/nonexistent/dir/x.pdf"), "does not exist"),
    ],
)
def test_bad_issue_exits_2_and_writes_nothing(
    lot: RunCli, args: tuple[str, ...], message: str
) -> None:
    full = (
        ("stamps", "issue", "--lot", LOT, *args)
        if "--lot" not in args
        else ("stamps", "issue", *args)
    )
    bad_input(lot(*full), message)
    _nothing_issued(lot)


def test_recalled_lot_exits_2(lot: RunCli, fresh_db_url: str) -> None:
    engine = make_engine(fresh_db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE lot SET status = 'recalled'"))
    engine.dispose()
    bad_input(lot("stamps", "issue", "--lot", LOT, "--count", "1"), "recalled")
    _nothing_issued(lot)


def test_wrong_passphrase_exits_2_and_writes_nothing(lot: RunCli) -> None:
    result = lot("stamps", "issue", "--lot", LOT, "--count", "5",
                 env={"AGRITRACE_KEY_PASSPHRASE": "definitely wrong phrase"})  # fmt: skip
    bad_input(result, "passphrase")
    _nothing_issued(lot)


def test_print_unknown_batch_exits_2(lot: RunCli, tmp_path: Path) -> None:
    bad_input(
        lot("stamps", "print", "42", "--csv", str(tmp_path / "x.csv")), "unknown stamp batch 42"
    )
    bad_input(lot("stamps", "print", "1"), "say what to print")


@pytest.mark.parametrize(
    ("stop", "message"),
    [
        (("facility", "suspend", "HD-VAI-01", "--reason", "Vi phạm"), "is suspended"),
        (("recall", LOT, "--reason", "Dư lượng vượt ngưỡng"), "is recalled"),
    ],
    ids=["suspended-facility", "recalled-lot"],
)
def test_print_is_refused_after_a_suspension_or_a_recall(
    lot: RunCli, tmp_path: Path, stop: tuple[str, ...], message: str
) -> None:
    batch = ok_json(lot("stamps", "issue", "--lot", LOT, "--count", "2", "--json"))
    assert lot(*stop).exit_code == 0
    target = tmp_path / "again.csv"
    bad_input(lot("stamps", "print", str(batch["id"]), "--csv", str(target)), message)
    assert not target.exists()
