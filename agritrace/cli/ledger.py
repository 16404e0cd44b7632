"""``agritrace ledger status|verify|checkpoint|proof|bundle|verify-bundle|export``."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

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
from agritrace.ledger import mirror, store
from agritrace.ledger.audit import AuditReport, LedgerCorruptError, audit
from agritrace.ledger.bundle import BundleError, verify_bundle
from agritrace.ledger.checkpoint import Checkpoint, NoteVerifier
from agritrace.ledger.trust import RollbackError, check_extends, needs_proof, open_trusted
from agritrace.trace import journal
from agritrace.trace.invariants import RuleBrokenError
from agritrace.trace.rule_audit import check_rules

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


_TRUSTED_HELP = (
    "A checkpoint this verifier trusts: a signed checkpoint file, or a checkpoint folder "
    "(its 'latest'), e.g. a mirror of AGRITRACE_CHECKPOINT_DIR."
)
_STATE_HELP = (
    "File that remembers the last verified checkpoint (default: <instance>/verified-checkpoint)."
)


def _trusted(
    paths: Sequence[Path], verifiers: Sequence[NoteVerifier], origin: str | None
) -> list[tuple[str, Checkpoint]]:
    """Each trusted checkpoint that exists (the state file may not yet), with its note."""
    found: list[tuple[str, Checkpoint]] = []
    for path in paths:
        note = mirror.read_note(path)
        found.append((note.decode("utf-8"), open_trusted(note, verifiers=verifiers, origin=origin)))
    return found


def _check_not_rolled_back(
    session: Any, report: AuditReport, origin: str, trusted: Sequence[tuple[str, Checkpoint]]
) -> None:
    """Raise RollbackError unless the audited tree extends every trusted checkpoint."""
    current = Checkpoint(origin=origin, size=report.size, root_hash=report.root_hash)
    for _note, checkpoint in trusted:
        proof: list[bytes] = []
        if needs_proof(checkpoint, current):
            proof = store.consistency_proof(session, checkpoint.size, current.size)
        check_extends(checkpoint, current, proof)


def _remember(session: Any, state: Path, trusted: Sequence[tuple[str, Checkpoint]]) -> None:
    """Advance the state file to the newest signed checkpoint now known to be consistent."""
    candidates = [(checkpoint.size, note) for note, checkpoint in trusted]
    latest = store.latest_checkpoint(session)
    if latest is not None:
        candidates.append((latest.size, latest.note))
    if candidates:
        mirror.remember(state, max(candidates, key=lambda item: item[0])[1])


def _not_intact(exc: LedgerCorruptError | RollbackError, *, as_json: bool) -> NoReturn:
    if as_json:
        emit({"intact": False, "message": str(exc), **exc.facts}, as_json=True)
    else:
        click.echo(f"ledger NOT intact: {exc}", err=True)
    raise click.exceptions.Exit(1) from exc


def _rule_broken(exc: RuleBrokenError, *, as_json: bool) -> NoReturn:
    if as_json:
        emit({"intact": True, "rules_hold": False, "message": str(exc), **exc.facts}, as_json=True)
    else:
        click.echo(f"ledger breaks a business rule: {exc}", err=True)
    raise click.exceptions.Exit(1) from exc


@ledger_group.command("verify")
@click.option(
    "--trusted", "trusted_path", type=click.Path(path_type=Path), default=None, help=_TRUSTED_HELP
)
@click.option(
    "--state", "state_path", type=click.Path(path_type=Path), default=None, help=_STATE_HELP
)
@click.option(
    "--rules",
    "rules",
    is_flag=True,
    help="Also replay the business rules (stamps within units, mass balance, custody, "
    "recalls, suspensions) and name the first entry that breaks one.",
)
@json_option
@pass_ctx
def verify(
    ctx: CliContext,
    as_json: bool,
    trusted_path: Path | None,
    state_path: Path | None,
    rules: bool,
) -> None:
    """Audit everything: chain, tree, nodes, checkpoints, and that the ledger extends the
    last checkpoint verified before (state file) and any --trusted one; with --rules also
    replay the business rules. Exit 0 intact, 1 if not; the state advances only after a
    verify that passes."""
    origin = ctx.settings.origin
    verifiers = journal.verifiers(origin, ctx.public_keys())
    state = state_path or ctx.settings.verify_state_file
    sources = [p for p in (trusted_path,) if p is not None]
    if state.exists():
        sources.append(state)
    trusted = _trusted(sources, verifiers, origin)
    with ctx.session() as session:
        begin_snapshot(session)  # the audit and its progress total read the same state
        total = store.head(session).size
        try:
            with progress(total, "auditing") as advance_to:
                report = audit(session, verifiers=verifiers, progress=advance_to)
            _check_not_rolled_back(session, report, origin, trusted)
            if rules:
                with progress(total, "replaying rules") as advance_to:
                    check_rules(session, progress=advance_to)
        except (LedgerCorruptError, RollbackError) as exc:
            _not_intact(exc, as_json=as_json)
        except RuleBrokenError as exc:  # the bytes verify; what they record broke a rule
            _rule_broken(exc, as_json=as_json)
        _remember(session, state, trusted)
    result = {
        "intact": True,
        "size": report.size,
        "root_hash": _b64(report.root_hash),
        "checkpoints_verified": report.checkpoints,
        "latest_checkpoint_size": report.latest_checkpoint_size,
        "trusted_sizes": [checkpoint.size for _note, checkpoint in trusted],
        "state_file": str(state),
    }
    if rules:
        result["rules_hold"] = True
    emit(
        result,
        as_json=as_json,
        message=f"ledger intact: {report.size} entries, root {result['root_hash']}, "
        f"{report.checkpoints} checkpoints verified"
        + (", business rules hold" if rules else "")
        + f"; {_trust_note(trusted)}",
    )


def _trust_note(trusted: Sequence[tuple[str, Checkpoint]]) -> str:
    if not trusted:
        return "no checkpoint was trusted before (first verify with this state file)"
    sizes = ", ".join(str(checkpoint.size) for _note, checkpoint in trusted)
    return f"extends the trusted checkpoint(s) of size {sizes}"


@ledger_group.command("checkpoint")
@json_option
@pass_ctx
def checkpoint(ctx: CliContext, as_json: bool) -> None:
    """Sign a checkpoint over the current ledger (reuses the latest if nothing changed)."""
    ctx.ring()
    with ctx.session() as session:
        signed = ctx.runtime.checkpoint(session)
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
        if (latest is None or latest.size <= index) and index < store.head(session).size:
            ctx.runtime.checkpoint(session)
        record = journal.proof_record(session, index, origin=ctx.settings.origin, ring=None)
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
@click.option("--reveal", is_flag=True, help="Include the openings of the entries' private fields.")
@click.option(
    "--consistent-with",
    "consistent_with",
    default=None,
    metavar="SIZE|FILE",
    help="Embed the consistency proof from this tree size (or this checkpoint file or folder) "
    "to the bundle's checkpoint, for a verifier that trusts that checkpoint.",
)
@json_option
@pass_ctx
def bundle(
    ctx: CliContext,
    indices: tuple[int, ...],
    subject: str | None,
    output: str,
    reveal: bool,
    consistent_with: str | None,
    as_json: bool,
) -> None:
    """Write a proof bundle that verifies offline with the ledger's public key."""
    path = output_path(output)
    old_size = None if consistent_with is None else _tree_size(ctx, consistent_with)
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
        needed = max(max(wanted) + 1, old_size or 0)
        ring = None
        if latest is None or latest.size < needed:
            ctx.runtime.checkpoint(session)
            ring = ctx.ring()  # past the head, the journal reuses it and says why
        document = journal.bundle(
            session,
            wanted,
            origin=ctx.settings.origin,
            ring=ring,
            publish_to=ctx.settings.checkpoints_dir,
            consistent_with=old_size,
            reveal=reveal,
        )
    write_atomic(path, lambda out: json.dump(document, out, ensure_ascii=False, indent=1))
    summary = {"file": str(path), "entries": len(document["entries"])}
    emit(summary, as_json=as_json, message=f"wrote {len(document['entries'])} entries to {path}")


