"""The inspector's console (``/inspect``), for inspectors and administrators.

Ledger status (size, latest checkpoint, last audit); a full audit run in a background
thread whose progress page refreshes itself (``<meta http-equiv=refresh>``, no script);
entries page by page; an entry's inclusion proof and two checkpoints' consistency checked
on the server with the public keys only, each hashing step shown; facilities and
certificates with their validity; recalls and suspensions (each with a reason); exports
(EPCIS, FSMA 204, proof bundle) as downloads; a dashboard of issuance and scans drawn as
inline SVG.
"""

from __future__ import annotations

import datetime as dt
import json
import threading

from flask import Blueprint, Flask, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from agritrace.db import utcnow
from agritrace.errors import AgritraceError, InvalidInputError, NotFoundError
from agritrace.keys import KeyPurpose
from agritrace.ledger import store
from agritrace.ledger.audit import PROBLEMS, LedgerCorruptError, audit
from agritrace.ledger.checkpoint import NoteVerifier
from agritrace.ledger.commitment import is_sealed
from agritrace.trace import access, disclosure, events, journal, overview, recalls, registry
from agritrace.trace.models import Certificate, Role, lot_ref
from agritrace.web import db, ring, state
from agritrace.web.auth import protect, require, signed_in_user
from agritrace.web.charts import bar_chart
from agritrace.web.views import (
    attempt,
    export_lot,
    export_range,
    export_response,
    form_text,
    review_response,
)

__all__ = ["AUDIT_THREADS", "bp"]

bp = Blueprint("inspect", __name__, url_prefix="/inspect")
protect(bp)
inspector = require(Role.INSPECTOR, Role.ADMIN)

PAGE = 50
#: Where the running audits' threads are kept in ``app.extensions`` (tests join them).
AUDIT_THREADS = "agritrace.audits"


def _whole(raw: str | None, name: str, *, default: int | None = None) -> int | None:
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise InvalidInputError(key="input.whole_number", field=name)
    return int(raw)


@bp.get("/")
@inspector
def home() -> ResponseReturnValue:
    session = db()
    return render_template(
        "inspect/home.html",
        head=store.head(session),
        latest=store.latest_checkpoint(session),
        last_audit=access.latest_audit_run(session, finished=True),
        running=access.latest_audit_run(session),
        origin=state().settings.origin,
    )


def _audit_in_background(app: Flask, run_id: int) -> None:
    with app.app_context():
        web = state()
        verifiers = journal.verifiers(web.settings.origin, web.keys.infos())
        done = 0

        def progress(count: int) -> None:
            nonlocal done
            done = count
            with web.sessions() as writer:
                access.set_audit_progress(writer, run_id, count)

        with web.sessions() as reader, web.sessions() as writer:
            try:
                report = audit(reader, verifiers=verifiers, progress=progress)
            except LedgerCorruptError as exc:
                index = exc.facts.get("index")
                problem = exc.facts.get("problem")
                access.finish_audit_run(
                    writer,
                    run_id,
                    intact=False,
                    message=str(exc),
                    first_bad_index=index if isinstance(index, int) else None,
                    done=done,
                    now=utcnow(),
                    problem=problem if problem in PROBLEMS else None,
                )
            except Exception as exc:  # the run must end whatever happens; the error is logged
                app.logger.exception("audit run %s failed", run_id)
                access.finish_audit_run(
                    writer,
                    run_id,
                    intact=False,
                    message=f"the audit could not run: {type(exc).__name__}",
                    first_bad_index=None,
                    done=done,
                    now=utcnow(),
                    problem="error",
                )
            else:
                access.finish_audit_run(
                    writer,
                    run_id,
                    intact=True,
                    message=f"{report.size} entries and {report.checkpoints} checkpoints verified",
                    first_bad_index=None,
                    done=report.size,
                    now=utcnow(),
                    checkpoints=report.checkpoints,
                )


@bp.post("/audit")
@inspector
def start_audit() -> ResponseReturnValue:
    user = signed_in_user()
    session = db()
    run = access.start_audit_run(
        session, by=user.username, target_size=store.head(session).size, now=utcnow()
    )
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    thread = threading.Thread(
        target=_audit_in_background, args=(app, run.id), name=f"audit-{run.id}", daemon=True
    )
    app.extensions.setdefault(AUDIT_THREADS, {})[run.id] = thread
    thread.start()
    return redirect(url_for("inspect.audit_run", run_id=run.id), 303)


