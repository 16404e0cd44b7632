"""``agritrace ledger status|verify|checkpoint|proof|bundle|verify-bundle|export``."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import click

from agritrace.cli._common import (
    INDEX,
    CliContext,
    emit,
    json_option,
    output_path,
    pass_ctx,
    progress,
    write_atomic,
)
from agritrace.db import begin_snapshot
from agritrace.errors import InvalidInputError, NotFoundError
from agritrace.keys import KeyPurpose, public_keys_from_jwks
from agritrace.ledger import store
from agritrace.ledger.audit import LedgerCorruptError, audit
from agritrace.ledger.bundle import BundleError, verify_bundle
from agritrace.ledger.checkpoint import Checkpoint, NoteVerifier
from agritrace.trace import journal

EXPORT_FORMAT = "agritrace-ledger-export/v1"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@click.group("ledger")
def ledger_group() -> None:
    """The verifiable ledger: status, audit, checkpoints, proofs and bundles."""


@ledger_group.command("status")
@json_option
@pass_ctx
def status(ctx: CliContext, as_json: bool) -> None:
    """Size, root and latest signed checkpoint."""
    with ctx.session() as session:
        head = store.head(session)
        latest = store.latest_checkpoint(session)
        record = {
            "size": head.size,
            "root_hash": _b64(head.root_hash),
            "chain_hash": head.chain_hash.hex(),
            "origin": ctx.settings.origin,
            "latest_checkpoint": None
            if latest is None
            else {"size": latest.size, "signed_at": latest.created_at.isoformat()},
        }
    if as_json:
        emit(record, as_json=True)
        return
    click.echo(f"origin      {record['origin']}")
    click.echo(f"entries     {head.size}")
    click.echo(f"root        {record['root_hash']}")
    click.echo(f"chain       {record['chain_hash']}")
    if latest is None:
        click.echo("checkpoint  none signed yet (agritrace ledger checkpoint)")
    else:
        click.echo(f"checkpoint  size {latest.size}, signed {latest.created_at:%Y-%m-%d %H:%M} UTC")


@ledger_group.command("verify")
@json_option
@pass_ctx
def verify(ctx: CliContext, as_json: bool) -> None:
    """Audit everything: chain, tree, nodes, checkpoints. Exit 0 intact, 1 if not."""
    verifiers = journal.verifiers(ctx.settings.origin, ctx.public_keys())
    with ctx.session() as session:
        begin_snapshot(session)  # the audit and its progress total read the same state
        total = store.head(session).size
        try:
            with progress(total, "auditing") as advance_to:
                report = audit(session, verifiers=verifiers, progress=advance_to)
        except LedgerCorruptError as exc:
            facts = exc.facts
            if as_json:
                emit({"intact": False, "message": str(exc), **facts}, as_json=True)
            else:
                click.echo(f"ledger NOT intact: {exc}", err=True)
            raise click.exceptions.Exit(1) from exc
    result = {
        "intact": True,
        "size": report.size,
        "root_hash": _b64(report.root_hash),
        "checkpoints_verified": report.checkpoints,
        "latest_checkpoint_size": report.latest_checkpoint_size,
    }
    emit(
        result,
        as_json=as_json,
        message=f"ledger intact: {report.size} entries, root {result['root_hash']}, "
        f"{report.checkpoints} checkpoints verified",
    )


@ledger_group.command("checkpoint")
@json_option
@pass_ctx
def checkpoint(ctx: CliContext, as_json: bool) -> None:
    """Sign a checkpoint over the current ledger (reuses the latest if nothing changed)."""
    ring = ctx.ring()
    with ctx.session() as session:
        signed = journal.sign_checkpoint(session, origin=ctx.settings.origin, ring=ring)
    if as_json:
        emit(
            {"size": signed.size, "root_hash": _b64(signed.root_hash), "note": signed.note},
            as_json=True,
        )
    else:
        click.echo(signed.note, nl=False)


@ledger_group.command("proof")
@click.option("--index", "index", type=INDEX, required=True, help="Ledger index of the entry.")
@json_option
@pass_ctx
def proof(ctx: CliContext, index: int, as_json: bool) -> None:
    """Inclusion proof of one entry against a signed checkpoint."""
    with ctx.session() as session:
        latest = store.latest_checkpoint(session)
        ring = None if latest is not None and latest.size > index else ctx.ring()
        record = journal.proof_record(session, index, origin=ctx.settings.origin, ring=ring)
    data = record.to_json()
    if as_json:
        emit(data, as_json=True)
        return
    click.echo(f"entry       #{record.index}")
    click.echo(f"leaf hash   {data['leaf_hash']}")
    click.echo(f"tree size   {record.size}")
    for position, digest in enumerate(data["inclusion_proof"]):
        click.echo(f"proof[{position}]    {digest}")
    click.echo("checkpoint:")
    click.echo(record.checkpoint_note, nl=False)


@ledger_group.command("bundle")
@click.option("--index", "indices", type=INDEX, multiple=True, help="Entry index (repeatable).")
@click.option("--subject", default=None, help="Every entry about a subject, e.g. lot:12.")
@click.option("-o", "--output", required=True, help="File to write the bundle to.")
@json_option
@pass_ctx
def bundle(
    ctx: CliContext, indices: tuple[int, ...], subject: str | None, output: str, as_json: bool
) -> None:
    """Write a proof bundle that verifies offline with the ledger's public key."""
    path = output_path(output)
    with ctx.session() as session:
        wanted = list(indices)
        if subject:
            found = store.indices_for_subject(session, subject)
            if not found:
                raise NotFoundError(f"no ledger entry is about {subject!r}")
            wanted.extend(found)
        if not wanted:
            raise InvalidInputError("name entries with --index or --subject")
        latest = store.latest_checkpoint(session)
        ring = None if latest is not None and latest.size > max(wanted) else ctx.ring()
        document = journal.bundle(session, wanted, origin=ctx.settings.origin, ring=ring)
    write_atomic(path, lambda out: json.dump(document, out, ensure_ascii=False, indent=1))
    summary = {"file": str(path), "entries": len(document["entries"])}
    emit(summary, as_json=as_json, message=f"wrote {len(document['entries'])} entries to {path}")


