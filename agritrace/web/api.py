"""The JSON API, ``/api/v1``: the same services as the CLI, for other systems.

Public: ``GET /api/v1/stamps/<code>`` (the verdict and provenance of any code; a code that
is not a genuine issued stamp is a verdict, ``not_genuine`` with its ``reason``, not an
error; a GET never counts as a scan) and ``GET /api/v1/openapi.json`` (OpenAPI 3.1).

Everything else needs ``Authorization: Bearer agt_...``, a token made on the account page
(stored hashed, revocable); it acts with its user's role, and an operator's token only for
its own facility. Lists are pages: ``limit`` (1-200, default 50) and the ``cursor`` of the
previous page's ``next_cursor``. Bodies are JSON objects whose values are strings (numbers
are accepted where a number is meant). Errors are RFC 9457 problem documents, in English
(``detail`` is the service's own message; pages translate, the API does not): 401 without a
valid token, 403 for another role or facility, 404, 409 and 422 for the rules, 503 when the
server cannot sign (no ``AGRITRACE_KEY_PASSPHRASE``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Response, g, jsonify, request, url_for
from flask.typing import ResponseReturnValue

from agritrace.db import utcnow
from agritrace.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from agritrace.keys import KeyPurpose
from agritrace.trace import access, events, issuance, overview, recalls, registry, scans
from agritrace.trace.epcis_import import import_epcis
from agritrace.trace.epcis_shape import check_document
from agritrace.trace.event_models import Step
from agritrace.trace.models import Lot, Role, User, lot_ref
from agritrace.trace.validation import check_json_depth
from agritrace.web import api_shapes as shapes
from agritrace.web import db, ring, state, write
from agritrace.web.openapi import openapi_document
from agritrace.web.views import export_lot, export_range, export_response, print_batch

__all__ = ["MAX_CAPTURE_BYTES", "bp"]

bp = Blueprint("api", __name__, url_prefix="/api/v1")

#: Largest EPCIS document accepted by capture.
MAX_CAPTURE_BYTES = 4 * 1024 * 1024

F = TypeVar("F", bound=Callable[..., ResponseReturnValue])
ALL_ROLES = (Role.OPERATOR, Role.INSPECTOR, Role.ADMIN)


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _token_user() -> User:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise access.AuthenticationRequiredError(
            "this endpoint needs an API token: send Authorization: Bearer <token>"
        )
    user = access.user_for_token(db(), secret.strip(), now=utcnow())
    g.user = user
    return user


def token(*roles: Role) -> Callable[[F], F]:
    """Let an endpoint run only with a valid bearer token whose user has one of ``roles``."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            user = _token_user()
            if user.role not in roles:
                raise PermissionDeniedError(f"a {user.role.value}'s token may not do this")
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def _user() -> User:
    user: User = g.user
    return user


def _facility_scope() -> int | None:
    """The facility an operator is bound to (None for inspectors and administrators)."""
    user = _user()
    return user.facility_id if user.role is Role.OPERATOR else None


def _lot(ref: str) -> Lot:
    lot = registry.get_lot(db(), ref)
    access.check_facility(_user(), lot.facility)
    return lot


# -- input ----------------------------------------------------------------------------------


def _page_args() -> tuple[int, int | None]:
    query = shapes.parse_query(shapes.PageQuery, request.args)
    return query.limit, query.cursor


def _page(items: list[Any], record: Callable[[Any], dict[str, Any]], limit: int) -> Response:
    return jsonify(
        {
            "items": [record(item) for item in items],
            "next_cursor": shapes.cursor_for(items[-1].id) if len(items) == limit else None,
        }
    )


def _body(model: type[shapes.RequestModel]) -> shapes.RequestModel:
    return shapes.parse_body(model, request.get_json(silent=True))


def _amounts(given: list[shapes.LotAmount] | None, name: str) -> list[events.LotAmount]:
    if given is None:
        raise InvalidInputError(
            f"{name} must be a list of 1 to {shapes.MAX_AMOUNTS} lot amounts", field=name
        )
    return [events.LotAmount(item.lot, item.quantity, item.unit) for item in given]


def _required(value: str | None, name: str) -> str:
    if value is None:
        raise InvalidInputError(f"{name} is required", field=name)
    return value


def _created(body: dict[str, Any], location: str) -> Response:
    response = jsonify(body)
    response.status_code = 201
    response.headers["Location"] = location
    return response


def _write(action: Callable[[], Any]) -> Any:
    """Open the key ring (503 without it) before writing, then sign a checkpoint."""
    with write():
        return action()


# -- public ---------------------------------------------------------------------------------


@bp.get("/stamps/<path:code>")
def stamp(code: str) -> Response:
    web = state()
    result = scans.check_stamp(
        db(),
        code,
        prefix=web.prefix,
        public_keys=web.keys.stamp_keys(),
        now=utcnow(),
        cache=web.scan_cache,
    )
    body = result.to_json()
    for step in body["journey"]:
        step["proof_url"] = url_for("wellknown.entry", raw_index=step["ledger_index"])
    body["links"] = {"page": url_for("scan.stamp", code=code)}
    return jsonify(body)