@bp.get("/audit/<int:run_id>")
@inspector
def audit_run(run_id: int) -> ResponseReturnValue:
    run = access.get_audit_run(db(), run_id)
    return render_template("inspect/audit.html", run=run)


@bp.get("/entries")
@inspector
def entries() -> ResponseReturnValue:
    before = _whole(request.args.get("before"), "before")
    rows = overview.entries_page(db(), before=before, limit=PAGE)
    next_url = (
        url_for("inspect.entries", before=rows[-1].idx) if len(rows) == PAGE and rows else None
    )
    listed = [(row, overview.entry_summary(row)) for row in rows]
    return render_template("inspect/entries.html", rows=listed, next_url=next_url)


@bp.get("/entries/<int:index>")
@inspector
def entry(index: int) -> ResponseReturnValue:
    session = db()
    found = store.get_entry(session, index)
    sizes = [s for s in overview.checkpoint_sizes(session) if s > index]
    revealed = None
    try:
        body = json.loads(found.content)
        content = json.dumps(body, ensure_ascii=False, indent=2)
    except ValueError:
        content = found.content.decode("utf-8", "replace")
    else:
        if isinstance(body, dict) and is_sealed(body):  # an inspector sees private fields
            opened = disclosure.revealed_body(session, index, body)
            revealed = json.dumps(opened, ensure_ascii=False, indent=2)
    return render_template(
        "inspect/entry.html", entry=found, content=content, revealed=revealed, sizes=sizes
    )


def _verifiers() -> list[NoteVerifier]:
    web = state()
    return journal.verifiers(web.settings.origin, web.keys.infos())


@bp.get("/proof/inclusion")
@inspector
def inclusion() -> ResponseReturnValue:
    index = _whole(request.args.get("index"), "index")
    size = _whole(request.args.get("size"), "size")
    if index is None or size is None:
        raise InvalidInputError(key="ledger.proof_needs_index_and_size")
    check = overview.check_inclusion(db(), index=index, size=size, verifiers=_verifiers())
    return render_template("inspect/inclusion.html", check=check), 200 if check.ok else 422


@bp.get("/proof/consistency")
@inspector
def consistency() -> ResponseReturnValue:
    session = db()
    sizes = overview.checkpoint_sizes(session)
    old = _whole(request.args.get("old"), "old")
    new = _whole(request.args.get("new"), "new")
    check = None
    if old is not None and new is not None:
        if old > new:
            old, new = new, old
        check = overview.check_consistency(session, old=old, new=new, verifiers=_verifiers())
    status = 200 if check is None or check.ok else 422
    return render_template("inspect/consistency.html", check=check, sizes=sizes), status


@bp.get("/facilities")
@inspector
def facilities() -> ResponseReturnValue:
    today = utcnow().astimezone(state().settings.zone).date()
    return render_template(
        "inspect/facilities.html",
        facilities=registry.list_facilities(db()),
        today=today,
        error=None,
    )


def _facility_page(
    code: str, *, error: AgritraceError | None = None, status: int = 200
) -> ResponseReturnValue:
    facility = registry.get_facility(db(), code)
    today = utcnow().astimezone(state().settings.zone).date()
    page = render_template(
        "inspect/facility.html",
        facility=facility,
        lots=registry.list_lots(db(), facility_code=facility.code),
        today=today,
        error=error,
    )
    return page, status


@bp.get("/facilities/<code>")
@inspector
def facility(code: str) -> ResponseReturnValue:
    return _facility_page(code)


@bp.post("/facilities/<code>/suspend")
@inspector
def suspend_facility(code: str) -> ResponseReturnValue:
    reason = form_text(request.form, "reason", limit=600)
    registry.get_facility(db(), code)  # 404 before anything else
    _, error = attempt(lambda: registry.suspend_facility(db(), code, reason=reason))
    if error is not None:
        return _facility_page(code, error=error, status=error.http_status)
    return redirect(url_for("inspect.facility", code=code.upper()), 303)


@bp.post("/certificates/<int:certificate_id>/suspend")
@inspector
def suspend_certificate(certificate_id: int) -> ResponseReturnValue:
    certificate = db().get(Certificate, certificate_id)
    if certificate is None:
        raise NotFoundError(key="certificate.unknown_id", certificate=certificate_id)
    code = certificate.facility.code
    scheme, number = certificate.scheme.value, certificate.number
    reason = form_text(request.form, "reason", limit=600)
    _, error = attempt(
        lambda: registry.suspend_certificate(db(), scheme=scheme, number=number, reason=reason)
    )
    if error is not None:
        return _facility_page(code, error=error, status=error.http_status)
    return redirect(url_for("inspect.facility", code=code), 303)


