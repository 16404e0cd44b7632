"""``agritrace init``: create the instance folder, the schema and the key ring."""

from __future__ import annotations

import click

from agritrace.cli._common import CliContext, emit, json_option, pass_ctx
from agritrace.keys import KeyPurpose, KeyRing, read_public_keys
from agritrace.migrations import current_revision, head_revision, upgrade
from agritrace.privileges import apply_grants
from agritrace.trace import recalls


def _grant_application_role(ctx: CliContext) -> str | None:
    """With a separate owner URL, give the application's role its rights on the (possibly
    new) tables, as ``agritrace db grant --execute`` does; return the role granted to."""
    owner, app = ctx.owner_engine.url, ctx.engine.url
    if ctx.owner_engine is ctx.engine or app.username in (None, owner.username):
        return None
    apply_grants(ctx.owner_engine, app.username)
    return app.username


@click.command("init")
@json_option
@pass_ctx
def init_command(ctx: CliContext, as_json: bool) -> None:
    """Create (or upgrade) the database schema and the signing keys. Safe to run again.

    Migrations run as AGRITRACE_OWNER_DATABASE_URL when it is set, which then also grants
    the application role (the user of AGRITRACE_DATABASE_URL) its rights, as 'agritrace db
    grant' does."""
    settings = ctx.settings
    passphrase = settings.require_key_passphrase()
    settings.instance.mkdir(parents=True, exist_ok=True)
    created_keys = not KeyRing.exists(settings.keys_dir)
    if created_keys:
        KeyRing.create(settings.keys_dir, passphrase, kdf=settings.key_kdf)
    else:
        # A wrong passphrase fails here, early; a ring sealed the old way is re-sealed.
        KeyRing.open(settings.keys_dir, passphrase, kdf=settings.key_kdf)
    before = current_revision(ctx.owner_engine)
    upgrade(ctx.owner_engine)
    after = current_revision(ctx.owner_engine)
    granted = _grant_application_role(ctx)
    with ctx.write() as session:
        if recalls.latest_revocations(session) is None:
            signer = ctx.ring().active_signer(KeyPurpose.STAMP)
            recalls.sign_revocation_list(session, signer=signer)
    record = {
        "instance": str(settings.instance),
        "database": ctx.engine.url.render_as_string(hide_password=True),
        "schema_revision": after,
        "schema_changed": before != after,
        "keys_created": created_keys,
        "granted_role": granted,
        "keys": [info.kid for info in read_public_keys(settings.keys_dir)],
    }
    if before == head_revision():
        message = f"agritrace is already initialised in {settings.instance}"
    else:
        message = f"initialised agritrace in {settings.instance} (schema {after})"
    emit(record, as_json=as_json, message=message)


def register(group: click.Group) -> None:
    group.add_command(init_command)