def _load_verifiers(key_file: Path, note_origin: str) -> list[NoteVerifier]:
    try:
        text = key_file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read key file {key_file}: {exc}") from exc
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise InvalidInputError(f"key file {key_file} is not valid JSON") from exc
        keys = public_keys_from_jwks(document, KeyPurpose.CHECKPOINT)
        return [NoteVerifier.from_public_key(note_origin, key) for key in keys.values()]
    return [NoteVerifier.from_text(line.strip()) for line in text.splitlines() if line.strip()]


@ledger_group.command("verify-bundle")
@click.argument("bundle_file", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--key",
    "key_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="keys.json (JWK Set) or a C2SP verifier key line.",
)
@json_option
def verify_bundle_command(bundle_file: Path, key_file: Path, as_json: bool) -> None:
    """Verify a proof bundle offline. Exit 0 if it verifies, 1 if not."""
    try:
        raw = bundle_file.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"cannot read {bundle_file}: {exc.strerror}") from exc
    try:
        document = json.loads(raw)
        note = document["checkpoint"]
        origin = Checkpoint.from_body(note.encode("utf-8").split(b"\n\n", 1)[0] + b"\n").origin
    except (ValueError, KeyError, TypeError, AttributeError, InvalidInputError):
        origin = ""
        document = raw
    verifiers = _load_verifiers(key_file, origin or "unknown")
    try:
        verified = verify_bundle(document, verifiers=verifiers)
    except BundleError as exc:
        if as_json:
            emit({"verified": False, "message": str(exc)}, as_json=True)
        else:
            click.echo(f"bundle does NOT verify: {exc}", err=True)
        raise click.exceptions.Exit(1) from exc
    result = {
        "verified": True,
        "origin": verified.checkpoint.origin,
        "tree_size": verified.checkpoint.size,
        "indices": [index for index, _ in verified.entries],
    }
    emit(
        result,
        as_json=as_json,
        message=f"bundle verifies: {len(verified.entries)} entries proven in "
        f"{verified.checkpoint.origin} at size {verified.checkpoint.size}",
    )


@ledger_group.command("export")
@click.argument("output", metavar="FILE")
@json_option
@pass_ctx
def export(ctx: CliContext, output: str, as_json: bool) -> None:
    """Export every entry as JSON lines, with the latest checkpoint, for independent audit."""
    path = output_path(output)
    with ctx.session() as session:
        head = store.head(session)
        latest = store.latest_checkpoint(session)

        def write(out: Any) -> None:
            header = {
                "format": EXPORT_FORMAT,
                "origin": ctx.settings.origin,
                "size": head.size,
                "root_hash": _b64(head.root_hash),
                "checkpoint": latest.note if latest else None,
            }
            out.write(json.dumps(header, ensure_ascii=False) + "\n")
            rows = session.scalars(store.select_entries().execution_options(yield_per=10_000))
            with progress(head.size, "exporting") as advance_to:
                for entry in rows:
                    line = {
                        "index": entry.idx,
                        "entry": entry.content.decode("utf-8"),
                        "leaf_hash": _b64(entry.leaf_hash),
                        "chain_hash": entry.chain_hash.hex(),
                    }
                    out.write(json.dumps(line, ensure_ascii=False) + "\n")
                    if entry.idx % 10_000 == 0:
                        advance_to(entry.idx)
                advance_to(head.size)

        write_atomic(path, write)
    emit(
        {"file": str(path), "entries": head.size},
        as_json=as_json,
        message=f"exported {head.size} entries to {path}",
    )


def register(group: click.Group) -> None:
    group.add_command(ledger_group)
