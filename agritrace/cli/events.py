"""``agritrace event record|correct|list``, ``recall``, ``provenance``, ``export`` and
``import``: the supply chain on the command line."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import click

from agritrace.cli._common import INDEX, CliContext, emit, json_option, pass_ctx, write_atomic
from agritrace.db import utcnow
from agritrace.errors import InvalidInputError
from agritrace.keys import KeyPurpose
from agritrace.ledger import store
from agritrace.stamps.codec import parse
from agritrace.trace import events, exports, issuance, journal, provenance, recalls, registry
from agritrace.trace.epcis_import import import_epcis
from agritrace.trace.event_models import Step
from agritrace.trace.models import Lot
from agritrace.trace.provenance import ProvenanceNode
from agritrace.trace.validation import parse_date

COLUMNS = ("ledger_index", "step", "event_time", "facility", "other_facility", "corrected_by")


def _amounts(raw: tuple[str, ...], option: str) -> list[events.LotAmount]:
    """``FACILITY/LOT=QUANTITY[UNIT]`` (e.g. HD-VAI-01/L1=2000kg) into lot amounts."""
    found = []
    for item in raw:
        ref, sep, amount = item.partition("=")
        if not sep or not amount:
            raise InvalidInputError(f"{option} {item!r} must look like FACILITY/LOT=2000kg")
        number = amount.rstrip("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
        unit = amount[len(number) :] or None
        found.append(events.LotAmount(ref.strip(), number.strip(), unit))
    return found


@click.group("event")
def event_group() -> None:
    """Record what happens to lots: harvest, packing, cooling, shipping, receiving, ..."""


@event_group.command("record")
@click.option(
    "--step",
    required=True,
    type=click.Choice([s.value for s in Step]),
    help="What happened.",
)
@click.option("--facility", "facility_code", required=True, help="The facility recording it.")
@click.option("--time", "event_time", required=True, help="ISO 8601, e.g. 2026-06-10T06:30+07:00.")
@click.option("--lot", "lot_ref", default=None, metavar="FACILITY/LOT")
@click.option("--quantity", default=None, help="Default: the whole lot.")
@click.option("--unit", default=None, help="Default: the lot's unit.")
@click.option("--to", "destination", default=None, help="Destination facility (shipping).")
@click.option("--temperature", default=None, help="Sensor reading in °C.")
@click.option("--certified", is_flag=True, help="Claim the facility's certificate for it.")
@click.option("--failed", is_flag=True, help="Inspection outcome: failed.")
@click.option("--note", default=None)
@click.option("--input", "inputs", multiple=True, help="Processing: FACILITY/LOT=2000kg.")
@click.option("--output", "outputs", multiple=True, help="Processing: FACILITY/LOT=400kg.")
@json_option
@pass_ctx
def record(
    ctx: CliContext,
    step: str,
    facility_code: str,
    event_time: str,
    lot_ref: str | None,
    quantity: str | None,
    unit: str | None,
    destination: str | None,
    temperature: str | None,
    certified: bool,
    failed: bool,
    note: str | None,
    inputs: tuple[str, ...],
    outputs: tuple[str, ...],
    as_json: bool,
) -> None:
    """Record one event (processing: --input and --output lots instead of --lot)."""
    moment = events.parse_event_time(event_time, zone=ctx.settings.zone)
    with ctx.write() as session:
        if step == Step.PROCESSING.value:
            if lot_ref:
                raise InvalidInputError("processing names --input and --output lots, not --lot")
            recorded = events.record_transformation(
                session,
                facility_code=facility_code,
                event_time=moment,
                inputs=_amounts(inputs, "--input"),
                outputs=_amounts(outputs, "--output"),
                certified=certified,
                note=note,
            )
        else:
            if not lot_ref:
                raise InvalidInputError(f"{step} needs --lot FACILITY/LOT")
            if inputs or outputs:
                raise InvalidInputError("--input and --output are for processing only")
            recorded = events.record_event(
                session,
                step=step,
                lot_ref=lot_ref,
                facility_code=facility_code,
                event_time=moment,
                quantity=quantity,
                unit=unit,
                destination=destination,
                temperature_c=temperature,
                certified=certified,
                passed=not failed,
                note=note,
            )
    emit(
        {"event_id": recorded.event_id, "ledger_index": recorded.ledger_index, "step": step},
        as_json=as_json,
        message=f"recorded {step} as ledger entry #{recorded.ledger_index} ({recorded.event_id})",
    )


@event_group.command("correct")
@click.argument("ledger_index", type=INDEX)
@click.option("--facility", "facility_code", required=True, help="The facility that recorded it.")
@click.option("--reason", required=True)
@json_option
@pass_ctx
def correct(
    ctx: CliContext, ledger_index: int, facility_code: str, reason: str, as_json: bool
) -> None:
    """Declare an event erroneous. The original stays in the ledger, marked corrected."""
    with ctx.write() as session:
        recorded = events.correct_event(
            session, ledger_index=ledger_index, facility_code=facility_code, reason=reason
        )
    emit(
        {"corrects": ledger_index, "ledger_index": recorded.ledger_index},
        as_json=as_json,
        message=f"event #{ledger_index} corrected by ledger entry #{recorded.ledger_index}",
    )


@event_group.command("list")
@click.option("--lot", "lot_ref", required=True, metavar="FACILITY/LOT")
@json_option
@pass_ctx
def list_(ctx: CliContext, lot_ref: str, as_json: bool) -> None:
    """A lot's events in time order."""
    with ctx.session() as session:
        records = [
            events.event_record(session, e) for e in events.list_events(session, lot_ref=lot_ref)
        ]
    emit(records, as_json=as_json, columns=COLUMNS)


