"""Alembic migrations for the agritrace schema, and the function that applies them.

``upgrade(engine)`` brings any database (SQLite or PostgreSQL) to the newest revision; it
is what ``agritrace init`` runs. Revisions live in ``versions/`` and are written by hand
(reviewed autogenerate output), one per schema change.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from agritrace.db import sqlite_path
from agritrace.errors import StorageUnavailableError

__all__ = ["alembic_config", "check_schema", "current_revision", "head_revision", "upgrade"]

_HERE = Path(__file__).resolve().parent


def alembic_config(engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_HERE))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def check_schema(engine: Engine) -> None:
    """The one schema check of the CLI and the web: StorageUnavailableError unless the
    database exists, opens and is at the head revision of this agritrace."""
    path = sqlite_path(engine)
    if path is not None and not path.exists():
        raise StorageUnavailableError(
            f"no database at {path}: run 'agritrace init' (or set AGRITRACE_INSTANCE)"
        )
    try:
        current = current_revision(engine)
    except OperationalError as exc:
        raise StorageUnavailableError(f"cannot open the database: {exc.orig}") from exc
    if current is None:
        raise StorageUnavailableError("the database is not initialised: run 'agritrace init'")
    if current != head_revision():
        raise StorageUnavailableError(
            f"the database schema is at revision {current}, this agritrace needs "
            f"{head_revision()}: run 'agritrace init' to upgrade"
        )
