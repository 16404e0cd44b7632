"""The OpenAPI 3.1 description of ``/api/v1``, written by hand as a Python dict.

Served at ``/api/v1/openapi.json``. Tests run schemathesis against it: every documented
operation, with generated input, must answer without a 5xx and with a response that
matches its documented status, media type and schema.
"""

from __future__ import annotations

from typing import Any

__all__ = ["openapi_document"]

_PROBLEM = {"$ref": "#/components/schemas/Problem"}
_STRING = {"type": "string"}
_NULLABLE_STRING = {"type": ["string", "null"]}
_INT = {"type": "integer"}


def _problems(*statuses: int) -> dict[str, Any]:
    names = {
        401: "No valid bearer token",
        403: "Another role or another facility",
        404: "No such record",
        409: "Clashes with the current state",
        413: "The body is too large",
        422: "Invalid input or a broken rule",
        429: "Too many requests",
        503: "Signing or storage unavailable",
    }
    return {
        str(status): {
            "description": names[status],
            "content": {"application/problem+json": {"schema": _PROBLEM}},
        }
        for status in statuses
    }


_AUTHED = (401, 403, 429)
_PAGE_PARAMS = [
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
    },
    {"name": "cursor", "in": "query", "required": False, "schema": _STRING},
]
_LOT_PATH = [
    {"name": "facility_code", "in": "path", "required": True, "schema": _STRING},
    {"name": "code", "in": "path", "required": True, "schema": _STRING},
]


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _page_of(name: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": _ref(name)},
            "next_cursor": {
                "type": ["string", "null"],
                "description": "Pass as cursor for the next page; null on the last page.",
            },
        },
    }


def _body(name: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(name)}}}


_FILE = {
    "description": "The file (X-Agritrace-Checkpoint-Size and X-Agritrace-SHA256 name the "
    "checkpoint it was taken at and its hash)",
    "content": {
        "application/ld+json": {"schema": {}},
        "text/csv": {"schema": _STRING},
        "application/json": {"schema": {"type": "object"}},
    },
}

_SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details",
        "required": ["type", "title", "status"],
        "properties": {
            "type": _STRING,
            "title": _STRING,
            "status": _INT,
            "detail": _STRING,
            "instance": _STRING,
        },
    },
    "User": {
        "type": "object",
        "required": ["id", "username", "role", "facility", "active"],
        "properties": {
            "id": _INT,
            "username": _STRING,
            "role": {"enum": ["admin", "operator", "inspector"]},
            "facility": _NULLABLE_STRING,
            "active": {"type": "boolean"},
        },
    },
    "Lot": {
        "type": "object",
        "required": ["id", "code", "ref", "facility", "product", "units", "status"],
        "properties": {
            "id": _INT,
            "code": _STRING,
            "ref": _STRING,
            "facility": _STRING,
            "product": _STRING,
            "units": _INT,
            "quantity": _STRING,
            "quantity_unit": _STRING,
            "harvest_date": {"type": "string", "format": "date"},
            "pack_date": {"type": ["string", "null"], "format": "date"},
            "origin_area": _STRING,
            "latitude": _NULLABLE_STRING,
            "longitude": _NULLABLE_STRING,
            "status": {"enum": ["active", "recalled"]},
            "stamps_issued": _INT,
        },
    },
    "NewLot": {
        "type": "object",
        "required": [
            "product",
            "code",
            "units",
            "quantity",
            "quantity_unit",
            "harvest_date",
            "origin_area",
        ],
        "properties": {
            "product": _STRING,
            "code": _STRING,
            "units": {"type": ["string", "integer"]},
            "quantity": _STRING,
            "quantity_unit": _STRING,
            "harvest_date": {"type": "string", "format": "date"},
            "pack_date": {"type": "string", "format": "date"},
            "origin_area": _STRING,
            "latitude": _STRING,
            "longitude": _STRING,
        },
    },
    "Batch": {
        "type": "object",
        "required": ["id", "lot", "first_serial", "last_serial", "count", "ledger_index"],
        "properties": {
            "id": _INT,
            "lot": _STRING,
            "first_serial": _INT,
            "last_serial": _INT,
            "count": _INT,
            "key_id": _INT,
            "prefix": _STRING,
            "ledger_index": _INT,
            "created_at": _STRING,
            "claim_codes": {"type": "boolean"},
        },
    },
    "NewBatch": {
        "type": "object",
        "required": ["lot", "count"],
        "properties": {
            "lot": _STRING,
            "count": {"type": ["string", "integer"]},
            "claim_codes": {
                "type": "boolean",
                "description": "give each stamp a claim code for a scratch-off layer "
                "(printed in the PDF labels and the CSV's claim_code column)",
            },
        },
    },
    "Event": {
        "type": "object",
        "required": ["id", "event_id", "ledger_index", "step", "facility", "event_time", "lots"],
        "properties": {
            "id": _INT,
            "event_id": _STRING,
            "ledger_index": _INT,
            "step": _STRING,
            "facility": _STRING,
            "event_time": _STRING,
            "lots": {"type": "array", "items": {"type": "object"}},
            "other_facility": _NULLABLE_STRING,
            "corrected_by": {"type": ["integer", "null"]},
            "correction_reason": _NULLABLE_STRING,
        },
    },
    "LotAmount": {
        "type": "object",
        "required": ["lot", "quantity"],
        "properties": {"lot": _STRING, "quantity": _STRING, "unit": _STRING},
    },
    "NewEvent": {
        "type": "object",
        "required": ["step", "event_time"],
        "description": "An ObjectEvent for `lot`, or (step processing) a TransformationEvent "
        "from `inputs` to `outputs`. Always recorded by the token's facility.",
        "properties": {
            "step": {
                "enum": [
                    "harvest",
                    "packing",
                    "cooling",
                    "storing",
                    "shipping",
                    "receiving",
                    "inspecting",
                    "processing",
                ]
            },
            "event_time": {"type": "string", "format": "date-time"},
            "lot": _STRING,
            "quantity": _STRING,
            "unit": _STRING,
            "destination": _STRING,
            "temperature": _STRING,
            "certified": {"type": "boolean"},
            "passed": {"type": "boolean"},
            "note": _STRING,
            "inputs": {"type": "array", "items": _ref("LotAmount")},
            "outputs": {"type": "array", "items": _ref("LotAmount")},
        },
    },
    "Recorded": {
        "type": "object",
        "required": ["event_id", "ledger_index", "step"],
        "properties": {"event_id": _STRING, "ledger_index": _INT, "step": _STRING},
    },
    "CaptureReport": {
        "type": "object",
        "required": ["events_recorded"],
        "properties": {
            "facilities_created": _INT,
            "lots_created": _INT,
            "events_recorded": _INT,
            "corrections": _INT,
            "event_ids": {"type": "array", "items": _STRING},
        },
    },
    "Recall": {
        "type": "object",
        "required": ["id", "lot", "reason", "ledger_index"],
        "properties": {
            "id": _INT,
            "lot": _STRING,
            "recalled_because_of": _STRING,
            "reason": _STRING,
            "recalled_at": _STRING,
            "ledger_index": _INT,
        },
    },
    "NewRecall": {
        "type": "object",
        "required": ["lot", "reason"],
        "properties": {"lot": _STRING, "reason": _STRING},
    },
    "StampCheck": {
        "type": "object",
        "required": ["verdict"],
        "properties": {
            "verdict": {"enum": ["genuine", "recalled", "suspicious", "not_genuine"]},
            "reason": _NULLABLE_STRING,
            "notes": {
                "type": "array",
                "items": {"enum": ["many-scans", "distant-places"]},
                "description": "signals any client could fake: informational, they never "
                "change the verdict",
            },
            "claim": {
                "type": ["object", "null"],
                "description": "null unless the stamp has a scratch-off claim code",
                "properties": {
                    "claimed": {"type": "boolean"},
                    "claimed_on": _NULLABLE_STRING,
                    "province": _NULLABLE_STRING,
                    "claimed_twice": {"type": "boolean"},
                },
            },
            "review": {
                "type": ["object", "null"],
                "properties": {
                    "decision": {"enum": ["confirmed", "cleared"]},
                    "reason": _STRING,
                    "reviewed_at": _STRING,
                },
            },
        },
    },
}


