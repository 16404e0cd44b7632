"""Issue 12: a ledger cannot be rolled back quietly. Each attack as an operator with database
rights (and, for the fork, the key passphrase) would run it, on both databases."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import text

from agritrace.db import make_engine, make_sessionmaker
from agritrace.ledger import merkle, store
from tests.cli.conftest import RunCli, bad_input, ok_json
from tests.ledger.ledgerutil import allow_rewrites, entries, entry


def _append(url: str, new: list[store.NewEntry]) -> store.Head:
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        store.append(session, new)
        session.commit()
        now = store.head(session)
    engine.dispose()
    return now


def _roll_back(url: str, to: store.Head) -> None:
    """Attack A: delete the newest entries, their nodes, subjects and checkpoints, and set
    the head row back, so the stored ledger is a consistent smaller one."""
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        allow_rewrites(session)
        params = {"size": to.size}
        session.execute(text("DELETE FROM ledger_subject WHERE idx >= :size"), params)
        session.execute(text("DELETE FROM ledger_entry WHERE idx >= :size"), params)
        session.execute(text("DELETE FROM ledger_checkpoint WHERE size > :size"), params)
        for level, idx in session.execute(text("SELECT level, idx FROM ledger_node")).all():
            if (idx + 1) << level > to.size:
                session.execute(
                    text("DELETE FROM ledger_node WHERE level = :l AND idx = :i"),
                    {"l": level, "i": idx},
                )
        session.execute(
            text("UPDATE ledger_head SET size = :size, chain_hash = :chain, root_hash = :root"),
            {"size": to.size, "chain": to.chain_hash, "root": to.root_hash},
        )
        session.commit()
    engine.dispose()


def _wipe(url: str) -> None:
    """Attack B, first half: empty the ledger so it can be rebuilt from scratch."""
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        allow_rewrites(session)
        for table in ("ledger_subject", "ledger_entry", "ledger_node", "ledger_checkpoint"):
            session.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - fixed table names
        session.execute(
            text("UPDATE ledger_head SET size = 0, chain_hash = :chain, root_hash = :root"),
            {"chain": bytes(32), "root": merkle.EMPTY_ROOT},
        )
        session.commit()
    engine.dispose()


def _not_intact(result: Result, *words: str) -> None:
    assert result.exit_code == 1, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("ledger NOT intact: ")]
    assert len(lines) == 1, result.stderr  # one line (the rest of stderr is the progress label)
    assert "Traceback" not in result.output
    for word in words:
        assert word in lines[0]


@pytest.fixture
def grown(run: RunCli, fresh_db_url: str) -> tuple[str, store.Head]:
    """A ledger of 20 entries checkpointed, then 5 more (one a recall) checkpointed and
    verified: the verifier's state remembers the checkpoint over 25. Returns the head at 20."""
    assert run("init").exit_code == 0
    at_20 = _append(fresh_db_url, entries(0, 20))
    assert run("ledger", "checkpoint").exit_code == 0
    _append(fresh_db_url, [*entries(20, 4), entry(99, recall="lot:7")])
    assert run("ledger", "checkpoint").exit_code == 0
    assert ok_json(run("ledger", "verify", "--json"))["size"] == 25
    return fresh_db_url, at_20


def test_verify_refuses_a_quiet_rollback(grown: tuple[str, store.Head], run: RunCli) -> None:
    url, at_20 = grown
    _roll_back(url, at_20)
    _not_intact(run("ledger", "verify"), "rolled back", "20 entries", "25 entries")
    report = json.loads(run("ledger", "verify", "--json").stdout)
    assert (report["intact"], report["problem"], report["trusted_size"]) == (False, "smaller", 25)


def test_a_failed_verify_does_not_move_the_state(
    grown: tuple[str, store.Head], run: RunCli, tmp_path: Path
) -> None:
    url, at_20 = grown
    state = tmp_path / "instance" / "verified-checkpoint"
    before = state.read_bytes()
    _roll_back(url, at_20)
    assert run("ledger", "verify").exit_code == 1
    assert run("ledger", "verify").exit_code == 1
    assert state.read_bytes() == before


def test_a_mirrored_checkpoint_exposes_the_rollback_to_a_new_verifier(
    grown: tuple[str, store.Head], run: RunCli, tmp_path: Path
) -> None:
    url, at_20 = grown
    published = tmp_path / "instance" / "checkpoints"
    assert sorted(p.name for p in published.iterdir() if not p.name.startswith(".")) == [
        "0",
        "20",
        "25",
        "latest",
    ]
    copy = tmp_path / "mirror"
    shutil.copytree(published, copy)
    _roll_back(url, at_20)
    fresh = str(tmp_path / "new-verifier-state")
    assert run("ledger", "verify", "--state", fresh).exit_code == 0  # it saw nothing before
    _not_intact(run("ledger", "verify", "--trusted", str(copy)), "rolled back")
    _not_intact(run("ledger", "verify", "--trusted", str(copy / "25"), "--state", fresh))