@bp.get("/openapi.json")
def openapi() -> Response:
    response = jsonify(openapi_document(state().settings.base_url))
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/me")
@token(*ALL_ROLES)
def me() -> Response:
    return jsonify(registry.user_record(_user()))


# -- lots -----------------------------------------------------------------------------------


@bp.get("/lots")
@token(*ALL_ROLES)
def lots() -> Response:
    limit, after = _page_args()
    found = overview.lots_page(db(), facility_id=_facility_scope(), after=after, limit=limit)
    return _page(found, registry.lot_record, limit)


@bp.post("/lots")
@token(Role.OPERATOR)
def create_lot() -> Response:
    body = _body(shapes.NewLot)
    facility = access.operator_facility(_user())
    facility_code = facility.code

    def create() -> Lot:
        return registry.create_lot(
            db(),
            facility_code=facility_code,
            product_code=body.product,
            code=body.code,
            units=body.units,
            quantity=body.quantity,
            quantity_unit=body.quantity_unit,
            harvest_date=body.harvest_date,
            origin_area=body.origin_area,
            pack_date=body.pack_date or None,
            latitude=body.latitude or None,
            longitude=body.longitude or None,
        )

    lot = _write(create)
    return _created(
        registry.lot_record(lot),
        url_for("api.lot", facility_code=lot.facility.code, code=lot.code),
    )


@bp.get("/lots/<facility_code>/<code>")
@token(*ALL_ROLES)
def lot(facility_code: str, code: str) -> Response:
    found = _lot(lot_ref(facility_code, code))
    record = registry.lot_record(found)
    record["stamps_issued"] = issuance.issued_for_lot(db(), found)
    return jsonify(record)


@bp.get("/lots/<facility_code>/<code>/events")
@token(*ALL_ROLES)
def lot_events(facility_code: str, code: str) -> Response:
    found = _lot(lot_ref(facility_code, code))
    limit, after = _page_args()
    rows = overview.events_page(db(), facility_id=None, lot_id=found.id, after=after, limit=limit)
    session = db()
    return _page(rows, lambda e: {"id": e.id} | events.event_record(session, e), limit)


# -- stamp batches ----------------------------------------------------------------------------


@bp.get("/batches")
@token(*ALL_ROLES)
def batches() -> Response:
    limit, after = _page_args()
    found = overview.batches_page(db(), facility_id=_facility_scope(), after=after, limit=limit)
    return _page(found, issuance.batch_record, limit)


@bp.post("/batches")
@token(Role.OPERATOR)
def issue_batch() -> Response:
    body = _body(shapes.NewBatch)
    target = _lot(body.lot)
    ref = target.ref
    count = body.count
    claim_codes = body.claim_codes

    def issue() -> Any:
        key_id = ring().active(KeyPurpose.STAMP).key_id
        return issuance.issue_batch(
            db(),
            lot_ref=ref,
            count=count,
            key_id=key_id,
            prefix=state().prefix,
            claim_codes=claim_codes,
        )

    batch = _write(issue)
    return _created(issuance.batch_record(batch), url_for("api.batch", batch_id=batch.id))


def _batch(batch_id: int) -> Any:
    found = issuance.get_batch(db(), batch_id)
    access.check_facility(_user(), found.lot.facility)
    return found


@bp.get("/batches/<int:batch_id>")
@token(*ALL_ROLES)
def batch(batch_id: int) -> Response:
    return jsonify(issuance.batch_record(_batch(batch_id)))


@bp.get("/batches/<int:batch_id>/stamps.<kind>")
@token(Role.OPERATOR)
def batch_stamps(batch_id: int, kind: str) -> Response:
    """Printable stamps: only for the operator of the lot's facility (anyone holding them can
    print genuine labels, so inspectors and administrators do not get them either)."""
    if kind not in {"pdf", "csv", "zip"}:
        raise NotFoundError(f"stamps are printed as pdf, csv or zip, not {kind[:10]!r}")
    return print_batch(_batch(batch_id), kind)


# -- events -----------------------------------------------------------------------------------


@bp.get("/events")
@token(*ALL_ROLES)
def list_events() -> Response:
    limit, after = _page_args()
    rows = overview.events_page(db(), facility_id=_facility_scope(), after=after, limit=limit)
    session = db()
    return _page(rows, lambda e: {"id": e.id} | events.event_record(session, e), limit)


