"""The OpenAPI 3.1 description of ``/api/v1``, generated from the declared shapes.

``components/schemas`` is made from the pydantic models of ``web/api_shapes.py`` (the same
models that validate request bodies); this module only lists the operations: path, method,
parameters, which model is the body and which answers. Served at ``/api/v1/openapi.json``.
Tests diff it against ``app.url_map``, validate it with openapi-spec-validator and run
schemathesis against it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from agritrace.web import api_answers as answers
from agritrace.web import api_shapes as shapes

__all__ = ["OPERATIONS", "Operation", "openapi_document"]

_REF = "#/components/schemas/{model}"
_STRING = {"type": "string"}
_INT = {"type": "integer"}
_AUTHED = (401, 403, 429)
_WRITE = (*_AUTHED, 404, 409, 413, 422, 503)
_PROBLEMS = {
    401: "No valid bearer token",
    403: "Another role or another facility",
    404: "No such record",
    409: "Clashes with the current state",
    413: "The body is too large",
    422: "Invalid input or a broken rule",
    429: "Too many requests",
    503: "Signing or storage unavailable",
}


def _param(name: str, where: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": where, "required": where == "path", "schema": schema}


_PAGE = shapes.query_parameters(shapes.PageQuery)
_LOT_PATH = (_param("facility_code", "path", _STRING), _param("code", "path", _STRING))
_BATCH_PATH = (_param("batch_id", "path", _INT),)
_FILES = {
    "application/ld+json": {"schema": {}},
    "text/csv": {"schema": _STRING},
    "application/json": {"schema": {"type": "object"}},
}
_ANY_JSON = {"application/json": {"schema": {"type": "object"}}}
_STAMP_FILES = {
    "application/pdf": {"schema": {}},
    "text/csv": {"schema": _STRING},
    "application/zip": {"schema": {}},
}


@dataclass(frozen=True)
class Operation:
    """One documented operation. ``answer`` is the model of the success response (or a
    literal ``content`` map for files); ``body`` the request model, if any."""

    method: str
    path: str
    operation_id: str
    answer: type[BaseModel] | dict[str, Any]
    summary: str = ""
    body: type[BaseModel] | dict[str, Any] | None = None
    parameters: tuple[dict[str, Any], ...] = ()
    problems: tuple[int, ...] = _AUTHED
    public: bool = False
    status: int = 200
    description: str = "OK"
    extra: dict[str, Any] = field(default_factory=dict)


OPERATIONS: tuple[Operation, ...] = (
    Operation("get", "/stamps/{code}", "checkStamp", answers.StampCheck,
              "Verdict and provenance of a stamp code (public; not a scan)",
              parameters=(_param("code", "path", _STRING),), problems=(404, 422, 429),
              public=True),
    Operation("get", "/openapi.json", "openapi", _ANY_JSON,
              "This document (public)", problems=(429,), public=True),
    Operation("get", "/me", "me", answers.User, "The token's user"),
    Operation("get", "/lots", "listLots", answers.LotPage,
              "Lots (an operator sees its facility's)", parameters=_PAGE,
              problems=(*_AUTHED, 422)),
    Operation("post", "/lots", "createLot", answers.Lot,
              "Register a lot at the operator's facility", body=shapes.NewLot,
              problems=_WRITE, status=201),
    Operation("get", "/lots/{facility_code}/{code}", "getLot", answers.Lot,
              parameters=_LOT_PATH, problems=(*_AUTHED, 404, 422)),
    Operation("get", "/lots/{facility_code}/{code}/events", "listLotEvents", answers.EventPage,
              parameters=_LOT_PATH + _PAGE, problems=(*_AUTHED, 404, 422)),
    Operation("get", "/batches", "listBatches", answers.BatchPage, parameters=_PAGE,
              problems=(*_AUTHED, 422)),
    Operation("post", "/batches", "issueBatch", answers.Batch,
              "Issue a stamp batch for one of the operator's lots", body=shapes.NewBatch,
              problems=_WRITE, status=201),
    Operation("get", "/batches/{batch_id}", "getBatch", answers.Batch, parameters=_BATCH_PATH,
              problems=(*_AUTHED, 404, 422)),
    Operation("get", "/batches/{batch_id}/stamps.{kind}", "printBatch", _STAMP_FILES,
              "The batch's stamps: A4 label sheets (pdf), serial,url (csv) or one PNG per "
              "stamp (zip); for the operator of the lot's facility only",
              parameters=(*_BATCH_PATH, _param("kind", "path", {"enum": ["pdf", "csv", "zip"]})),
              problems=(*_AUTHED, 404, 422, 503), description="The stamps, as a download"),
    Operation("get", "/events", "listEvents", answers.EventPage, parameters=_PAGE,
              problems=(*_AUTHED, 422)),
    Operation("post", "/events", "recordEvent", answers.Recorded, body=shapes.NewEvent,
              problems=_WRITE, status=201),
    Operation("post", "/events/capture", "captureEpcis", answers.CaptureReport,
              "EPCIS 2.0 document capture (all or nothing)", body={"type": "object"},
              problems=_WRITE, status=201),
    Operation("get", "/recalls", "listRecalls", answers.RecallPage, parameters=_PAGE,
              problems=(*_AUTHED, 422)),
    Operation("post", "/recalls", "recallLot", answers.RecallPage,
              "Recall a lot and every lot made from it", body=shapes.NewRecall,
              problems=_WRITE, status=201),
    Operation("get", "/exports/{kind}", "export", _FILES,
              "EPCIS document, FSMA 204 CSV (a lot, or from/to dates) or proof bundle",
              parameters=(_param("kind", "path", {"enum": ["epcis", "fsma", "bundle"]}),
                          *shapes.query_parameters(shapes.ExportQuery)),
              problems=(*_AUTHED, 404, 422, 503),
              description="The file (X-Agritrace-Checkpoint-Size and X-Agritrace-SHA256 name "
              "the checkpoint it was taken at and its hash)"),
)  # fmt: skip


def _schema(shape: type[BaseModel] | dict[str, Any]) -> dict[str, Any]:
    if isinstance(shape, dict):
        return shape
    return {"$ref": _REF.format(model=shape.__name__)}


def _responses(op: Operation) -> dict[str, Any]:
    if isinstance(op.answer, dict) and "schema" not in op.answer:
        content = op.answer
    else:
        content = {"application/json": {"schema": _schema(op.answer)}}
    description = "Created" if op.status == 201 else op.description
    found: dict[str, Any] = {str(op.status): {"description": description, "content": content}}
    for status in op.problems:
        found[str(status)] = {
            "description": _PROBLEMS[status],
            "content": {"application/problem+json": {"schema": _schema(answers.Problem)}},
        }
    return found


def _operation(op: Operation) -> dict[str, Any]:
    found: dict[str, Any] = {"operationId": op.operation_id}
    if op.summary:
        found["summary"] = op.summary
    if op.public:
        found["security"] = []
    if op.parameters:
        found["parameters"] = list(op.parameters)
    if op.body is not None:
        found["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema(op.body)}},
        }
    found["responses"] = _responses(op)
    return found


#: Every model the document names in ``components/schemas``.
_MODELS: tuple[type[BaseModel], ...] = (
    answers.Problem, answers.User, answers.Lot, answers.LotPage, shapes.NewLot, answers.Batch,
    answers.BatchPage, shapes.NewBatch, answers.Event, answers.EventPage, shapes.LotAmount,
    shapes.NewEvent, answers.Recorded, answers.CaptureReport, answers.Recall,
    answers.RecallPage, shapes.NewRecall, answers.StampCheck,
)  # fmt: skip


@cache
def _component_schemas() -> dict[str, Any]:
    pairs = [(model, "validation") for model in _MODELS]
    _, top = models_json_schema(pairs, ref_template=_REF)  # type: ignore[arg-type]
    return dict(top.get("$defs", {}))


def openapi_document(base_url: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document for the API served at ``base_url``."""
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "agritrace API",
            "version": "1",
            "description": "Lots, stamp batches, events, recalls and exports. Errors are RFC "
            "9457 problem documents, always in English whatever Accept-Language says (the web "
            "pages show the same errors in Vietnamese or English); lists are pages (limit, "
            "cursor).",
        },
        "servers": [{"url": f"{base_url}/api/v1"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": _component_schemas(),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token (agt_...) made on the account page",
                }
            },
        },
    }