@click.command("recall")
@click.argument("lot_ref", metavar="FACILITY/LOT")
@click.option("--reason", required=True, help="Why the lot is recalled.")
@json_option
@pass_ctx
def recall(ctx: CliContext, lot_ref: str, reason: str, as_json: bool) -> None:
    """Recall a lot and every lot made from it: all their stamps verify as recalled."""
    signer = ctx.ring().active_signer(KeyPurpose.STAMP)
    with ctx.write() as session:
        done = recalls.recall_lot(session, lot_ref=lot_ref, reason=reason, signer=signer)
        records = [recalls.recall_record(r) for r in done]
    emit(
        records,
        as_json=as_json,
        columns=("lot", "recalled_because_of", "ledger_index"),
        message=f"recalled {len(records)} lot(s)",
    )


def _lot_for(session: Any, target: str) -> tuple[Lot, int | None]:
    """A lot named FACILITY/LOT, or the lot of a stamp (code or URL) with its serial."""
    if "/" in target and "://" not in target and len(target) < 90:
        return registry.get_lot(session, target), None
    stamp = parse(target).stamp
    batch = issuance.batch_for_serial(session, stamp.serial)
    if batch is None:
        raise InvalidInputError(f"stamp serial {stamp.serial} was never issued")
    return batch.lot, stamp.serial


def _indices(node: ProvenanceNode) -> list[int]:
    return [step.ledger_index for step in node.steps] + [
        index for child in node.inputs for index in _indices(child)
    ]


def _node_json(node: ProvenanceNode, proofs: dict[int, list[bytes]]) -> dict[str, Any]:
    steps = []
    for step in node.steps:
        proof = None
        if step.ledger_index in proofs:
            proof = [base64.b64encode(h).decode("ascii") for h in proofs[step.ledger_index]]
        steps.append(
            {
                "ledger_index": step.ledger_index,
                "step": step.step,
                "time": step.time.isoformat(),
                "facility": step.facility_code,
                "details": step.details,
                "corrected": step.corrected,
                "correction_reason": step.correction_reason,
                "inclusion_proof": proof,
            }
        )
    return {
        "lot": node.lot.ref,
        "product": node.lot.product.name,
        "status": node.lot.status.value,
        "steps": steps,
        "inputs": [_node_json(child, proofs) for child in node.inputs],
    }


def _print_tree(node: dict[str, Any], depth: int = 0) -> None:
    pad = "  " * depth
    click.echo(f"{pad}lot {node['lot']} ({node['product']}, {node['status']})")
    for step in node["steps"]:
        mark = " [corrected: " + str(step["correction_reason"]) + "]" if step["corrected"] else ""
        facts = ", ".join(f"{k} {v}" for k, v in step["details"].items())
        click.echo(
            f"{pad}  #{step['ledger_index']:<6} {step['time'][:16]}  {step['step']:<14} "
            f"{step['facility']:<12} {facts}{mark}"
        )
    for child in node["inputs"]:
        click.echo(f"{pad}  made from:")
        _print_tree(child, depth + 2)


@click.command("provenance")
@click.argument("target", metavar="STAMP_OR_LOT")
@json_option
@pass_ctx
def provenance_command(ctx: CliContext, target: str, as_json: bool) -> None:
    """A stamp's (or lot's) journey and upstream lots, each step with its inclusion proof."""
    with ctx.session() as session:
        lot, serial = _lot_for(session, target)
        latest = ctx.runtime.covering_checkpoint(session)
        node = provenance.lot_provenance(session, lot)
        covered = [i for i in _indices(node) if i < latest.size]
        tree = _node_json(node, store.inclusion_proofs(session, covered, latest.size))
    document = {"serial": serial, "checkpoint": latest.note, "provenance": tree}
    if as_json:
        emit(document, as_json=True)
        return
    if serial is not None:
        click.echo(f"stamp serial {serial}")
    _print_tree(tree)
    click.echo(f"proofs against checkpoint of size {latest.size}")