def _tree_size(ctx: CliContext, raw: str) -> int:
    """``--consistent-with``: a decimal tree size, or a signed checkpoint file or folder."""
    if raw.isascii() and raw.isdigit():
        return int(raw)
    origin = ctx.settings.origin
    note = mirror.read_note(Path(raw))
    verifiers = journal.verifiers(origin, ctx.public_keys())
    return open_trusted(note, verifiers=verifiers, origin=origin).size


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
@click.option(
    "--trusted", "trusted_path", type=click.Path(path_type=Path), default=None, help=_TRUSTED_HELP
)
@click.option(
    "--state",
    "state_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File that remembers the newest checkpoint this verifier has seen (read, then "
    "advanced to the bundle's checkpoint once it verifies).",
)
@json_option
def verify_bundle_command(
    bundle_file: Path,
    key_file: Path,
    trusted_path: Path | None,
    state_path: Path | None,
    as_json: bool,
) -> None:
    """Verify a proof bundle offline. Exit 0 if it verifies, 1 if not.

    With --trusted or --state, the bundle's checkpoint must also extend the trusted one (its
    own consistency proof, see 'ledger bundle --consistent-with')."""
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
    sources = [p for p in (trusted_path, state_path) if p is not None and p.exists()]
    if trusted_path is not None and trusted_path not in sources:
        sources.insert(0, trusted_path)  # a missing --trusted file is an error, said by read
    trusted: list[Checkpoint | None] = [c for _note, c in _trusted(sources, verifiers, None)]
    try:
        for checkpoint in trusted or [None]:
            verified = verify_bundle(document, verifiers=verifiers, trusted=checkpoint)
    except BundleError as exc:
        if as_json:
            emit({"verified": False, "message": str(exc)}, as_json=True)
        else:
            click.echo(f"bundle does NOT verify: {exc}", err=True)
        raise click.exceptions.Exit(1) from exc
    if state_path is not None and isinstance(document, dict):
        newest = max((c.size for c in trusted if c is not None), default=-1)
        if verified.checkpoint.size >= newest:
            mirror.remember(state_path, document["checkpoint"])
    result = {
        "verified": True,
        "origin": verified.checkpoint.origin,
        "tree_size": verified.checkpoint.size,
        "indices": [index for index, _ in verified.entries],
        "openings": _openings_count(document),
    }
    opened = f"; {result['openings']} private fields opened and verified against their commitments"
    emit(
        result,
        as_json=as_json,
        message=f"bundle verifies: {len(verified.entries)} entries proven in "
        f"{verified.checkpoint.origin} at size {verified.checkpoint.size}"
        + (opened if result["openings"] else ""),
    )


def _openings_count(document: object) -> int:
    """How many openings a verified bundle carried (verify_bundle checked each one)."""
    openings = document.get("openings") if isinstance(document, dict) else None
    return len(openings) if isinstance(openings, list) else 0


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
