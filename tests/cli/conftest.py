"""Run the real CLI in-process against a fresh, committed database of each backend."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from agritrace.cli import cli

RunCli = Callable[..., Result]


@pytest.fixture
def cli_env(fresh_db_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "AGRITRACE_INSTANCE": str(tmp_path / "instance"),
        "AGRITRACE_DATABASE_URL": fresh_db_url,
        "AGRITRACE_BASE_URL": "https://trace.example.vn",
        "AGRITRACE_KEY_PASSPHRASE": "test passphrase for keys",
        "AGRITRACE_DEMO": "0",
        # Rings made by these tests are sealed at a trivial Argon2id cost (test-only knob).
        "AGRITRACE_UNSAFE_TEST_KDF": "1",
    }


@pytest.fixture
def run(cli_env: dict[str, str]) -> RunCli:
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(cli, list(args), input=input, env={**cli_env, **(env or {})})

    return invoke


def ok_json(result: Result) -> Any:
    assert result.exit_code == 0, result.stderr or result.output
    return json.loads(result.stdout)


def bad_input(result: Result, message: str) -> None:
    """Exit 2, exactly one line on stderr containing ``message``, no traceback."""
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("agritrace: error: ")
    assert message in lines[0]
    assert "Traceback" not in result.output
