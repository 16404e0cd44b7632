"""Least privilege in PostgreSQL: what the application role may do to the schema it uses.

The schema belongs to an owner role that runs the migrations (``AGRITRACE_OWNER_DATABASE_URL``);
the web and the CLI connect as an application role (``AGRITRACE_DATABASE_URL``) that owns
nothing. Only an owner (or a superuser) may ``ALTER``, ``DROP`` or ``DISABLE TRIGGER`` on a
table, so the application role cannot switch off the ledger's append-only triggers. On top,
:func:`grant_statements` gives it:

* every table: ``SELECT, INSERT, UPDATE, DELETE`` (the domain's own rows), except
* the append-only ledger tables (:data:`APPEND_ONLY_TABLES`): ``SELECT, INSERT`` only;
* ``ledger_head``: ``SELECT, UPDATE`` (an append moves the single head row, locked
  ``FOR UPDATE``); no ``INSERT`` or ``DELETE``;
* ``alembic_version``: ``SELECT`` (to check the schema's revision);
* every sequence: ``USAGE, SELECT``; the schema: ``USAGE``, never ``CREATE``;
* no ``TRUNCATE``, ``REFERENCES`` or ``TRIGGER`` anywhere.

Statements start from ``REVOKE ALL`` so running them again (after every migration) yields
exactly this. ADR 0012 records the decision and what holds on SQLite (no roles there).
"""

from __future__ import annotations

import re

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from agritrace.errors import InvalidInputError

__all__ = ["APPEND_ONLY_TABLES", "HEAD_TABLE", "apply_grants", "current_schema", "grant_statements"]

#: Tables whose rows are never updated or deleted (their triggers refuse it too).
APPEND_ONLY_TABLES = ("ledger_entry", "ledger_node", "ledger_subject", "ledger_checkpoint")
#: The single row an append updates.
HEAD_TABLE = "ledger_head"

_ROLE = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _quote(name: str) -> str:
    """A PostgreSQL delimited identifier (always quoted, inner quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def grant_statements(role: str, schema: str) -> list[str]:
    """The GRANT and REVOKE statements that give ``role`` the application's rights on
    ``schema``. Raises InvalidInputError for a role name that is not a plain lower-case
    PostgreSQL identifier (so it needs no quoting surprises)."""
    if not _ROLE.fullmatch(role):
        raise InvalidInputError(
            f"--role must be a lower-case PostgreSQL role name (letters, digits, _), not {role!r}"
        )
    r, s = _quote(role), _quote(schema)
    ledger = ", ".join(f"{s}.{_quote(t)}" for t in APPEND_ONLY_TABLES)
    head, version = f"{s}.{_quote(HEAD_TABLE)}", f"{s}.{_quote('alembic_version')}"
    return [
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {r}",
        f"REVOKE ALL ON SCHEMA {s} FROM {r}",
        f"REVOKE CREATE ON SCHEMA {s} FROM PUBLIC",
        f"GRANT USAGE ON SCHEMA {s} TO {r}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {r}",
        f"REVOKE UPDATE, DELETE ON {ledger} FROM {r}",
        f"REVOKE INSERT, DELETE ON {head} FROM {r}",
        f"REVOKE INSERT, UPDATE, DELETE ON {version} FROM {r}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {r}",
    ]


def current_schema(engine: Engine) -> str:
    """The schema the engine's connections use (``search_path``), e.g. ``public``."""
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT current_schema()")).scalar_one())


def apply_grants(engine: Engine, role: str) -> list[str]:
    """Run :func:`grant_statements` in one transaction as ``engine``'s (owner) role; return
    them. Raises InvalidInputError on SQLite, which has no roles."""
    if engine.dialect.name != "postgresql":
        raise InvalidInputError(
            "agritrace db grant needs PostgreSQL: SQLite has no roles (see ADR 0012)"
        )
    statements = grant_statements(role, current_schema(engine))
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    except DBAPIError as exc:
        raise InvalidInputError(
            f"cannot grant to {role!r}: {str(exc.orig).strip().splitlines()[0]}"
        ) from exc
    return statements
