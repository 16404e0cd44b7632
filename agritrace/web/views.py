"""Helpers the signed-in blueprints share: running a write and showing its error inline,
printing a batch for download, and file responses.

A write through the web is: open the key ring (so a server that cannot sign says so before
anything is written), call one service, then sign a checkpoint over what it committed, as
every CLI write does. A rule the service refuses comes back as the error to show beside
the form, with its HTTP status.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Response, redirect, request
from flask.typing import ResponseReturnValue

from agritrace.db import utcnow
from agritrace.errors import AgritraceError, InvalidInputError, PermissionDeniedError
from agritrace.keys import KeyPurpose
from agritrace.ledger import store
from agritrace.ledger.store import LedgerCheckpoint
from agritrace.stamps.printing import render_pdf, render_png, write_csv
from agritrace.trace import claiming, exports, issuance, journal, registry
from agritrace.trace.models import Lot, StampBatch
from agritrace.trace.validation import parse_date
from agritrace.web import KeyRingUnavailableError, db, ring, runtime, state, write
from agritrace.web.auth import current_user

__all__ = [
    "MAX_WEB_PDF",
    "MAX_WEB_PRINT",
    "attempt",
    "download",
    "export_lot",
    "export_range",
    "export_response",
    "form_text",
    "print_batch",
    "review_response",
]

#: Largest batch printed to a PDF in a web request (reportlab holds about 8 KB per stamp).
MAX_WEB_PDF = 5_000
#: Largest batch printed to a CSV or PNG zip in a web request; beyond, use the CLI.
MAX_WEB_PRINT = 20_000

T = TypeVar("T")


def attempt(action: Callable[[], T]) -> tuple[T | None, AgritraceError | None]:
    """Run ``action`` as a write (:func:`agritrace.web.write`: the key ring first, then
    ``action``, then a commit and a checkpoint).

    Returns ``(result, None)``, or ``(None, error)`` for any agritrace error (nothing was
    written, or, for a failed checkpoint, the write stands and the next one signs).
    """
    try:
        with write():
            result = action()
    except AgritraceError as exc:
        return None, exc
    return result, None


def review_response(serial: int, *, redirect_to: str) -> ResponseReturnValue:
    """Record the signed-in user's review of stamp ``serial`` from the posted form (see
    :func:`agritrace.trace.claiming.review_stamp`; a checkpoint is signed after), then
    redirect; an error is raised to the error edge (403 for another facility's stamp)."""
    decision = form_text(request.form, "decision", limit=20)
    reason = form_text(request.form, "reason", limit=600)
    user = current_user()
    if user is None:  # pragma: no cover - the views require a signed-in user
        raise PermissionDeniedError(key="access.role_may_not")
    _, error = attempt(
        lambda: claiming.review_stamp(
            db(), serial=serial, decision=decision, reason=reason, user=user, now=utcnow()
        )
    )
    if error is not None:
        raise error
    return redirect(redirect_to, 303)


def download(content: bytes, *, name: str, media_type: str) -> Response:
    response = Response(content, mimetype=media_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def print_batch(batch: StampBatch, kind: str) -> Response:
    """The batch's stamps as ``pdf`` (A4 label sheets), ``csv`` (serial,url) or ``zip`` (one
    PNG per stamp), signed again with the key the batch was issued under."""
    issuance.check_printable(batch)
    limit = MAX_WEB_PDF if kind == "pdf" else MAX_WEB_PRINT
    if batch.count > limit:
        raise InvalidInputError(
            key="stamps.print_too_many", batch=batch.id, count=batch.count, limit=limit, kind=kind
        )
    key = ring().signer(KeyPurpose.STAMP, batch.key_id)
    items = issuance.print_items(batch, private_key=key, parallel=False)
    stem = f"stamps-{batch.lot.facility.code}-{batch.lot.code}-{batch.id}"
    buffer = io.BytesIO()
    if kind == "pdf":
        render_pdf(items, buffer, workers=1)
        return download(buffer.getvalue(), name=f"{stem}.pdf", media_type="application/pdf")
    if kind == "csv":
        text = io.StringIO(newline="")
        write_csv(items, text)
        return download(text.getvalue().encode("utf-8"), name=f"{stem}.csv", media_type="text/csv")
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for item in items:
            png = io.BytesIO()
            render_png(item, png)
            archive.writestr(f"{item.serial}.png", png.getvalue())
    return download(buffer.getvalue(), name=f"{stem}-png.zip", media_type="application/zip")


def form_text(form: Any, name: str, *, limit: int = 2000) -> str:
    value = form.get(name, "")
    return value[:limit] if isinstance(value, str) else ""


def _checkpoint_now() -> LedgerCheckpoint:
    """A signed checkpoint covering the whole ledger (signed now if the ring is here)."""
    session = db()
    try:
        ring()
    except KeyRingUnavailableError:
        return journal.checkpoint_covering(
            session, store.head(session).size, origin=state().settings.origin, ring=None
        )
    return runtime().covering_checkpoint(session)


def export_lot(lot: Lot, kind: str) -> tuple[exports.Export, str]:
    """The lot's ``epcis`` document, ``fsma`` spreadsheet or proof ``bundle`` and a file name."""
    session = db()
    stem = f"{lot.facility.code}-{lot.code}"
    checkpoint = _checkpoint_now()
    if kind == "epcis":
        made = exports.epcis_document(session, lot, checkpoint=checkpoint, now=utcnow())
        return made, f"{stem}.jsonld"
    if kind == "fsma":
        made = exports.fsma_csv(
            session, checkpoint=checkpoint, lots=[lot], zone=state().settings.zone
        )
        return made, f"{stem}-fsma.csv"
    if kind == "bundle":
        indices = store.indices_for_subject(session, registry.lot_subject(lot))
        document = journal.bundle(session, indices, origin=state().settings.origin, ring=None)
        content = json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")
        return exports.Export(content, "application/json", checkpoint), f"{stem}.bundle.json"
    raise InvalidInputError(key="export.kind", field="kind", kind=kind[:20])


def export_range(start: str, end: str) -> tuple[exports.Export, str]:
    """The FSMA 204 spreadsheet of every lot's events between two dates (inclusive)."""
    first = parse_date(start, field="from")
    last = parse_date(end, field="to")
    made = exports.fsma_csv(
        db(), checkpoint=_checkpoint_now(), start=first, end=last, zone=state().settings.zone
    )
    return made, f"fsma-{first}-{last}.csv"


def export_response(made: exports.Export, name: str) -> Response:
    response = download(made.content, name=name, media_type=made.media_type)
    response.headers["X-Agritrace-Checkpoint-Size"] = str(made.checkpoint.size)
    response.headers["X-Agritrace-SHA256"] = made.sha256
    return response
