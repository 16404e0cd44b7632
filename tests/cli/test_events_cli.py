"""The supply chain on the command line: events, provenance with proofs, recall, exports and
import into a second instance, and one clear line with nothing written on bad input."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from agritrace.ledger import merkle
from agritrace.ledger.checkpoint import Checkpoint
from tests.cli.conftest import RunCli, bad_input, ok_json
from tests.support import fresh_database

FARM, PACKER, SHOP = "HD-VAI-01", "HN-PACK-02", "HN-SHOP-03"


def _ok(run: RunCli, *args: str) -> object:
    return ok_json(run(*args, "--json"))


@pytest.fixture
def chain(run: RunCli) -> RunCli:
    """The three-stage chain recorded through the CLI."""
    assert run("init").exit_code == 0
    for code, name in [(FARM, "HTX Vải thiều"), (PACKER, "Công ty Sấy"), (SHOP, "Cửa hàng Sạch")]:
        _ok(
            run,
            "facility",
            "add",
            "--code",
            code,
            "--name",
            name,
            "--province",
            "Hà Nội",
            "--address",
            "x",
        )
        _ok(run, "facility", "certify", code, "--scheme", "vietgap", "--number", f"VG-{code}", "--issuer", "NAFIQAD",
            "--valid-from", "2026-01-01", "--valid-to", "2030-12-31", "--scope", "vải")  # fmt: skip
    _ok(
        run,
        "product",
        "add",
        "--code",
        "VAI",
        "--name",
        "Vải tươi",
        "--category",
        "fruit",
        "--unit",
        "box",
    )
    _ok(
        run,
        "product",
        "add",
        "--code",
        "VAI-SAY",
        "--name",
        "Vải sấy",
        "--category",
        "fruit",
        "--unit",
        "bag",
    )
    _ok(run, "lot", "create", "--facility", FARM, "--product", "VAI", "--code", "L1", "--units", "400",
        "--quantity", "2000", "--quantity-unit", "kg", "--harvest-date", "2026-06-10", "--origin-area", "Thanh Hà")  # fmt: skip
    steps = [
        ("--step", "harvest", "--lot", f"{FARM}/L1", "--facility", FARM, "--time", "2026-06-10T06:00", "--certified"),
        ("--step", "cooling", "--lot", f"{FARM}/L1", "--facility", FARM, "--time", "2026-06-10T09:00", "--temperature", "4.5"),
        ("--step", "shipping", "--lot", f"{FARM}/L1", "--facility", FARM, "--time", "2026-06-11T05:00", "--to", PACKER),
        ("--step", "receiving", "--lot", f"{FARM}/L1", "--facility", PACKER, "--time", "2026-06-11T10:00"),
    ]  # fmt: skip
    for step in steps:
        _ok(run, "event", "record", *step)
    _ok(run, "lot", "create", "--facility", PACKER, "--product", "VAI-SAY", "--code", "D1", "--units", "800",
        "--quantity", "400", "--quantity-unit", "kg", "--harvest-date", "2026-06-12", "--origin-area", "Xưởng sấy")  # fmt: skip
    _ok(run, "event", "record", "--step", "processing", "--facility", PACKER, "--time", "2026-06-12T09:00",
        "--input", f"{FARM}/L1=2000kg", "--output", f"{PACKER}/D1=400kg")  # fmt: skip
    _ok(run, "event", "record", "--step", "shipping", "--lot", f"{PACKER}/D1", "--facility", PACKER,
        "--time", "2026-06-14T08:00", "--to", SHOP)  # fmt: skip
    _ok(run, "event", "record", "--step", "receiving", "--lot", f"{PACKER}/D1", "--facility", SHOP,
        "--time", "2026-06-14T15:00")  # fmt: skip
    return run


def _steps(tree: dict[str, object]) -> list[tuple[str, str, str]]:
    # Registration entries carry the time each instance registered the lot, so they differ.
    out = [
        (s["step"], s["time"], s["facility"]) for s in tree["steps"] if s["step"] != "registered"
    ]  # type: ignore[index, union-attr]
    for child in tree["inputs"]:  # type: ignore[union-attr]
        out.extend(_steps(child))
    return out


def test_provenance_of_a_stamp_with_proofs_that_verify(chain: RunCli, tmp_path: Path) -> None:
    _ok(
        chain,
        "stamps",
        "issue",
        "--lot",
        f"{PACKER}/D1",
        "--count",
        "5",
        "--csv",
        str(tmp_path / "s.csv"),
    )
    url = (tmp_path / "s.csv").read_text().splitlines()[1].split(",")[1]
    document = _ok(chain, "provenance", url)
    assert isinstance(document, dict)
    tree = document["provenance"]
    assert tree["lot"] == f"{PACKER}/D1"
    assert tree["inputs"][0]["lot"] == f"{FARM}/L1"
    checkpoint = Checkpoint.from_body(document["checkpoint"].split("\n\n")[0].encode() + b"\n")
    for step in tree["steps"] + tree["inputs"][0]["steps"]:
        proof = [base64.b64decode(p) for p in step["inclusion_proof"]]
        leaf = _leaf(chain, step["ledger_index"])
        merkle.verify_inclusion(
            leaf_hash=leaf, index=step["ledger_index"], size=checkpoint.size, proof=proof,
            root=checkpoint.root_hash,
        )  # fmt: skip
    human = chain("provenance", f"{PACKER}/D1")
    assert human.exit_code == 0
    assert "made from:" in human.stdout


def _leaf(run: RunCli, index: int) -> bytes:
    record = ok_json(run("ledger", "proof", "--index", str(index), "--json"))
    return base64.b64decode(record["leaf_hash"])


def test_event_list_and_correction(chain: RunCli) -> None:
    listed = _ok(chain, "event", "list", "--lot", f"{PACKER}/D1")
    assert [e["step"] for e in listed] == ["processing", "shipping", "receiving"]  # type: ignore[index]
    last = listed[-1]["ledger_index"]  # type: ignore[index]
    _ok(chain, "event", "correct", str(last), "--facility", SHOP, "--reason", "wrong day")
    again = _ok(chain, "event", "list", "--lot", f"{PACKER}/D1")
    assert again[-1]["correction_reason"] == "wrong day"  # type: ignore[index]


def test_recall_cascades_to_the_dried_lot(chain: RunCli) -> None:
    records = _ok(chain, "recall", f"{FARM}/L1", "--reason", "pesticide residue")
    assert [r["lot"] for r in records] == [f"{FARM}/L1", f"{PACKER}/D1"]  # type: ignore[index]
    shown = _ok(chain, "lot", "show", f"{PACKER}/D1")
    assert shown["status"] == "recalled"  # type: ignore[index]
    bad_input(chain("recall", f"{FARM}/L1", "--reason", "again"), "already recalled")


def test_exports_name_their_checkpoint_and_hash(chain: RunCli, tmp_path: Path) -> None:
    for kind, args in [("epcis", ("--lot", f"{PACKER}/D1")), ("fsma", ("--lot", f"{FARM}/L1")),
                       ("bundle", ("--lot", f"{FARM}/L1"))]:  # fmt: skip
        out = tmp_path / f"{kind}.out"
        record = _ok(chain, "export", kind, *args, "-o", str(out))
        manifest = json.loads((tmp_path / f"{kind}.out.manifest.json").read_text())
        assert (
            record["sha256"] == manifest["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
        )  # type: ignore[index]
        assert manifest["checkpoint"]["note"].startswith("trace.example.vn/agritrace/ledger\n")
    assert chain("keys", "export-public", str(tmp_path / "keys.json")).exit_code == 0
    verified = _ok(
        chain,
        "ledger",
        "verify-bundle",
        str(tmp_path / "bundle.out"),
        "--key",
        str(tmp_path / "keys.json"),
    )
    assert verified["verified"] is True  # type: ignore[index]
    bad_input(chain("export", "fsma", "-o", str(tmp_path / "x.csv")), "date range")


def test_a_lot_bundle_shares_private_fields_only_with_reveal(chain: RunCli, tmp_path: Path) -> None:
    assert chain("keys", "export-public", str(tmp_path / "keys.json")).exit_code == 0
    plain, shared = tmp_path / "plain.json", tmp_path / "shared.json"
    _ok(chain, "export", "bundle", "--lot", f"{FARM}/L1", "-o", str(plain))
    _ok(chain, "export", "bundle", "--lot", f"{FARM}/L1", "-o", str(shared), "--reveal")
    assert "openings" not in json.loads(plain.read_text())
    [shipment] = [
        e["entry"] for e in json.loads(plain.read_text())["entries"] if '"shipping"' in e["entry"]
    ]
    assert "Công ty Sấy" not in shipment
    assert PACKER not in shipment
    document = json.loads(shared.read_text())
    opened = {
        (o["field"], json.dumps(o["value"], ensure_ascii=False)) for o in document["openings"]
    }
    assert ("display.to", '"Công ty Sấy"') in opened
    verify = ("ledger", "verify-bundle", str(shared), "--key", str(tmp_path / "keys.json"))
    assert _ok(chain, *verify)["openings"] == len(document["openings"])  # type: ignore[index]
    [to] = [o for o in document["openings"] if o["field"] == "display.to"]
    to["value"] = "Someone else"
    shared.write_text(json.dumps(document, ensure_ascii=False))
    result = chain(*verify)
    assert result.exit_code == 1
    assert "does not match its commitment" in result.output


def test_export_import_round_trip_between_instances(
    chain: RunCli, backend: str, tmp_path: Path
) -> None:
    out = tmp_path / "d1.jsonld"
    _ok(chain, "export", "epcis", "--lot", f"{PACKER}/D1", "-o", str(out))
    original = _ok(chain, "provenance", f"{PACKER}/D1")
    with fresh_database(backend, tmp_path) as url:
        other = {"AGRITRACE_DATABASE_URL": url, "AGRITRACE_INSTANCE": str(tmp_path / "other")}
        assert chain("init", env=other).exit_code == 0
        report = ok_json(chain("import", "epcis", str(out), "--json", env=other))
        assert report["events_recorded"] == 7
        imported = ok_json(chain("provenance", f"{PACKER}/D1", "--json", env=other))
    assert _steps(imported["provenance"]) == _steps(original["provenance"])  # type: ignore[index]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            (
                "--step",
                "packing",
                "--lot",
                f"{FARM}/L1",
                "--facility",
                FARM,
                "--time",
                "2026-06-15T08:00",
            ),
            "does not hold lot",
        ),
        (
            (
                "--step",
                "packing",
                "--lot",
                f"{PACKER}/D1",
                "--facility",
                SHOP,
                "--time",
                "2099-01-01T08:00",
            ),
            "in the future",
        ),
        (
            (
                "--step",
                "packing",
                "--lot",
                f"{PACKER}/D1",
                "--facility",
                SHOP,
                "--time",
                "yesterday",
            ),
            "not a date and time",
        ),
        (
            (
                "--step",
                "shipping",
                "--lot",
                f"{PACKER}/D1",
                "--facility",
                SHOP,
                "--time",
                "2026-06-15T08:00",
            ),
            "needs a destination",
        ),
        (
            (
                "--step",
                "processing",
                "--facility",
                SHOP,
                "--time",
                "2026-06-15T08:00",
                "--input",
                "x",
            ),
            "must look like FACILITY/LOT=2000kg",
        ),
        (("--step", "packing", "--facility", SHOP, "--time", "2026-06-15T08:00"), "needs --lot"),
    ],
)
def test_bad_events_exit_2_and_append_nothing(
    chain: RunCli, args: tuple[str, ...], message: str
) -> None:
    before = ok_json(chain("ledger", "status", "--json"))["size"]
    bad_input(chain("event", "record", *args), message)
    assert ok_json(chain("ledger", "status", "--json"))["size"] == before


def test_import_of_a_bad_file_is_one_line(chain: RunCli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        '{"type": "EPCISDocument", "schemaVersion": "2.0", "epcisBody": {"eventList": [{"type": "ObjectEvent"}]}}'
    )
    bad_input(chain("import", "epcis", str(bad)), "event 1")
    bad_input(chain("import", "epcis", str(tmp_path / "missing.json")), "cannot read")
