"""The registry commands end to end: output, --json, and one clear line on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import RunCli, bad_input, ok_json


@pytest.fixture
def seeded(run: RunCli) -> RunCli:
    assert run("init").exit_code == 0
    ok_json(
        run(
            "facility",
            "add",
            "--code",
            "hy-vai-01",
            "--name",
            "HTX Vải thiều Thanh Hà",
            "--province",
            "Hải Dương",
            "--address",
            "Thanh Hà",
            "--json",
        )
    )
    ok_json(
        run(
            "facility",
            "certify",
            "HY-VAI-01",
            "--scheme",
            "vietgap",
            "--number",
            "VG-1",
            "--issuer",
            "NAFIQAD",
            "--valid-from",
            "2026-01-01",
            "--valid-to",
            "2030-12-31",
            "--scope",
            "vải thiều",
            "--json",
        )
    )
    ok_json(
        run(
            "product",
            "add",
            "--code",
            "VAI",
            "--name",
            "Vải thiều",
            "--category",
            "fruit",
            "--unit",
            "box",
            "--gtin",
            "8934567890120",
            "--json",
        )
    )
    return run


LOT = (
    "lot",
    "create",
    "--facility",
    "HY-VAI-01",
    "--product",
    "VAI",
    "--code",
    "L1",
    "--units",
    "100",
    "--quantity",
    "500",
    "--quantity-unit",
    "kg",
    "--harvest-date",
    "2026-06-01",
    "--origin-area",
    "Thanh Hà",
)


def _lot(**changes: str) -> list[str]:
    args = list(LOT)
    for option, value in changes.items():
        flag = "--" + option.replace("_", "-")
        args[args.index(flag) + 1] = value
    return args


def test_init_is_idempotent(run: RunCli) -> None:
    first = ok_json(run("init", "--json"))
    second = ok_json(run("init", "--json"))
    assert first["schema_changed"] is False  # the fixture database is already migrated
    assert second["schema_revision"] == first["schema_revision"]


def test_commands_before_init_say_so(run: RunCli, tmp_path: Path) -> None:
    missing = f"sqlite:///{tmp_path / 'never.db'}"
    bad_input(run("facility", "list", env={"AGRITRACE_DATABASE_URL": missing}), "agritrace init")
    assert not (tmp_path / "never.db").exists()


def test_creating_commands_print_id_and_code(seeded: RunCli) -> None:
    lot = ok_json(seeded(*LOT, "--json"))
    assert lot["id"] > 0
    assert lot["code"] == "L1"
    assert lot["ref"] == "HY-VAI-01/L1"
    shown = ok_json(seeded("lot", "show", "hy-vai-01/l1", "--json"))
    assert shown == lot
    listed = ok_json(seeded("lot", "list", "--json"))
    assert [item["ref"] for item in listed] == ["HY-VAI-01/L1"]
    facilities = ok_json(seeded("facility", "list", "--json"))
    assert facilities[0]["code"] == "HY-VAI-01"
    products = ok_json(seeded("product", "list", "--json"))
    assert products[0]["gtin"] == "08934567890120"


def test_human_listing_is_a_table(seeded: RunCli) -> None:
    result = seeded("facility", "list")
    assert result.exit_code == 0
    header, rule, row = result.stdout.splitlines()
    assert header.split() == ["id", "code", "name", "province", "gln", "status"]
    assert set(rule.replace(" ", "")) == {"-"}
    assert "HY-VAI-01" in row


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"facility": "NOPE"}, "unknown facility 'NOPE'"),
        ({"units": "-3"}, "units must be greater than zero"),
        ({"harvest_date": "2026-06-31"}, "is not a date"),
        ({"harvest_date": "2025-06-01"}, "not valid until 2026-01-01"),
    ],
)
def test_bad_lot_input_exits_2_and_writes_nothing(
    seeded: RunCli, changes: dict[str, str], message: str
) -> None:
    bad_input(seeded(*_lot(**changes)), message)
    assert ok_json(seeded("lot", "list", "--json")) == []


def test_duplicate_lot_code_exits_2(seeded: RunCli) -> None:
    ok_json(seeded(*LOT, "--json"))
    bad_input(seeded(*LOT), "HY-VAI-01/L1 already exists")
    assert len(ok_json(seeded("lot", "list", "--json"))) == 1


def test_expired_certificate_exits_2(seeded: RunCli) -> None:
    result = seeded(
        "facility",
        "certify",
        "HY-VAI-01",
        "--scheme",
        "organic",
        "--number",
        "OLD-1",
        "--issuer",
        "x",
        "--valid-from",
        "2020-01-01",
        "--valid-to",
        "2021-01-01",
        "--scope",
        "x",
    )
    bad_input(result, "expired on 2021-01-01")


def test_bad_gtin_exits_2(seeded: RunCli) -> None:
    result = seeded(
        "product",
        "add",
        "--code",
        "X",
        "--name",
        "X",
        "--category",
        "fruit",
        "--unit",
        "box",
        "--gtin",
        "8934567890123",
    )
    bad_input(result, "check digit should be 0")
    assert len(ok_json(seeded("product", "list", "--json"))) == 1


def test_missing_option_is_one_line(seeded: RunCli) -> None:
    bad_input(seeded("lot", "create", "--facility", "HY-VAI-01"), "Missing option")


def test_suspended_facility_gets_no_lot(seeded: RunCli) -> None:
    suspended = ok_json(seeded("facility", "suspend", "HY-VAI-01", "--reason", "audit", "--json"))
    assert suspended["status"] == "suspended"
    bad_input(seeded(*LOT), "suspended")


def test_user_add_prompts_for_password(seeded: RunCli) -> None:
    password = "a long enough passphrase"
    result = seeded(
        "user",
        "add",
        "mai",
        "--role",
        "operator",
        "--facility",
        "HY-VAI-01",
        "--json",
        input=f"{password}\n{password}\n",
    )
    assert result.exit_code == 0, result.output
    assert password not in result.output
    # click writes its prompts to stdout ahead of the JSON record.
    record = json.loads(result.stdout[result.stdout.index("{") :])
    assert record["username"] == "mai"
    assert record["facility"] == "HY-VAI-01"


def test_bad_environment_is_one_line(run: RunCli) -> None:
    bad_input(run("facility", "list", env={"AGRITRACE_BASE_URL": "ftp://x"}), "AGRITRACE_BASE_URL")
    bad_input(run("facility", "list", env={"AGRITRACE_DEMO": "maybe"}), "AGRITRACE_DEMO")