@bp.get("/lots")
@inspector
def lots() -> ResponseReturnValue:
    after = _whole(request.args.get("after"), "after")
    rows = overview.lots_page(db(), facility_id=None, after=after, limit=PAGE)
    next_url = url_for("inspect.lots", after=rows[-1].id) if len(rows) == PAGE else None
    return render_template("inspect/lots.html", lots=rows, next_url=next_url)


def _lot_page(
    facility_code: str, code: str, *, error: AgritraceError | None = None, status: int = 200
) -> ResponseReturnValue:
    session = db()
    lot = registry.get_lot(session, lot_ref(facility_code, code))
    page = render_template(
        "inspect/lot.html",
        lot=lot,
        ref=lot.ref,
        downstream=recalls.downstream_lots(session, lot),
        events=[
            events.event_record(session, event)
            for event in events.list_events(session, lot_ref=lot.ref)
        ],
        error=error,
    )
    return page, status


@bp.get("/lots/<facility_code>/<code>")
@inspector
def lot(facility_code: str, code: str) -> ResponseReturnValue:
    return _lot_page(facility_code, code)


@bp.post("/lots/<facility_code>/<code>/recall")
@inspector
def recall(facility_code: str, code: str) -> ResponseReturnValue:
    ref = lot_ref(facility_code, code)
    registry.get_lot(db(), ref)
    reason = form_text(request.form, "reason", limit=600)
    _, error = attempt(
        lambda: recalls.recall_lot(
            db(), lot_ref=ref, reason=reason, signer=ring().active_signer(KeyPurpose.STAMP)
        )
    )
    if error is not None:
        return _lot_page(facility_code, code, error=error, status=error.http_status)
    return redirect(url_for("inspect.lot", facility_code=facility_code, code=code), 303)


@bp.get("/lots/<facility_code>/<code>/export.<kind>")
@inspector
def export(facility_code: str, code: str, kind: str) -> ResponseReturnValue:
    made, name = export_lot(registry.get_lot(db(), lot_ref(facility_code, code)), kind)
    return export_response(made, name)


@bp.get("/exports/fsma")
@inspector
def export_fsma() -> ResponseReturnValue:
    start, end = request.args.get("from", ""), request.args.get("to", "")
    if not start and not end:
        return render_template("inspect/exports.html")
    made, name = export_range(start[:20], end[:20])
    return export_response(made, name)


@bp.get("/stamps")
@inspector
def stamps() -> ResponseReturnValue:
    """Stamps flagged for review (or decided), every facility."""
    rows = overview.facility_scans(db(), facility_id=None, flagged_only=True, limit=500)
    return render_template("inspect/stamps.html", rows=rows)


@bp.post("/stamps/<int:serial>/review")
@inspector
def review(serial: int) -> ResponseReturnValue:
    """Confirm or clear a flag on any stamp, with a reason (a ledger entry, a checkpoint)."""
    return review_response(serial, redirect_to=url_for("inspect.stamps"))


@bp.get("/dashboard")
@inspector
def dashboard() -> ResponseReturnValue:
    zone = state().settings.zone
    days = _whole(request.args.get("days"), "days", default=30) or 30
    days = min(max(days, 7), 365)
    today = utcnow().astimezone(zone).date()
    series = overview.daily_counts(db(), days=days, today=today, zone=zone)
    labels = [f"{d.day.day:02d}/{d.day.month:02d}" for d in series]
    issued = bar_chart(
        list(zip(labels, (d.issued for d in series), strict=True)),
        title="stamps issued per day",
        description=f"{sum(d.issued for d in series)} stamps issued in {days} days",
    )
    scanned = bar_chart(
        list(zip(labels, (d.scanned for d in series), strict=True)),
        title="stamps first scanned per day",
        description=f"{sum(d.scanned for d in series)} stamps first scanned in {days} days",
        color="#0645ad",
    )
    return render_template(
        "inspect/dashboard.html",
        days=days,
        series=series,
        issued_chart=issued,
        scanned_chart=scanned,
        suspicious=overview.facility_scans(db(), facility_id=None, flagged_only=True, limit=50),
        since=today - dt.timedelta(days=days - 1),
    )