@bp.post("/events")
@token(Role.OPERATOR)
def record_event() -> Response:
    body = _body(shapes.NewEvent)
    facility = access.operator_facility(_user())
    zone = state().settings.zone
    kind = body.step
    time_text = body.event_time

    def record() -> events.RecordedEvent:
        moment = events.parse_event_time(time_text, zone=zone)
        if kind == "processing":
            return events.record_transformation(
                db(),
                facility_code=facility.code,
                event_time=moment,
                inputs=_amounts(body.inputs, "inputs"),
                outputs=_amounts(body.outputs, "outputs"),
                certified=body.certified,
                note=body.note,
            )
        return events.record_event(
            db(),
            step=kind,
            lot_ref=_required(body.lot, "lot"),
            facility_code=facility.code,
            event_time=moment,
            quantity=body.quantity,
            unit=body.unit,
            destination=body.destination,
            temperature_c=body.temperature,
            certified=body.certified,
            passed=body.passed,
            note=body.note,
        )

    if kind not in {step.value for step in Step}:
        raise InvalidInputError(f"unknown step {kind[:30]!r}", field="step")
    recorded = _write(record)
    return _created(
        {
            "event_id": recorded.event_id,
            "ledger_index": recorded.ledger_index,
            "step": recorded.step.value,
        },
        url_for("wellknown.entry", raw_index=recorded.ledger_index),
    )


def _event_locations(document: object) -> list[str]:
    """Where each event of an EPCIS document happened (its bizLocation, else readPoint)."""
    body = document.get("epcisBody") if isinstance(document, dict) else None
    event_list = body.get("eventList") if isinstance(body, dict) else None
    found = []
    for item in event_list if isinstance(event_list, list) else []:
        place = None
        if isinstance(item, dict):
            place = item.get("bizLocation") or item.get("readPoint")
        found.append(str(place.get("id", "")) if isinstance(place, dict) else "")
    return found


def _has_master_data(document: object) -> bool:
    header = document.get("epcisHeader") if isinstance(document, dict) else None
    master = header.get("epcisMasterData") if isinstance(header, dict) else None
    return bool(master.get("vocabularyList")) if isinstance(master, dict) else master is not None


@bp.post("/events/capture")
@token(Role.OPERATOR, Role.ADMIN)
def capture() -> Response:
    """EPCIS 2.0 document capture, all or nothing. An operator's document carries no master
    data (which could register facilities, products and lots) and records events only at
    the operator's own facility; an administrator's may do both."""
    request.max_content_length = MAX_CAPTURE_BYTES
    data = request.get_data(cache=False)
    user = _user()
    if user.role is Role.OPERATOR:
        try:
            check_json_depth(data)
            document = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidInputError(f"the body is not JSON: {exc}") from exc
        check_document(document)
        own = events.facility_uri(access.operator_facility(user))
        if _has_master_data(document):
            raise PermissionDeniedError(
                "an operator's capture carries events only, no master data: register "
                "facilities and lots first"
            )
        for place in _event_locations(document):
            if place != own:
                raise PermissionDeniedError(
                    f"an operator records events only at its own facility ({own})"
                )
    with write():  # the import writes on its own connection, all or nothing
        report = import_epcis(state().engine, data, now=utcnow())
    response = jsonify(
        {
            "facilities_created": report.facilities_created,
            "lots_created": report.lots_created,
            "events_recorded": report.events_recorded,
            "corrections": report.corrections,
            "event_ids": list(report.event_ids),
        }
    )
    response.status_code = 201
    return response


# -- recalls and exports --------------------------------------------------------------------


def _recall_record(recall: Any) -> dict[str, Any]:
    return {"id": recall.id} | recalls.recall_record(recall)


@bp.get("/recalls")
@token(Role.INSPECTOR, Role.ADMIN)
def list_recalls() -> Response:
    limit, after = _page_args()
    return _page(overview.recalls_page(db(), after=after, limit=limit), _recall_record, limit)


@bp.post("/recalls")
@token(Role.INSPECTOR, Role.ADMIN)
def recall() -> Response:
    body = _body(shapes.NewRecall)
    ref = body.lot
    reason = body.reason
    registry.get_lot(db(), ref)
    done = _write(
        lambda: recalls.recall_lot(
            db(), lot_ref=ref, reason=reason, signer=ring().active_signer(KeyPurpose.STAMP)
        )
    )
    response = jsonify({"items": [_recall_record(r) for r in done], "next_cursor": None})
    response.status_code = 201
    return response


@bp.get("/exports/<kind>")
@token(Role.INSPECTOR, Role.ADMIN)
def export(kind: str) -> Response:
    query = shapes.parse_query(shapes.ExportQuery, request.args)
    if kind == "fsma" and not query.lot:
        made, name = export_range(query.from_, query.to)
        return export_response(made, name)
    if kind not in {"epcis", "fsma", "bundle"}:
        raise NotFoundError(f"exports are epcis, fsma or bundle, not {kind[:20]!r}")
    if not query.lot:
        raise InvalidInputError("lot is required", parameter="lot")
    made, name = export_lot(registry.get_lot(db(), query.lot), kind)
    return export_response(made, name)
