"""``agritrace user add``."""

from __future__ import annotations

import click

from agritrace.cli._common import CliContext, emit, json_option, pass_ctx
from agritrace.trace import registry


@click.group("user")
def user_group() -> None:
    """People who sign in: administrators, facility operators, inspectors."""


@user_group.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(["admin", "operator", "inspector"]))
@click.option("--facility", "facility_code", default=None, help="Required for an operator.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Prompted for when omitted (preferred: it then stays out of shell history).",
)
@json_option
@pass_ctx
def add(
    ctx: CliContext,
    username: str,
    role: str,
    facility_code: str | None,
    password: str,
    as_json: bool,
) -> None:
    """Create a user who can sign in to the web."""
    with ctx.session() as session:
        user = registry.add_user(
            session, username=username, password=password, role=role, facility_code=facility_code
        )
        emit(
            registry.user_record(user),
            as_json=as_json,
            columns=("id", "username", "role", "facility"),
            message=f"created {user.role.value} {user.username}",
        )


def register(group: click.Group) -> None:
    group.add_command(user_group)
