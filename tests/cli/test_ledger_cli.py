"""``agritrace ledger`` and ``agritrace keys`` end to end, on both databases."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from sqlalchemy import text

from agritrace.db import make_engine, make_sessionmaker
from agritrace.ledger import merkle, store
from agritrace.ledger.checkpoint import Checkpoint
from tests.cli.conftest import RunCli, bad_input, ok_json
from tests.ledger.ledgerutil import allow_rewrites, entries


@pytest.fixture
def ledger_db(run: RunCli, fresh_db_url: str) -> str:
    """An initialised instance whose ledger holds 25 entries (5 about lot:7)."""
    assert run("init").exit_code == 0
    engine = make_engine(fresh_db_url)
    with make_sessionmaker(engine)() as session:
        store.append(session, entries(0, 20))
        store.append(
            session,
            [
                store.NewEntry(body={"type": "test", "lot": n}, subjects=("lot:7",))
                for n in range(5)
            ],
        )
        session.commit()
    engine.dispose()
    return fresh_db_url


def test_init_creates_the_key_ring(run: RunCli) -> None:
    record = ok_json(run("init", "--json"))
    assert record["keys_created"] is True
    assert record["keys"] == ["checkpoint-0", "stamp-0"]
    assert ok_json(run("init", "--json"))["keys_created"] is False


def test_init_with_a_wrong_passphrase_fails_cleanly(run: RunCli) -> None:
    assert run("init").exit_code == 0
    result = run("init", env={"AGRITRACE_KEY_PASSPHRASE": "another long passphrase"})
    bad_input(result, "passphrase")


def test_status_checkpoint_and_verify(ledger_db: str, run: RunCli) -> None:
    status = ok_json(run("ledger", "status", "--json"))
    assert status["size"] == 25
    assert status["latest_checkpoint"]["size"] == 0  # init signs the empty tree
    signed = ok_json(run("ledger", "checkpoint", "--json"))
    assert signed["size"] == 25
    assert signed["note"].startswith("trace.example.vn/agritrace/ledger\n25\n")
    report = ok_json(run("ledger", "verify", "--json"))
    assert report["intact"] is True
    assert report["checkpoints_verified"] == 2  # the empty tree at init, then size 25


def test_verify_reports_the_first_bad_index_with_exit_1(ledger_db: str, run: RunCli) -> None:
    engine = make_engine(ledger_db)
    with make_sessionmaker(engine)() as session:
        allow_rewrites(session)
        session.execute(text("UPDATE ledger_entry SET content = :c WHERE idx = 13"), {"c": b"{}"})
        session.commit()
    engine.dispose()
    result = run("ledger", "verify", "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["intact"] is False
    assert report["index"] == 13
    human = run("ledger", "verify")
    assert human.exit_code == 1
    assert "entry #13" in human.stderr


def test_proof_verifies_against_its_checkpoint(ledger_db: str, run: RunCli) -> None:
    record = ok_json(run("ledger", "proof", "--index", "7", "--json"))
    checkpoint = Checkpoint.from_body(record["checkpoint"].split("\n\n")[0].encode() + b"\n")
    merkle.verify_inclusion(
        leaf_hash=base64.b64decode(record["leaf_hash"]),
        index=7,
        size=record["tree_size"],
        proof=[base64.b64decode(p) for p in record["inclusion_proof"]],
        root=checkpoint.root_hash,
    )
    bad_input(run("ledger", "proof", "--index", "99"), "no ledger entry #99")


def test_bundle_verifies_offline_with_the_published_keys(
    ledger_db: str, run: RunCli, tmp_path: Path
) -> None:
    bundle_file = tmp_path / "lot7.json"
    keys_file = tmp_path / "keys.json"
    made = ok_json(run("ledger", "bundle", "--subject", "lot:7", "-o", str(bundle_file), "--json"))
    assert made["entries"] == 5
    assert run("keys", "export-public", str(keys_file)).exit_code == 0
    checked = ok_json(
        run("ledger", "verify-bundle", str(bundle_file), "--key", str(keys_file), "--json")
    )
    assert checked["verified"] is True
    assert checked["indices"] == [20, 21, 22, 23, 24]


def test_tampered_bundle_fails_with_exit_1(ledger_db: str, run: RunCli, tmp_path: Path) -> None:
    bundle_file = tmp_path / "b.json"
    keys_file = tmp_path / "keys.json"
    assert run("ledger", "bundle", "--index", "3", "-o", str(bundle_file)).exit_code == 0
    assert run("keys", "export-public", str(keys_file)).exit_code == 0
    document = json.loads(bundle_file.read_text())
    document["entries"][0]["entry"] = document["entries"][0]["entry"].replace('"n":3', '"n":4')
    bundle_file.write_text(json.dumps(document))
    result = run("ledger", "verify-bundle", str(bundle_file), "--key", str(keys_file))
    assert result.exit_code == 1
    assert "does NOT verify" in result.stderr


def test_bundle_signed_by_another_key_fails(ledger_db: str, run: RunCli, tmp_path: Path) -> None:
    bundle_file = tmp_path / "b.json"
    other_keys = tmp_path / "other.json"
    assert run("ledger", "bundle", "--index", "0", "-o", str(bundle_file)).exit_code == 0
    other_instance = {"AGRITRACE_INSTANCE": str(tmp_path / "other")}
    assert run("init", env=other_instance).exit_code == 0
    assert run("keys", "export-public", str(other_keys), env=other_instance).exit_code == 0
    result = run("ledger", "verify-bundle", str(bundle_file), "--key", str(other_keys))
    assert result.exit_code == 1


def test_verify_bundle_needs_readable_files(run: RunCli, tmp_path: Path) -> None:
    bad_input(
        run("ledger", "verify-bundle", str(tmp_path / "none.json"), "--key", "k"), "cannot read"
    )


def test_export_writes_every_entry(ledger_db: str, run: RunCli, tmp_path: Path) -> None:
    out = tmp_path / "ledger.jsonl"
    assert ok_json(run("ledger", "export", str(out), "--json"))["entries"] == 25
    header, *lines = out.read_text(encoding="utf-8").splitlines()
    assert json.loads(header)["size"] == 25
    assert [json.loads(line)["index"] for line in lines] == list(range(25))
    bad_input(run("ledger", "export", str(tmp_path / "no" / "x.jsonl")), "does not exist")


def test_keys_rotate_keeps_old_checkpoints_verifying(ledger_db: str, run: RunCli) -> None:
    assert run("ledger", "checkpoint").exit_code == 0
    rotated = ok_json(run("keys", "rotate", "--purpose", "checkpoint", "--json"))
    assert rotated["kid"] == "checkpoint-1"
    listed = ok_json(run("keys", "list", "--json"))
    assert {(k["kid"], k["status"]) for k in listed} >= {
        ("checkpoint-0", "retired"),
        ("checkpoint-1", "active"),
    }
    assert ok_json(run("ledger", "verify", "--json"))["intact"] is True


def test_signing_with_a_wrong_passphrase_is_one_line(ledger_db: str, run: RunCli) -> None:
    result = run("ledger", "checkpoint", env={"AGRITRACE_KEY_PASSPHRASE": "not the passphrase"})
    bad_input(result, "passphrase")
