"""``agritrace demo``: a seeded sample instance on SQLite, served on this machine."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import click
from werkzeug.serving import run_simple

from agritrace.cli._common import AsciiInt, CliContext, pass_ctx
from agritrace.config import Settings
from agritrace.db import make_engine, make_sessionmaker, utcnow
from agritrace.errors import InvalidInputError
from agritrace.keys import KeyPurpose, KeyRing
from agritrace.migrations import upgrade
from agritrace.stamps.codec import stamp_prefix
from agritrace.stamps.printing import render_pdf
from agritrace.trace import demo as sample
from agritrace.trace import issuance, journal, registry
from agritrace.web import create_app

MARKER = ".agritrace-demo"
#: Demo accounts; the password is public on purpose and exists only in demo instances.
DEMO_PASSWORD = "agritrace-demo"  # noqa: S105 - printed to the user, demo only
DEMO_USERS = (
    ("admin", "admin", None),
    ("inspector", "inspector", None),
    ("farm", "operator", sample.FARM),
    ("dryer", "operator", sample.DRYER),
)


def _fresh_folder(folder: Path) -> None:
    """Recreate the demo folder; refuse to delete anything that is not a demo folder."""
    if folder.exists():
        if not (folder / MARKER).is_file():
            raise InvalidInputError(
                f"{folder} exists and is not an agritrace demo folder: choose another --folder"
            )
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / MARKER).write_text("created by 'agritrace demo'; deleted by the next run\n")


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=AsciiInt(1, 65535), default=5000, show_default=True)
@click.option(
    "--base-url",
    default=None,
    help="Address printed in the stamps (default: http://HOST:PORT; use your LAN address "
    "to scan printed stamps with a phone).",
)
@click.option(
    "--folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo"),
    show_default=True,
    help="Instance folder for the demo; recreated on every run.",
)
@click.option("--no-serve", is_flag=True, help="Seed and print the scan URLs, then exit.")
@pass_ctx
def demo(
    ctx: CliContext, host: str, port: int, base_url: str | None, folder: Path, no_serve: bool
) -> None:
    """Seed a realistic sample (a lychee chain, stamps, a recall) and serve it on SQLite."""
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 - a name, not a bind
    base = base_url or f"http://{shown_host}:{port}"
    if urlsplit(base).scheme not in ("http", "https"):
        raise InvalidInputError(f"--base-url {base!r} must start with http:// or https://")
    folder = folder.absolute()
    _fresh_folder(folder)
    settings = dataclasses.replace(
        Settings.from_env(force_demo=True),
        instance=folder,
        database_url=f"sqlite:///{folder / 'agritrace.db'}",
        base_url=base.rstrip("/"),
    )
    ctx._settings = settings
    click.echo(f"agritrace demo: seeding {folder} ...", err=True)
    ring = KeyRing.create(
        settings.keys_dir, settings.require_key_passphrase(), kdf=settings.key_kdf
    )
    engine = make_engine(settings.database_url)
    upgrade(engine)
    prefix = stamp_prefix(settings.base_url, allow_long=True)
    with make_sessionmaker(engine)() as session:
        urls = sample.seed(
            session,
            prefix=prefix,
            stamp_signer=ring.active_signer(KeyPurpose.STAMP),
            ring=ring,
            origin=settings.origin,
            now=utcnow(),
        )
        for username, role, facility in DEMO_USERS:
            registry.add_user(
                session,
                username=username,
                password=DEMO_PASSWORD,
                role=role,
                facility_code=facility,
            )
        # Reuses the checkpoint the seed signed, and publishes it for mirrors.
        journal.sign_checkpoint(
            session, origin=settings.origin, ring=ring, publish_to=settings.checkpoints_dir
        )
        dried = issuance.list_batches(session, lot_ref=sample.DRIED)[0]
        key = ring.signer(KeyPurpose.STAMP, dried.key_id)
        render_pdf(issuance.print_items(dried, private_key=key), folder / "stamps.pdf")
    click.echo("")
    click.echo(f"Try these stamps (open in a browser, or scan {folder / 'stamps.pdf'}):")
    for label, url in [
        ("genuine (dried lychee)", urls.genuine),
        ("genuine (fresh lychee)", urls.fresh),
        ("recalled", urls.recalled),
        ("suspicious (scanned too often)", urls.suspicious),
        ("forged (signature altered)", urls.forged),
    ]:
        click.echo(f"  {label:32} {url}")
    click.echo(f"  {'public keys':32} {settings.base_url}/.well-known/agritrace/keys.json")
    click.echo(f"  {'ledger checkpoint':32} {settings.base_url}/ledger/checkpoint")
    click.echo(f"\nSign in at {settings.base_url}/sign-in with password {DEMO_PASSWORD!r} as:")
    for username, role, facility in DEMO_USERS:
        where = f" of {facility}" if facility else ""
        click.echo(f"  {username:10} {role}{where}")
    if no_serve:
        engine.dispose()
        return
    app = create_app(settings, engine=engine)
    click.echo(f"\nserving on http://{host}:{port}/ (Ctrl+C to stop)", err=True)
    run_simple(host, port, app, threaded=True)


def register(group: click.Group) -> None:
    group.add_command(demo)
