"""``agritrace stamps issue|print|list|verify``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from agritrace.cli._common import CliContext, emit, json_option, pass_ctx, progress
from agritrace.errors import InvalidInputError
from agritrace.keys import KeyPurpose, public_keys_from_jwks
from agritrace.stamps.codec import (
    MalformedStampError,
    StampVerificationError,
    parse,
    short_code,
    stamp_prefix,
    verify_stamp,
)
from agritrace.stamps.printing import (
    LabelLayout,
    PrintItem,
    render_pdf,
    render_png,
    render_svg,
    write_csv,
)
from agritrace.stamps.qr import qr_matrix
from agritrace.trace import issuance
from agritrace.trace.models import StampBatch

F = TypeVar("F", bound=Callable[..., Any])
COLUMNS = ("id", "lot", "first_serial", "last_serial", "count", "key_id", "ledger_index")


@dataclass(frozen=True)
class Outputs:
    pdf: Path | None
    png_dir: Path | None
    svg_dir: Path | None
    csv: Path | None
    level: str
    layout: LabelLayout

    @property
    def any(self) -> bool:
        return any((self.pdf, self.png_dir, self.svg_dir, self.csv))


def output_options(func: F) -> F:
    """The printing options shared by ``issue`` and ``print``; checked before any work."""
    options = [
        click.option(
            "--pdf", type=click.Path(dir_okay=False, path_type=Path), help="A4 label sheets."
        ),
        click.option(
            "--png-dir", type=click.Path(file_okay=False, path_type=Path), help="One PNG per stamp."
        ),
        click.option(
            "--svg-dir", type=click.Path(file_okay=False, path_type=Path), help="One SVG per stamp."
        ),
        click.option(
            "--csv",
            "csv_file",
            type=click.Path(dir_okay=False, path_type=Path),
            help="serial,url for print shops.",
        ),
        click.option(
            "--level",
            type=click.Choice(["M", "Q"]),
            default="M",
            show_default=True,
            help="QR error correction.",
        ),
        click.option("--label-width", type=float, default=30.0, show_default=True, help="mm"),
        click.option("--label-height", type=float, default=32.0, show_default=True, help="mm"),
        click.option(
            "--margin", type=float, default=7.0, show_default=True, help="Page margin, mm."
        ),
        click.option(
            "--gap", type=float, default=2.0, show_default=True, help="Gap between labels, mm."
        ),
        click.option(
            "--module",
            type=float,
            default=0.5,
            show_default=True,
            help="QR module size, mm (>= 0.4).",
        ),
    ]

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        layout = LabelLayout(
            label_w_mm=kwargs.pop("label_width"),
            label_h_mm=kwargs.pop("label_height"),
            margin_mm=kwargs.pop("margin"),
            gap_mm=kwargs.pop("gap"),
            module_mm=kwargs.pop("module"),
        )
        outputs = Outputs(
            pdf=kwargs.pop("pdf"),
            png_dir=kwargs.pop("png_dir"),
            svg_dir=kwargs.pop("svg_dir"),
            csv=kwargs.pop("csv_file"),
            level=kwargs.pop("level"),
            layout=layout,
        )
        return func(*args, outputs=outputs, **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]


def _check_outputs(outputs: Outputs, prefix: str) -> None:
    """Refuse unusable outputs before anything is issued or written."""
    for path in (outputs.pdf, outputs.csv):
        if path is not None and not path.parent.absolute().is_dir():
            raise InvalidInputError(f"cannot write {path}: folder {path.parent} does not exist")
    for folder in (outputs.png_dir, outputs.svg_dir):
        if folder is not None and folder.exists() and not folder.is_dir():
            raise InvalidInputError(f"{folder} exists and is not a folder")
    if outputs.pdf is not None:
        sample = prefix + "A" * 116  # a code has 116 characters whatever its serial
        outputs.layout.grid(qr_matrix(sample, level=outputs.level).size)  # type: ignore[arg-type]


def _counted(items: Iterable[PrintItem], advance_to: Callable[[int], None]) -> Iterator[PrintItem]:
    for done, item in enumerate(items, 1):
        if done % 500 == 0:
            advance_to(done)
        yield item


def _render(ctx: CliContext, batch: StampBatch, outputs: Outputs) -> dict[str, Any]:
    key = ctx.ring().signer(KeyPurpose.STAMP, batch.key_id)
    written: dict[str, Any] = {}
    level: Any = outputs.level
    if outputs.pdf is not None:
        with progress(batch.count, "PDF sheets") as advance_to:
            done = 0

            def page_done(added: int) -> None:
                nonlocal done
                done += added
                advance_to(done)

            summary = render_pdf(
                issuance.print_items(batch, private_key=key),
                outputs.pdf,
                layout=outputs.layout,
                level=level,
                progress=page_done,
            )
        written["pdf"] = {"file": str(outputs.pdf), "pages": summary.pages}
    if outputs.csv is not None:
        with progress(batch.count, "CSV") as advance_to:
            rows = write_csv(
                _counted(issuance.print_items(batch, private_key=key), advance_to), outputs.csv
            )
        written["csv"] = {"file": str(outputs.csv), "rows": rows}
    for kind, folder in (("png", outputs.png_dir), ("svg", outputs.svg_dir)):
        if folder is None:
            continue
        folder.mkdir(parents=True, exist_ok=True)
        with progress(batch.count, kind.upper()) as advance_to:
            items = _counted(issuance.print_items(batch, private_key=key), advance_to)
            for item in items:
                target = folder / f"{item.serial}.{kind}"
                if kind == "png":
                    render_png(item, target, level=level)
                else:
                    render_svg(item, target, module_mm=outputs.layout.module_mm, level=level)
        written[kind] = {"folder": str(folder), "files": batch.count}
    return written


@click.group("stamps")
def stamps_group() -> None:
    """Signed QR stamps: issue batches for lots, print them, verify codes."""


@stamps_group.command("issue")
@click.option("--lot", "lot_ref", required=True, metavar="FACILITY/LOT")
@click.option("--count", required=True, help="How many stamps (units of the lot).")
@click.option(
    "--claim-codes",
    is_flag=True,
    help="Give each stamp a claim code to print under a scratch-off layer (PDF, CSV).",
)
@output_options
@json_option
@pass_ctx
def issue(
    ctx: CliContext,
    lot_ref: str,
    count: str,
    claim_codes: bool,
    outputs: Outputs,
    as_json: bool,
) -> None:
    """Issue a batch of stamps for a lot, and print it if asked."""
    prefix = stamp_prefix(ctx.settings.base_url)
    _check_outputs(outputs, prefix)
    ring = ctx.ring()
    key_id, _ = ring.active_signer(KeyPurpose.STAMP)
    with ctx.session() as session:
        with ctx.write(session):
            batch = issuance.issue_batch(
                session,
                lot_ref=lot_ref,
                count=count,
                key_id=key_id,
                prefix=prefix,
                claim_codes=claim_codes,
            )
        record = issuance.batch_record(batch)
        try:
            record["outputs"] = _render(ctx, batch, outputs) if outputs.any else {}
        except (OSError, InvalidInputError) as exc:
            raise InvalidInputError(
                f"batch {batch.id} was issued, but printing failed ({exc}); "
                f"reprint it with 'agritrace stamps print {batch.id}'"
            ) from exc
    emit(
        record,
        as_json=as_json,
        columns=COLUMNS,
        message=f"issued batch {record['id']}: serials {record['first_serial']}-"
        f"{record['last_serial']} for lot {record['lot']} (ledger #{record['ledger_index']})",
    )


@stamps_group.command("print")
@click.argument("batch_id", metavar="BATCH")
@output_options
@json_option
@pass_ctx
def print_(ctx: CliContext, batch_id: str, outputs: Outputs, as_json: bool) -> None:
    """Reprint a batch: the codes are identical every time."""
    if not outputs.any:
        raise InvalidInputError("say what to print: --pdf, --csv, --png-dir or --svg-dir")
    with ctx.session() as session:
        batch = issuance.get_batch(session, batch_id)
        issuance.check_printable(batch)
        _check_outputs(outputs, batch.prefix)
        record = issuance.batch_record(batch)
        record["outputs"] = _render(ctx, batch, outputs)
    emit(record, as_json=as_json, columns=COLUMNS, message=f"printed batch {record['id']}")


@stamps_group.command("list")
@click.option("--lot", "lot_ref", default=None, metavar="FACILITY/LOT")
@json_option
@pass_ctx
def list_(ctx: CliContext, lot_ref: str | None, as_json: bool) -> None:
    """List stamp batches."""
    with ctx.session() as session:
        records = [
            issuance.batch_record(b) for b in issuance.list_batches(session, lot_ref=lot_ref)
        ]
    emit(records, as_json=as_json, columns=COLUMNS)


def _not_genuine(exc: MalformedStampError | StampVerificationError, *, as_json: bool) -> NoReturn:
    if as_json:
        emit({"genuine": False, "reason": exc.reason, "message": str(exc)}, as_json=True)
    else:
        click.echo(f"NOT genuine ({exc.reason}): {exc}", err=True)
    raise click.exceptions.Exit(1) from exc


@stamps_group.command("verify")
@click.argument("code")
@click.option(
    "--keys",
    "keys_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Published keys.json: verify offline, without the instance.",
)
@click.option("--issuer", default=None, help="Issuer base URL (default: AGRITRACE_BASE_URL).")
@json_option
@pass_ctx
def verify(
    ctx: CliContext, code: str, keys_file: Path | None, issuer: str | None, as_json: bool
) -> None:
    """Check a stamp's signature offline. Exit 0 genuine, 1 not, with the reason."""
    try:
        parsed = parse(code)
    except MalformedStampError as exc:
        _not_genuine(exc, as_json=as_json)
    if keys_file is not None:
        try:
            document = json.loads(keys_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InvalidInputError(f"cannot read keys from {keys_file}: {exc}") from exc
        public_keys = public_keys_from_jwks(document, KeyPurpose.STAMP)
    else:
        public_keys = {
            info.key_id: info.public_key
            for info in ctx.public_keys()
            if info.purpose is KeyPurpose.STAMP
        }
    if issuer is not None:
        prefix = stamp_prefix(issuer, allow_long=True)
    elif keys_file is not None and parsed.prefix is not None:
        prefix = parsed.prefix
    else:
        prefix = stamp_prefix(ctx.settings.base_url, allow_long=True)
    stamp = parsed.stamp
    try:
        verify_stamp(stamp, prefix=prefix, public_keys=public_keys, scanned_prefix=parsed.prefix)
    except StampVerificationError as exc:
        _not_genuine(exc, as_json=as_json)
    record = {
        "genuine": True,
        "serial": stamp.serial,
        "short_code": short_code(stamp.serial),
        "key_id": stamp.key_id,
        "issuer": prefix,
    }
    emit(
        record,
        as_json=as_json,
        message=f"genuine: serial {stamp.serial} ({record['short_code']}), key {stamp.key_id}, "
        f"issued by {prefix}",
    )


def register(group: click.Group) -> None:
    group.add_command(stamps_group)
