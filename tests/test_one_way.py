"""One way to do each thing: one schema check, one checkpoint-signing path, no assert checks."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy import text

from agritrace.db import make_engine
from agritrace.errors import StorageUnavailableError
from agritrace.migrations import check_schema, upgrade

PACKAGE = Path(__file__).resolve().parent.parent / "agritrace"


def _calls(attribute: str) -> list[str]:
    """Files of the package that call ``<something>.<attribute>(...)``."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == attribute
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "store"
            ):
                found.append(path.relative_to(PACKAGE).as_posix())
    return found


def test_only_the_journal_signs_checkpoints_with_the_ledger_primitive() -> None:
    # Every checkpoint agritrace signs goes through journal.sign_checkpoint (which also
    # publishes it); the demo seed used to sign its own with a bare key.
    assert _calls("sign_checkpoint") == ["trace/journal.py"]


def test_the_package_has_no_assert_statements() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE).as_posix()}:{node.lineno}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Assert)
    ]
    assert offenders == []


def test_schema_check_refuses_a_missing_sqlite_file(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'none.db'}")
    with pytest.raises(StorageUnavailableError, match="no database at"):
        check_schema(engine)


def test_schema_check_refuses_an_empty_then_an_old_database_and_passes_at_head(
    tmp_path: Path,
) -> None:
    path = tmp_path / "db.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE unrelated (x INTEGER)"))
    with pytest.raises(StorageUnavailableError, match="not initialised"):
        check_schema(engine)
    upgrade(engine, "0001")
    with pytest.raises(StorageUnavailableError, match="agritrace init' to upgrade"):
        check_schema(engine)
    upgrade(engine)
    check_schema(engine)
    engine.dispose()