def test_verify_refuses_a_rebuilt_ledger_signed_with_the_real_key(
    grown: tuple[str, store.Head], run: RunCli
) -> None:
    url, _ = grown
    _wipe(url)
    _append(url, entries(0, 24))  # the same history without the recall ...
    _append(url, entries(100, 3))  # ... and more, so the tree is even larger
    assert run("ledger", "checkpoint").exit_code == 0  # re-signed with the passphrase
    _not_intact(run("ledger", "verify"), "forked", "27 entries", "25 entries")


def test_verify_refuses_a_rebuilt_ledger_of_the_same_size(
    grown: tuple[str, store.Head], run: RunCli
) -> None:
    url, _ = grown
    _wipe(url)
    _append(url, [*entries(0, 24), entry(98)])
    assert run("ledger", "checkpoint").exit_code == 0
    _not_intact(run("ledger", "verify"), "forked")


def test_honest_growth_advances_the_state(grown: tuple[str, store.Head], run: RunCli) -> None:
    url, _ = grown
    _append(url, entries(200, 7))
    assert run("ledger", "checkpoint").exit_code == 0
    report = ok_json(run("ledger", "verify", "--json"))
    assert (report["size"], report["trusted_sizes"]) == (32, [25])
    assert ok_json(run("ledger", "verify", "--json"))["trusted_sizes"] == [32]


def test_a_trusted_file_that_is_not_a_checkpoint_is_bad_input(
    grown: tuple[str, store.Head], run: RunCli, tmp_path: Path
) -> None:
    junk = tmp_path / "junk"
    junk.write_text("not a checkpoint\n")
    bad_input(run("ledger", "verify", "--trusted", str(junk)), "trusted checkpoint")
    bad_input(run("ledger", "verify", "--trusted", str(tmp_path / "none")), "cannot read")


def _bundle(run: RunCli, out: Path, *extra: str) -> Path:
    assert run("ledger", "bundle", "--index", "3", "-o", str(out), *extra).exit_code == 0
    return out


def test_bundles_carry_a_consistency_proof_to_what_a_verifier_saw(
    grown: tuple[str, store.Head], run: RunCli, tmp_path: Path
) -> None:
    url, _ = grown
    keys, state = tmp_path / "keys.json", tmp_path / "bundle-state"
    assert run("keys", "export-public", str(keys)).exit_code == 0
    old = _bundle(run, tmp_path / "old.json")
    first = run("ledger", "verify-bundle", str(old), "--key", str(keys), "--state", str(state))
    assert first.exit_code == 0
    assert state.exists()
    _append(url, entries(200, 7))
    assert run("ledger", "checkpoint").exit_code == 0
    plain = _bundle(run, tmp_path / "plain.json")
    result = run("ledger", "verify-bundle", str(plain), "--key", str(keys), "--state", str(state))
    assert result.exit_code == 1
    assert "--consistent-with 25" in result.stderr
    newer = _bundle(run, tmp_path / "newer.json", "--consistent-with", "25")
    checked = run("ledger", "verify-bundle", str(newer), "--key", str(keys), "--state", str(state))
    assert checked.exit_code == 0, checked.output
    stale = run("ledger", "verify-bundle", str(old), "--key", str(keys), "--state", str(state))
    assert stale.exit_code == 1
    assert "older than the trusted" in stale.stderr
    from_file = _bundle(
        run, tmp_path / "f.json", "--consistent-with", str(tmp_path / "instance/checkpoints/25")
    )
    assert json.loads(from_file.read_text())["consistency"]["size"] == 25


def test_a_bundle_from_a_rebuilt_ledger_fails_against_a_remembered_checkpoint(
    grown: tuple[str, store.Head], run: RunCli, tmp_path: Path
) -> None:
    url, _ = grown
    keys = tmp_path / "keys.json"
    assert run("keys", "export-public", str(keys)).exit_code == 0
    trusted = tmp_path / "instance" / "checkpoints" / "25"
    before = _bundle(run, tmp_path / "before.json")
    shutil.copy(trusted, tmp_path / "seen")
    _wipe(url)
    _append(url, [*entries(0, 24), *entries(100, 3)])
    forged = _bundle(run, tmp_path / "forged.json", "--consistent-with", "25")
    args = ("--key", str(keys), "--trusted", str(tmp_path / "seen"))
    result = run("ledger", "verify-bundle", str(forged), *args)
    assert result.exit_code == 1
    assert "forked" in result.stderr
    # What was exported before the attack still proves the old history.
    assert run("ledger", "verify-bundle", str(before), *args).exit_code == 0