def _finish_export(export: exports.Export, output: Path, as_json: bool) -> None:
    write_atomic(output, lambda out: out.write(export.content.decode("utf-8")))
    manifest = export.manifest(output.name)
    text = json.dumps(manifest, indent=2)
    write_atomic(output.with_name(output.name + ".manifest.json"), lambda out: out.write(text))
    emit(
        {k: v for k, v in manifest.items() if k != "checkpoint"}
        | {"checkpoint_size": export.checkpoint.size},
        as_json=as_json,
        message=f"wrote {output} (sha256 {export.sha256}, "
        f"checkpoint size {export.checkpoint.size})",
    )


@click.group("export")
def export_group() -> None:
    """Exports of a lot's records, each naming its checkpoint and SHA-256."""


@export_group.command("epcis")
@click.option("--lot", "lot_ref", required=True, metavar="FACILITY/LOT")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@json_option
@pass_ctx
def export_epcis(ctx: CliContext, lot_ref: str, output: Path, as_json: bool) -> None:
    """EPCIS 2.0 JSON-LD document of a lot and its upstream lots."""
    with ctx.session() as session:
        lot = registry.get_lot(session, lot_ref)
        export = exports.epcis_document(
            session, lot, checkpoint=ctx.runtime.covering_checkpoint(session), now=utcnow()
        )
    _finish_export(export, output, as_json)


@export_group.command("fsma")
@click.option("--lot", "lot_refs", multiple=True, metavar="FACILITY/LOT")
@click.option("--from", "start", default=None, help="YYYY-MM-DD")
@click.option("--to", "end", default=None, help="YYYY-MM-DD")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@json_option
@pass_ctx
def export_fsma(
    ctx: CliContext,
    lot_refs: tuple[str, ...],
    start: str | None,
    end: str | None,
    output: Path,
    as_json: bool,
) -> None:
    """FSMA 204 sortable spreadsheet (CSV) for lots or a date range."""
    with ctx.session() as session:
        lots = [registry.get_lot(session, ref) for ref in lot_refs] or None
        export = exports.fsma_csv(
            session,
            checkpoint=ctx.runtime.covering_checkpoint(session),
            lots=lots,
            start=parse_date(start, field="--from") if start else None,
            end=parse_date(end, field="--to") if end else None,
            zone=ctx.settings.zone,
        )
    _finish_export(export, output, as_json)


@export_group.command("bundle")
@click.option("--lot", "lot_ref", required=True, metavar="FACILITY/LOT")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--reveal",
    is_flag=True,
    help="Include the openings of private fields (partners, quantities, temperatures, "
    "notes), to share them with someone you choose.",
)
@json_option
@pass_ctx
def export_bundle(ctx: CliContext, lot_ref: str, output: Path, reveal: bool, as_json: bool) -> None:
    """The proof bundle of every ledger entry about a lot (verifies offline). Private
    fields stay committed unless --reveal is given."""
    with ctx.session() as session:
        lot = registry.get_lot(session, lot_ref)
        indices = store.indices_for_subject(session, registry.lot_subject(lot))
        checkpoint = ctx.runtime.covering_checkpoint(session)
        document = journal.bundle(
            session, indices, origin=ctx.settings.origin, ring=None, reveal=reveal
        )
    content = json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")
    _finish_export(exports.Export(content, "application/json", checkpoint), output, as_json)


@click.group("import")
def import_group() -> None:
    """Import records from other systems."""


@import_group.command("epcis")
@click.argument("source", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path))
@json_option
@pass_ctx
def import_epcis_command(ctx: CliContext, source: Path, as_json: bool) -> None:
    """Validate and record an EPCIS 2.0 JSON document (all or nothing)."""
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"cannot read {source}: {exc.strerror}") from exc
    ctx.check_schema()
    with ctx.write():  # the import writes on its own connection, all or nothing
        report = import_epcis(ctx.engine, data, now=utcnow())
    record = {
        "facilities_created": report.facilities_created,
        "lots_created": report.lots_created,
        "events_recorded": report.events_recorded,
        "corrections": report.corrections,
    }
    emit(
        record,
        as_json=as_json,
        message=f"imported {report.events_recorded} events and {report.corrections} corrections "
        f"({report.facilities_created} new facilities, {report.lots_created} new lots)",
    )


def register(group: click.Group) -> None:
    for command in (event_group, recall, provenance_command, export_group, import_group):
        group.add_command(command)
