"""Issue 12: least privilege in PostgreSQL. The application role, granted by
``agritrace db grant`` (or by ``agritrace init`` with an owner URL), appends to the ledger and
reads it, but cannot rewrite a ledger row, switch off a trigger or change the schema."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from agritrace.cli import cli
from agritrace.db import make_engine, make_sessionmaker
from agritrace.ledger import store
from agritrace.migrations import upgrade
from tests.cli.conftest import bad_input, ok_json
from tests.ledger.ledgerutil import entries
from tests.support import fresh_database, require_postgres


@pytest.fixture
def owner_and_app(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """(owner URL, application URL, application role) on a fresh PostgreSQL schema; the
    throwaway login role is dropped afterwards."""
    require_postgres()
    role = f"agritrace_app_{secrets.token_hex(4)}"
    with fresh_database("postgres", tmp_path) as owner_url:
        owner = make_engine(owner_url)
        with owner.begin() as conn:
            conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        try:
            app_url = make_url(owner_url).set(username=role, password=None)
            yield owner_url, app_url.render_as_string(hide_password=False), role
        finally:
            with owner.begin() as conn:
                conn.execute(text(f'DROP OWNED BY "{role}"'))
                conn.execute(text(f'DROP ROLE "{role}"'))
            owner.dispose()


def _env(tmp_path: Path, owner_url: str, app_url: str) -> dict[str, str]:
    return {
        "AGRITRACE_INSTANCE": str(tmp_path / "instance"),
        "AGRITRACE_DATABASE_URL": app_url,
        "AGRITRACE_OWNER_DATABASE_URL": owner_url,
        "AGRITRACE_BASE_URL": "https://trace.example.vn",
        "AGRITRACE_KEY_PASSPHRASE": "test passphrase for keys",
        "AGRITRACE_UNSAFE_TEST_KDF": "1",
    }


def _refused(engine: Engine, statement: str, reason: str) -> None:
    with pytest.raises(DBAPIError, match=reason), engine.begin() as conn:
        conn.execute(text(statement))


@pytest.mark.postgres
def test_the_application_role_appends_but_cannot_rewrite_or_alter(
    owner_and_app: tuple[str, str, str], tmp_path: Path
) -> None:
    owner_url, app_url, role = owner_and_app
    result = CliRunner().invoke(cli, ["init", "--json"], env=_env(tmp_path, owner_url, app_url))
    assert ok_json(result)["granted_role"] == role
    app = make_engine(app_url)
    try:
        with make_sessionmaker(app)() as session:
            store.append(session, entries(0, 5))  # INSERTs and the head row's UPDATE
            session.commit()
            assert store.head(session).size == 5
            assert store.get_entry(session, 3).idx == 3
        _refused(app, "UPDATE ledger_entry SET content = 'x' WHERE idx = 1", "permission denied")
        _refused(app, "DELETE FROM ledger_entry WHERE idx = 4", "permission denied")
        _refused(app, "DELETE FROM ledger_checkpoint", "permission denied")
        _refused(app, "DELETE FROM ledger_head", "permission denied")
        _refused(app, "TRUNCATE ledger_node", "permission denied")
        _refused(app, "ALTER TABLE ledger_entry DISABLE TRIGGER ALL", "must be owner")
        _refused(app, "DROP TRIGGER ledger_entry_append_only ON ledger_entry", "must be owner")
        _refused(app, "ALTER TABLE ledger_entry ADD COLUMN x int", "must be owner")
        _refused(app, "DROP TABLE ledger_subject", "must be owner")
        _refused(app, "CREATE TABLE sneaky (id int)", "permission denied")
        _refused(app, "UPDATE alembic_version SET version_num = 'x'", "permission denied")
    finally:
        app.dispose()


@pytest.mark.postgres
def test_db_grant_prints_then_runs_the_statements(
    owner_and_app: tuple[str, str, str], tmp_path: Path
) -> None:
    owner_url, app_url, role = owner_and_app
    owner = make_engine(owner_url)
    upgrade(owner)
    owner.dispose()
    env = {**_env(tmp_path, owner_url, app_url), "AGRITRACE_OWNER_DATABASE_URL": ""}
    env["AGRITRACE_DATABASE_URL"] = owner_url  # an operator with the owner's URL only
    runner = CliRunner()
    printed = runner.invoke(cli, ["db", "grant", "--role", role], env=env)
    assert printed.exit_code == 0, printed.output
    assert 'REVOKE UPDATE, DELETE ON "' in printed.stdout
    assert f'TO "{role}";' in printed.stdout
    app = make_engine(app_url)
    try:
        _refused(app, "SELECT count(*) FROM ledger_entry", "permission denied|does not exist")
        ran = runner.invoke(cli, ["db", "grant", "--role", role, "--execute", "--json"], env=env)
        assert ok_json(ran)["executed"] is True
        with app.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM ledger_entry")).scalar_one() == 0
        _refused(app, "DELETE FROM ledger_entry", "permission denied")
    finally:
        app.dispose()


@pytest.mark.postgres
def test_db_grant_refuses_a_bad_or_unknown_role(
    owner_and_app: tuple[str, str, str], tmp_path: Path
) -> None:
    owner_url, _app_url, _role = owner_and_app
    env = {**_env(tmp_path, owner_url, owner_url), "AGRITRACE_OWNER_DATABASE_URL": ""}
    runner = CliRunner()
    for bad in ('x"; DROP TABLE ledger_entry; --', "Upper", ""):
        bad_input(runner.invoke(cli, ["db", "grant", "--role", bad], env=env), "--role")
    unknown = runner.invoke(cli, ["db", "grant", "--role", "no_such_role_x", "--execute"], env=env)
    bad_input(unknown, "cannot grant")


def test_db_grant_on_sqlite_says_it_needs_postgresql(tmp_path: Path) -> None:
    sqlite_url = f"sqlite:///{tmp_path / 'agritrace.db'}"
    env = _env(tmp_path, "", sqlite_url)
    result = CliRunner().invoke(cli, ["db", "grant", "--role", "agritrace_app"], env=env)
    bad_input(result, "needs PostgreSQL")
