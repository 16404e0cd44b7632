"""``agritrace init``: create the instance folder, the schema and the key ring."""

from __future__ import annotations

import click

from agritrace.cli._common import CliContext, emit, json_option, pass_ctx
from agritrace.keys import KeyPurpose, KeyRing, read_public_keys
from agritrace.migrations import current_revision, head_revision, upgrade
from agritrace.trace import recalls


@click.command("init")
@json_option
@pass_ctx
def init_command(ctx: CliContext, as_json: bool) -> None:
    """Create (or upgrade) the database schema and the signing keys. Safe to run again."""
    settings = ctx.settings
    passphrase = settings.require_key_passphrase()
    settings.instance.mkdir(parents=True, exist_ok=True)
    created_keys = not KeyRing.exists(settings.keys_dir)
    if created_keys:
        KeyRing.create(settings.keys_dir, passphrase, kdf=settings.key_kdf)
    else:
        # A wrong passphrase fails here, early; a ring sealed the old way is re-sealed.
        KeyRing.open(settings.keys_dir, passphrase, kdf=settings.key_kdf)
    before = current_revision(ctx.engine)
    upgrade(ctx.engine)
    after = current_revision(ctx.engine)
    with ctx.session() as session:
        if recalls.latest_revocations(session) is None:
            signer = ctx.ring().active_signer(KeyPurpose.STAMP)
            recalls.sign_revocation_list(session, signer=signer)
        ctx.checkpoint(session)
    record = {
        "instance": str(settings.instance),
        "database": ctx.engine.url.render_as_string(hide_password=True),
        "schema_revision": after,
        "schema_changed": before != after,
        "keys_created": created_keys,
        "keys": [info.kid for info in read_public_keys(settings.keys_dir)],
    }
    if before == head_revision():
        message = f"agritrace is already initialised in {settings.instance}"
    else:
        message = f"initialised agritrace in {settings.instance} (schema {after})"
    emit(record, as_json=as_json, message=message)


def register(group: click.Group) -> None:
    group.add_command(init_command)
