"""The facility portal (``/portal``): an operator's own lots, stamps, events and scans.

Every page is for operators only and is scoped to the operator's facility: lots are named
by their code inside that facility, batches and events are checked against it
(:func:`agritrace.trace.access.check_facility`), and every event is recorded *by* that
facility (the services then check custody, times, certificates and quantities). A rule
the service refuses is shown beside the form (HTTP 422/409), never as an error page.
"""

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from agritrace.db import utcnow
from agritrace.errors import AgritraceError, InvalidInputError
from agritrace.keys import KeyPurpose
from agritrace.trace import access, events, issuance, overview, registry
from agritrace.trace.event_models import Step
from agritrace.trace.models import Facility, Lot, Role, lot_ref
from agritrace.web import db, ring, state
from agritrace.web.auth import protect, require, signed_in_user
from agritrace.web.views import attempt, form_text, print_batch, review_response

__all__ = ["bp"]

bp = Blueprint("portal", __name__, url_prefix="/portal")
protect(bp)
operator = require(Role.OPERATOR)

_LOT_FIELDS = (
    "product",
    "code",
    "units",
    "quantity",
    "quantity_unit",
    "harvest_date",
    "pack_date",
    "origin_area",
    "latitude",
    "longitude",
)
_EVENT_FIELDS = (
    "step",
    "lot",
    "time",
    "quantity",
    "unit",
    "destination",
    "temperature",
    "note",
)


def _facility() -> Facility:
    return access.operator_facility(signed_in_user())


def _own_lot(code: str) -> Lot:
    return registry.get_lot(db(), f"{_facility().code}/{code}")


@bp.get("/")
@operator
def home() -> ResponseReturnValue:
    facility = _facility()
    return render_template(
        "portal/home.html",
        facility=facility,
        lots=registry.list_lots(db(), facility_code=facility.code),
        incoming=overview.in_transit_to(db(), facility),
        suspicious=overview.facility_scans(
            db(), facility_id=facility.id, flagged_only=True, limit=20
        ),
    )


def _lot_form(
    values: dict[str, str], error: AgritraceError | None, status: int
) -> ResponseReturnValue:
    page = render_template(
        "portal/lot_new.html",
        facility=_facility(),
        products=registry.list_products(db()),
        values=values,
        error=error,
    )
    return page, status


@bp.route("/lots/new", methods=["GET", "POST"])
@operator
def new_lot() -> ResponseReturnValue:
    if request.method == "GET":
        return _lot_form({}, None, 200)
    values = {name: form_text(request.form, name, limit=300) for name in _LOT_FIELDS}
    facility_code = _facility().code

    def create() -> Lot:
        return registry.create_lot(
            db(),
            facility_code=facility_code,
            product_code=values["product"],
            code=values["code"],
            units=values["units"],
            quantity=values["quantity"],
            quantity_unit=values["quantity_unit"],
            harvest_date=values["harvest_date"],
            pack_date=values["pack_date"] or None,
            origin_area=values["origin_area"],
            latitude=values["latitude"] or None,
            longitude=values["longitude"] or None,
        )

    lot, error = attempt(create)
    if error is not None or lot is None:
        return _lot_form(values, error, error.http_status if error else 500)
    return redirect(url_for("portal.lot", code=lot.code), 303)


def _lot_page(
    lot: Lot, *, error: AgritraceError | None = None, status: int = 200
) -> ResponseReturnValue:
    session = db()
    ref = lot.ref
    listed = events.list_events(session, lot_ref=ref)
    page = render_template(
        "portal/lot.html",
        lot=lot,
        ref=ref,
        batches=issuance.list_batches(session, lot_ref=ref),
        issued=issuance.issued_for_lot(session, lot),
        events=[events.event_record(session, e) for e in listed],
        scans=[
            row
            for row in overview.facility_scans(session, facility_id=lot.facility_id, limit=500)
            if row.lot.id == lot.id
        ],
        error=error,
    )
    return page, status


@bp.get("/lots/<code>")
@operator
def lot(code: str) -> ResponseReturnValue:
    return _lot_page(_own_lot(code))


@bp.post("/lots/<code>/batches")
@operator
def issue(code: str) -> ResponseReturnValue:
    lot = _own_lot(code)
    ref = lot.ref

    def make() -> int:
        key_id = ring().active(KeyPurpose.STAMP).key_id
        batch = issuance.issue_batch(
            db(),
            lot_ref=ref,
            count=form_text(request.form, "count", limit=20),
            key_id=key_id,
            prefix=state().prefix,
            claim_codes=request.form.get("claim_codes") == "1",
        )
        return batch.id

    made, error = attempt(make)
    if error is not None:
        return _lot_page(_own_lot(code), error=error, status=error.http_status)
    return redirect(url_for("portal.lot", code=code, issued=made), 303)


@bp.get("/batches/<int:batch_id>/stamps.<kind>")
@operator
def stamps(batch_id: int, kind: str) -> ResponseReturnValue:
    if kind not in {"pdf", "csv", "zip"}:
        raise InvalidInputError(key="stamps.print_kind", kind=kind)
    user = signed_in_user()
    batch = issuance.get_batch(db(), batch_id)
    access.check_facility(user, batch.lot.facility)
    return print_batch(batch, kind)


