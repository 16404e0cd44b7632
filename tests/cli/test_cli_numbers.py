"""Numbers on the command line are ASCII digits within 64 bits: click's ``int`` took
Arabic-Indic and full-width digits (``٣`` was 3) and any length (which the database could
not store). Each bad number is one line and exit 2, nothing written."""

from __future__ import annotations

import pytest

from tests.cli.conftest import RunCli, bad_input

BAD = ["٣", "３", "²", "1_0", "9" * 30, str(2**63), "1e3"]


@pytest.mark.parametrize("number", BAD)
def test_bad_numbers_are_refused_with_one_line(run: RunCli, number: str) -> None:
    assert run("init").exit_code == 0
    for args in (
        ("event", "correct", number, "--facility", "HD-VAI-01", "--reason", "x"),
        ("ledger", "proof", "--index", number),
        ("stamps", "print", number, "--csv", "x.csv"),
        ("lot", "create", "--facility", "HD-VAI-01", "--product", "VAI", "--code", "L9",
         "--units", number, "--quantity", number, "--quantity-unit", "kg",
         "--harvest-date", "2026-06-10", "--origin-area", "x"),
    ):  # fmt: skip
        result = run(*args)
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output
        assert len(result.stderr.strip().splitlines()) == 1
        assert "No such" not in result.stderr  # refused for the number, not the command


def test_serve_refuses_a_port_in_other_digits(run: RunCli) -> None:
    bad_input(run("serve", "--port", "٨٠٨٠"), "ASCII digits")
