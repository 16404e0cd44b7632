"""The web's one error edge: every error becomes a friendly page or an RFC 9457 problem.

* An :class:`~agritrace.errors.AgritraceError` answers with its family's ``http_status``.
* A werkzeug HTTP error (404, 405, 400, 413, ...) answers with its own status.
* A database that cannot be reached answers 503.
* Anything else is a bug: it is logged with its traceback and answered with a plain 500
  that shows no detail.

Paths under ``/api/``, ``/ledger/`` and ``/.well-known/`` get ``application/problem+json``
(RFC 9457: ``type``, ``title``, ``status``, ``detail``, ``instance``, plus the error's
simple facts for 4xx); every other path gets an HTML page in the visitor's language. Paths
that also answer browsers with a page (:data:`NEGOTIATED_PATHS`, the ledger's entries) give
a page to a client that prefers one (:func:`prefers_html`) and JSON to any other. The
``type`` of an agritrace error is ``<site>/problems/<slug>``, a page that describes it;
HTTP errors without more to say use ``about:blank`` (RFC 9457 section 4.2.1). Details of 5xx
errors (database messages, paths) are logged, never shown. Problem documents are in English
(the error's own message); a page shows an error raised with a message key in the visitor's
language (:func:`agritrace.web.i18n.error_message`).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.http import HTTP_STATUS_CODES

from agritrace.errors import AgritraceError
from agritrace.web import state
from agritrace.web.i18n import (
    current_language,
    error_language,
    error_message,
    has_message,
    translate,
)

__all__ = [
    "NEGOTIATED_PATHS",
    "PROBLEM_PATHS",
    "PROBLEM_TYPES",
    "init_app",
    "prefers_html",
    "wants_problem_json",
]

#: Paths whose errors are RFC 9457 JSON documents rather than pages.
PROBLEM_PATHS = ("/api/", "/ledger/", "/.well-known/")
#: Paths of :data:`PROBLEM_PATHS` that answer a browser with a page (content negotiation).
NEGOTIATED_PATHS = ("/ledger/entries/",)
#: Values of the ``format`` query parameter that override the Accept header.
FORMATS = ("html", "json")

#: Problem types this site defines, by slug: what ``/problems/<slug>`` describes.
PROBLEM_TYPES: dict[str, tuple[str, str]] = {
    "invalid-input": ("Invalid input", "A parameter is missing, malformed or out of range."),
    "verification-failed": ("Verification failed", "A signature or proof did not verify."),
    "not-found": ("Not found", "The named record (entry, checkpoint, ...) does not exist."),
    "permission-denied": ("Permission denied", "The request is not allowed."),
    "csrf-failed": (
        "Form expired",
        "A form was sent without this site's token; reload the page and send it again.",
    ),
    "conflict": ("Conflict", "The request clashes with the current state."),
    "authentication-required": (
        "Authentication required",
        "Send a valid API token (Authorization: Bearer agt_...) or sign in.",
    ),
    "sign-in-failed": ("Sign-in failed", "The username or the password is wrong."),
    "locked-out": (
        "Account locked",
        "Too many failed sign-ins: the account is locked for a while (see Retry-After).",
    ),
    "key-ring-unavailable": (
        "Signing unavailable",
        "This server cannot open its signing keys (AGRITRACE_KEY_PASSPHRASE is unset or wrong).",
    ),
    "rate-limited": (
        "Too many requests",
        "This client sent too many requests in a short time; wait for Retry-After seconds.",
    ),
    "rate-limit-unavailable": (
        "Sign-in unavailable",
        "The shared request counter cannot be reached, so sign-ins are refused for a moment.",
    ),
    "storage-unavailable": (
        "Service unavailable",
        "The database is unavailable for a moment; try again shortly.",
    ),
}

_problems = Blueprint("problems", __name__)


@_problems.get("/problems/<slug>")
def describe(slug: str) -> tuple[str, int]:
    if slug not in PROBLEM_TYPES:
        raise NotFound()
    title, text = PROBLEM_TYPES[slug]
    return render_template("error.html", status=None, title=title, message=text, detail=None), 200


def prefers_html() -> bool:
    """Whether the client asked for a page rather than JSON: ``?format=html``, or, without a
    ``format``, an Accept header that ranks ``text/html`` strictly above ``application/json``
    (as browsers send). No Accept header, ``*/*`` or a tie mean JSON, so API clients keep
    getting what they always got."""
    chosen = request.args.get("format")
    if chosen in FORMATS:
        return chosen == "html"
    accept = request.accept_mimetypes
    return accept.quality("text/html") > accept.quality("application/json")


def wants_problem_json() -> bool:
    if request.path.startswith(NEGOTIATED_PATHS) and prefers_html():
        return False
    return request.path.startswith(PROBLEM_PATHS)


def _facts(error: AgritraceError) -> dict[str, Any]:
    reserved = {"type", "title", "status", "detail", "instance"}
    return {
        name: value
        for name, value in error.facts.items()
        if name not in reserved and isinstance(value, (str, int, float, bool))
    }


def _problem(
    status: int, *, slug: str | None, detail: str | None, extra: dict[str, Any] | None = None
) -> Response:
    body: dict[str, Any] = {
        "type": f"{state().settings.base_url}/problems/{slug}"
        if slug in PROBLEM_TYPES
        else "about:blank",
        "title": PROBLEM_TYPES[slug][0] if slug in PROBLEM_TYPES else _phrase(status),
        "status": status,
    }
    if detail:
        body["detail"] = detail
    body["instance"] = request.path
    body.update(extra or {})
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def _phrase(status: int) -> str:
    return HTTP_STATUS_CODES.get(status, "Error")


def _page(
    status: int,
    *,
    detail: str | None,
    retry_after: int | None = None,
    error: AgritraceError | None = None,
) -> Response:
    lang = current_language()
    key = f"error.{status}" if has_message(f"error.{status}") else "error.other"
    message = translate(lang, key, seconds=retry_after or 60)
    detail_lang = lang
    if detail is not None and error is not None:
        detail, detail_lang = error_message(lang, error), error_language(lang, error)
    try:
        html = render_template(
            "error.html",
            status=status,
            title=translate(lang, "error.title"),
            message=message,
            detail=detail,
            detail_lang=detail_lang,
        )
    except Exception:  # the error page itself must never fail
        current_app.logger.exception("the error page could not be rendered")
        html = f"<!doctype html><title>{status}</title><p>{status} {_phrase(status)}</p>"
    return Response(html, status=status, mimetype="text/html")


def _respond(
    status: int,
    *,
    slug: str | None,
    detail: str | None,
    extra: dict[str, Any] | None = None,
    retry_after: int | None = None,
    error: AgritraceError | None = None,
) -> Response:
    if wants_problem_json():
        response = _problem(status, slug=slug, detail=detail, extra=extra)
    else:
        response = _page(status, detail=detail, retry_after=retry_after, error=error)
    response.headers["Cache-Control"] = "no-store"
    if request.path.startswith(NEGOTIATED_PATHS):
        response.vary.add("Accept")
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _agritrace_error(error: AgritraceError) -> Response:
    status = error.http_status
    if status >= 500:
        current_app.logger.warning("%s on %s: %s", error.slug, request.path, error.message)
        # Only what an operator of the site must do is said; database details never are.
        shown = error.message if error.slug == "key-ring-unavailable" else None
        return _respond(status, slug=error.slug, detail=shown, error=error)
    retry_after = error.facts.get("retry_after")
    response = _respond(
        status,
        slug=error.slug,
        detail=error.message,
        extra=_facts(error),
        retry_after=retry_after if isinstance(retry_after, int) else None,
        error=error,
    )
    if status == 401 and wants_problem_json():
        response.headers["WWW-Authenticate"] = 'Bearer realm="agritrace"'
    return response


def _http_error(error: HTTPException) -> Response:
    return _respond(error.code or 500, slug=None, detail=None)


def _unexpected(error: Exception) -> Response:
    if isinstance(error, HTTPException):
        return _http_error(error)
    if isinstance(error, AgritraceError):
        return _agritrace_error(error)
    if isinstance(error, OperationalError):
        current_app.logger.warning("database unavailable on %s: %s", request.path, error.orig)
        return _respond(503, slug="storage-unavailable", detail=None)
    current_app.logger.exception("unexpected error on %s %s", request.method, request.path)
    return _respond(500, slug=None, detail=None)


def init_app(app: Flask) -> None:
    app.register_blueprint(_problems)
    app.register_error_handler(AgritraceError, _agritrace_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
