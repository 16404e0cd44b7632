"""``agritrace db grant``: the PostgreSQL rights of the application role (ADR 0012)."""

from __future__ import annotations

import click

from agritrace.cli._common import CliContext, emit, json_option, pass_ctx
from agritrace.errors import InvalidInputError
from agritrace.privileges import apply_grants, current_schema, grant_statements


@click.group("db")
def db_group() -> None:
    """The database: privileges of the application role."""


@db_group.command("grant")
@click.option("--role", required=True, help="The application's PostgreSQL role (it owns nothing).")
@click.option(
    "--execute",
    is_flag=True,
    help="Run the statements as the owner (AGRITRACE_OWNER_DATABASE_URL, else "
    "AGRITRACE_DATABASE_URL) instead of printing them.",
)
@json_option
@pass_ctx
def grant(ctx: CliContext, role: str, execute: bool, as_json: bool) -> None:
    """Print (or run) the GRANT/REVOKE statements for the application role: read and write
    the domain's tables, only append to the ledger, no DDL. Run again after every upgrade."""
    engine = ctx.owner_engine
    if engine.dialect.name != "postgresql":
        raise InvalidInputError(
            "agritrace db grant needs PostgreSQL: SQLite has no roles (see ADR 0012)"
        )
    if execute:
        statements = apply_grants(engine, role)
    else:
        statements = grant_statements(role, current_schema(engine))
    if as_json:
        emit({"role": role, "executed": execute, "statements": statements}, as_json=True)
        return
    for statement in statements:
        click.echo(f"{statement};")
    if execute:
        click.echo(f"-- granted to {role}", err=True)


def register(group: click.Group) -> None:
    group.add_command(db_group)
