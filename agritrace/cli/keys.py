"""``agritrace keys list|rotate|export-public``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from agritrace.cli._common import CliContext, emit, json_option, pass_ctx
from agritrace.errors import InvalidInputError
from agritrace.keys import KeyInfo, KeyPurpose, read_public_keys

COLUMNS = ("kid", "purpose", "id", "status", "created")


def _record(info: KeyInfo) -> dict[str, object]:
    return {
        "kid": info.kid,
        "purpose": str(info.purpose),
        "id": info.key_id,
        "status": str(info.status),
        "created": info.created.isoformat(),
        "public_key": info.jwk()["x"],
    }


@click.group("keys")
def keys_group() -> None:
    """The Ed25519 key ring: stamp-signing and checkpoint-signing keys."""


@keys_group.command("list")
@json_option
@pass_ctx
def list_(ctx: CliContext, as_json: bool) -> None:
    """List every key, active and retired (no passphrase needed)."""
    emit([_record(info) for info in ctx.public_keys()], as_json=as_json, columns=COLUMNS)


@keys_group.command("rotate")
@click.option(
    "--purpose",
    required=True,
    type=click.Choice([p.value for p in KeyPurpose]),
    help="Which key to replace.",
)
@json_option
@pass_ctx
def rotate(ctx: CliContext, purpose: str, as_json: bool) -> None:
    """Add a new active key; the old one is retired and keeps verifying."""
    info = ctx.ring().rotate(KeyPurpose(purpose))
    emit(_record(info), as_json=as_json, columns=COLUMNS, message=f"new active key {info.kid}")


@keys_group.command("export-public")
@click.argument("output", metavar="[FILE]", required=False)
@pass_ctx
def export_public(ctx: CliContext, output: str | None) -> None:
    """Write the public keys as a JWK Set (keys.json), to FILE or stdout."""
    document = {"keys": [info.jwk() for info in read_public_keys(ctx.settings.keys_dir)]}
    text = json.dumps(document, indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    path = Path(output)
    if not path.parent.absolute().is_dir():
        raise InvalidInputError(f"cannot write {output}: folder {path.parent} does not exist")
    path.write_text(text, encoding="utf-8")
    click.echo(f"wrote {len(document['keys'])} public keys to {path}")


def register(group: click.Group) -> None:
    group.add_command(keys_group)