def openapi_document(base_url: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document for the API served at ``base_url``."""
    secured: list[dict[str, list[str]]] = [{"bearer": []}]
    paths: dict[str, Any] = {
        "/stamps/{code}": {
            "get": {
                "operationId": "checkStamp",
                "summary": "Verdict and provenance of a stamp code (public; not a scan)",
                "security": [],
                "parameters": [{"name": "code", "in": "path", "required": True, "schema": _STRING}],
                "responses": {"200": _json(_ref("StampCheck")), **_problems(404, 422, 429)},
            }
        },
        "/me": {
            "get": {
                "operationId": "me",
                "summary": "The token's user",
                "responses": {"200": _json(_ref("User")), **_problems(*_AUTHED)},
            }
        },
        "/lots": {
            "get": {
                "operationId": "listLots",
                "summary": "Lots (an operator sees its facility's)",
                "parameters": _PAGE_PARAMS,
                "responses": {"200": _json(_page_of("Lot")), **_problems(*_AUTHED, 422)},
            },
            "post": {
                "operationId": "createLot",
                "summary": "Register a lot at the operator's facility",
                "requestBody": _body("NewLot"),
                "responses": {
                    "201": _json(_ref("Lot"), "Created"),
                    **_problems(*_AUTHED, 404, 409, 413, 422, 503),
                },
            },
        },
        "/lots/{facility_code}/{code}": {
            "get": {
                "operationId": "getLot",
                "parameters": _LOT_PATH,
                "responses": {"200": _json(_ref("Lot")), **_problems(*_AUTHED, 404, 422)},
            }
        },
        "/lots/{facility_code}/{code}/events": {
            "get": {
                "operationId": "listLotEvents",
                "parameters": _LOT_PATH + _PAGE_PARAMS,
                "responses": {"200": _json(_page_of("Event")), **_problems(*_AUTHED, 404, 422)},
            }
        },
        "/batches": {
            "get": {
                "operationId": "listBatches",
                "parameters": _PAGE_PARAMS,
                "responses": {"200": _json(_page_of("Batch")), **_problems(*_AUTHED, 422)},
            },
            "post": {
                "operationId": "issueBatch",
                "summary": "Issue a stamp batch for one of the operator's lots",
                "requestBody": _body("NewBatch"),
                "responses": {
                    "201": _json(_ref("Batch"), "Created"),
                    **_problems(*_AUTHED, 404, 409, 413, 422, 503),
                },
            },
        },
        "/batches/{batch_id}": {
            "get": {
                "operationId": "getBatch",
                "parameters": [
                    {"name": "batch_id", "in": "path", "required": True, "schema": _INT}
                ],
                "responses": {"200": _json(_ref("Batch")), **_problems(*_AUTHED, 404, 422)},
            }
        },
        "/batches/{batch_id}/stamps.{kind}": {
            "get": {
                "operationId": "printBatch",
                "summary": "The batch's stamps: A4 label sheets (pdf), serial,url (csv) or one "
                "PNG per stamp (zip); for the operator of the lot's facility only",
                "parameters": [
                    {"name": "batch_id", "in": "path", "required": True, "schema": _INT},
                    {
                        "name": "kind",
                        "in": "path",
                        "required": True,
                        "schema": {"enum": ["pdf", "csv", "zip"]},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "The stamps, as a download",
                        "content": {
                            "application/pdf": {"schema": {}},
                            "text/csv": {"schema": _STRING},
                            "application/zip": {"schema": {}},
                        },
                    },
                    **_problems(*_AUTHED, 404, 422, 503),
                },
            }
        },
        "/events": {
            "get": {
                "operationId": "listEvents",
                "parameters": _PAGE_PARAMS,
                "responses": {"200": _json(_page_of("Event")), **_problems(*_AUTHED, 422)},
            },
            "post": {
                "operationId": "recordEvent",
                "requestBody": _body("NewEvent"),
                "responses": {
                    "201": _json(_ref("Recorded"), "Created"),
                    **_problems(*_AUTHED, 404, 409, 413, 422, 503),
                },
            },
        },
        "/events/capture": {
            "post": {
                "operationId": "captureEpcis",
                "summary": "EPCIS 2.0 document capture (all or nothing)",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "responses": {
                    "201": _json(_ref("CaptureReport"), "Created"),
                    **_problems(*_AUTHED, 404, 409, 413, 422, 503),
                },
            }
        },
        "/recalls": {
            "get": {
                "operationId": "listRecalls",
                "parameters": _PAGE_PARAMS,
                "responses": {"200": _json(_page_of("Recall")), **_problems(*_AUTHED, 422)},
            },
            "post": {
                "operationId": "recallLot",
                "summary": "Recall a lot and every lot made from it",
                "requestBody": _body("NewRecall"),
                "responses": {
                    "201": _json(_page_of("Recall"), "Created"),
                    **_problems(*_AUTHED, 404, 409, 413, 422, 503),
                },
            },
        },
        "/exports/{kind}": {
            "get": {
                "operationId": "export",
                "summary": "EPCIS document, FSMA 204 CSV (a lot, or from/to dates) or proof bundle",
                "parameters": [
                    {
                        "name": "kind",
                        "in": "path",
                        "required": True,
                        "schema": {"enum": ["epcis", "fsma", "bundle"]},
                    },
                    {"name": "lot", "in": "query", "required": False, "schema": _STRING},
                    {
                        "name": "from",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "format": "date"},
                    },
                    {
                        "name": "to",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "format": "date"},
                    },
                ],
                "responses": {"200": _FILE, **_problems(*_AUTHED, 404, 422, 503)},
            }
        },
    }
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
        "security": secured,
        "paths": paths,
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token (agt_...) made on the account page",
                }
            },
        },
    }
