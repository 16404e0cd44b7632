"""``agritrace ledger verify --rules``: exit 0 when every business rule holds, exit 1 naming
the first entry that breaks one (text and ``--json``), on both databases."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from agritrace.cli import cli
from agritrace.db import make_engine, make_sessionmaker
from agritrace.ledger import store
from agritrace.ledger.store import NewEntry
from agritrace.trace import issuance
from tests.cli.conftest import RunCli, ok_json
from tests.trace.chain import NOW, three_stages

PREFIX = "HTTPS://TRACE.EXAMPLE.VN/S/"


def _chain(url: str) -> None:
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        three_stages(session)
        issuance.issue_batch(
            session, lot_ref="HN-PACK-02/D1", count=800, key_id=0, prefix=PREFIX, now=NOW
        )
    engine.dispose()


def _append(url: str, body: dict[str, object]) -> int:
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        [appended] = store.append(session, [NewEntry(body=body)])
        session.commit()
    engine.dispose()
    return appended.index


def test_verify_rules_passes_a_ledger_the_services_wrote(run: RunCli, fresh_db_url: str) -> None:
    assert run("init").exit_code == 0
    _chain(fresh_db_url)
    report = ok_json(run("ledger", "verify", "--rules", "--json"))
    assert report["intact"] is True
    assert report["rules_hold"] is True
    assert "business rules hold" in run("ledger", "verify", "--rules").stdout
    assert "rules_hold" not in ok_json(run("ledger", "verify", "--json"))


def test_verify_rules_names_the_first_entry_breaking_a_rule(run: RunCli, fresh_db_url: str) -> None:
    assert run("init").exit_code == 0
    _chain(fresh_db_url)
    over = {"type": "stamp-batch", "lot": "HN-PACK-02/D1", "facility": "HN-PACK-02", "count": 1}
    index = _append(fresh_db_url, over)
    assert ok_json(run("ledger", "verify", "--json"))["intact"] is True  # the bytes are fine
    result = run("ledger", "verify", "--rules", "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["rules_hold"] is False
    assert (report["index"], report["rule"], report["subject"]) == (
        index,
        "stamps-within-units",
        "HN-PACK-02/D1",
    )
    human = run("ledger", "verify", "--rules")
    assert human.exit_code == 1
    assert f"entry #{index} breaks rule stamps-within-units" in human.stderr
    assert "Traceback" not in human.output


def test_the_demo_ledger_keeps_every_rule(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    runner = CliRunner()
    assert (
        runner.invoke(cli, ["demo", "--no-serve", "--folder", str(folder)], env={}).exit_code == 0
    )
    env = {"AGRITRACE_INSTANCE": str(folder), "AGRITRACE_DEMO": "1"}
    result = runner.invoke(cli, ["ledger", "verify", "--rules", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rules_hold"] is True
