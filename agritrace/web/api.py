"""The JSON API, ``/api/v1``. Public for now: ``GET /api/v1/stamps/<code>``.

``GET /api/v1/stamps/<code>`` answers 200 with the verdict and provenance of any code (a
code that is not a genuine issued stamp is a verdict, ``not_genuine`` with its ``reason``,
not an error); see :meth:`agritrace.trace.scans.StampCheck.to_json` for the fields, plus
``links`` to the scan page and to each journey step's ledger proof. A GET is safe: it
never counts as a scan. Errors are RFC 9457 problem documents.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, url_for

from agritrace.db import utcnow
from agritrace.trace import scans
from agritrace.web import db, state

__all__ = ["bp"]

bp = Blueprint("api", __name__, url_prefix="/api/v1")


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
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response