def _event_form(
    values: dict[str, str], error: AgritraceError | None, status: int
) -> ResponseReturnValue:
    facility = _facility()
    page = render_template(
        "portal/event_new.html",
        facility=facility,
        steps=[s for s in Step if s is not Step.PROCESSING],
        lots=registry.list_lots(db(), facility_code=facility.code),
        incoming=overview.in_transit_to(db(), facility),
        facilities=[f for f in registry.list_facilities(db()) if f.id != facility.id],
        values=values,
        error=error,
    )
    return page, status


@bp.route("/events/new", methods=["GET", "POST"])
@operator
def new_event() -> ResponseReturnValue:
    if request.method == "GET":
        return _event_form(
            {"lot": form_text(request.args, "lot", limit=90), "step": request.args.get("step", "")},
            None,
            200,
        )
    values = {name: form_text(request.form, name, limit=500) for name in _EVENT_FIELDS}
    certified = request.form.get("certified") == "1"
    passed = request.form.get("failed") != "1"
    facility_code = _facility().code
    zone = state().settings.zone

    ref = values["lot"] if "/" in values["lot"] else lot_ref(facility_code, values["lot"])

    def record() -> events.RecordedEvent:
        return events.record_event(
            db(),
            step=_step(values["step"]),
            lot_ref=ref,
            facility_code=facility_code,
            event_time=events.parse_event_time(values["time"], zone=zone),
            quantity=values["quantity"] or None,
            unit=values["unit"] or None,
            destination=values["destination"] or None,
            temperature_c=values["temperature"] or None,
            certified=certified,
            passed=passed,
            note=values["note"] or None,
        )

    recorded, error = attempt(record)
    if error is not None or recorded is None:
        return _event_form(values, error, error.http_status if error else 500)
    lot = registry.get_lot(db(), ref)
    if lot.facility_id == _facility().id:
        return redirect(url_for("portal.lot", code=lot.code, recorded=recorded.ledger_index), 303)
    return redirect(url_for("portal.home", recorded=recorded.ledger_index), 303)


def _step(raw: str) -> Step:
    try:
        step = Step(raw.strip().lower())
    except ValueError as exc:
        raise InvalidInputError(key="event.step_unknown", field="step", step=raw) from exc
    if step is Step.PROCESSING:
        raise InvalidInputError(key="event.processing_form", field="step")
    return step


def _amounts(text: str, what: str) -> list[events.LotAmount]:
    """Lines ``FACILITY/LOT=2000 kg`` (or ``LOT=2000 kg`` for the facility's own lots)."""
    found = []
    for line in text.splitlines():
        if not line.strip():
            continue
        ref, sep, amount = line.partition("=")
        parts = amount.split()
        if not sep or not parts or len(parts) > 2:
            raise InvalidInputError(key="transform.amount_line", field=what, line=line.strip()[:80])
        ref = ref.strip() if "/" in ref else f"{_facility().code}/{ref.strip()}"
        try:
            Decimal(parts[0])
        except ArithmeticError as exc:
            raise InvalidInputError(
                key="transform.amount_number", field=what, raw=parts[0]
            ) from exc
        found.append(events.LotAmount(ref, parts[0], parts[1] if len(parts) == 2 else None))
    return found


@bp.route("/processing", methods=["GET", "POST"])
@operator
def processing() -> ResponseReturnValue:
    facility = _facility()
    if request.method == "GET":
        values: dict[str, str] = {}
        error: AgritraceError | None = None
        status = 200
    else:
        values = {
            name: form_text(request.form, name, limit=4000)
            for name in ("time", "inputs", "outputs", "note")
        }
        zone = state().settings.zone

        def record() -> events.RecordedEvent:
            return events.record_transformation(
                db(),
                facility_code=facility.code,
                event_time=events.parse_event_time(values["time"], zone=zone),
                inputs=_amounts(values["inputs"], "inputs"),
                outputs=_amounts(values["outputs"], "outputs"),
                certified=request.form.get("certified") == "1",
                note=values["note"] or None,
            )

        recorded, error = attempt(record)
        if error is None and recorded is not None:
            return redirect(url_for("portal.home", recorded=recorded.ledger_index), 303)
        status = error.http_status if error else 500
    page = render_template(
        "portal/processing.html",
        facility=facility,
        lots=registry.list_lots(db(), facility_code=facility.code),
        values=values,
        error=error,
    )
    return page, status


@bp.post("/events/<int:index>/correct")
@operator
def correct(index: int) -> ResponseReturnValue:
    facility = _facility()
    reason = form_text(request.form, "reason", limit=600)
    lot_code = form_text(request.form, "lot", limit=60)
    lot = _own_lot(lot_code)
    _, error = attempt(
        lambda: events.correct_event(
            db(), ledger_index=index, facility_code=facility.code, reason=reason
        )
    )
    if error is not None:
        return _lot_page(lot, error=error, status=error.http_status)
    return redirect(url_for("portal.lot", code=lot.code), 303)


@bp.post("/scans/<int:serial>/review")
@operator
def review(serial: int) -> ResponseReturnValue:
    """Confirm or clear a flag on one of this facility's stamps, with a reason (a ledger
    entry, then a checkpoint); another facility's stamp is refused (403)."""
    return review_response(serial, redirect_to=url_for("portal.scans"))


@bp.get("/scans")
@operator
def scans() -> ResponseReturnValue:
    facility = _facility()
    return render_template(
        "portal/scans.html",
        facility=facility,
        rows=overview.facility_scans(db(), facility_id=facility.id, limit=500),
        now=utcnow(),
    )
