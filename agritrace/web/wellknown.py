"""Public, machine-readable facts anyone can verify offline.

* ``/.well-known/agritrace/keys.json``: every public key (stamp and checkpoint, active and
  retired) as an RFC 8037 JWK Set.
* ``/.well-known/agritrace/revocations.json``: the serial ranges of recalled stamps, the
  latest list signed with a stamp key when a lot was recalled
  (:mod:`agritrace.stamps.revocations`, verified with the keys of ``keys.json``); 404 until
  one was signed.
* ``/ledger/checkpoint``: the latest signed checkpoint, as the C2SP signed note (text).
* ``/ledger/proof/inclusion?index=&size=``: RFC 9162 inclusion proof of one entry.
* ``/ledger/proof/consistency?old=&new=``: RFC 9162 consistency proof between two sizes.
* ``/ledger/entries/<index>``: one entry's exact bytes and its proof against the latest
  checkpoint that covers it. Content-negotiated: a browser (an Accept header that ranks
  ``text/html`` above ``application/json``) gets a page in its language that says what the
  entry records, and whether this server verified its proof (the checkpoint's signature with
  the published keys, then :func:`agritrace.ledger.merkle.verify_inclusion`); every other
  client, and ``?format=json``, gets the JSON (``?format=html`` asks for the page). Opened
  from a stamp page of this site (the ``Referer``, which the site sends only to itself), or
  with ``back=/S/<code>`` (what the page's own links carry on), it links back to the stamp.
* ``/ledger/entries/<index>/bundle``: that entry's proof bundle (``agritrace-proof-bundle/v1``)
  as a download, verifiable offline with ``agritrace ledger verify-bundle``; ``?reveal=1``
  adds the openings of its private fields, for a reader allowed to see them (401/403 else).

A sealed entry (docs/adr/0013-what-the-ledger-reveals.md) carries commitments, not its
private fields: anyone gets the commitments and a statement that the details are private;
a signed-in reader whom :func:`agritrace.trace.disclosure.may_reveal` allows gets the
values, each verified against its commitment, and an answer no cache keeps.

Hashes are standard base64. Bad parameters answer 422 (or 404 for a missing record) as RFC
9457 problem documents, or as pages for a browser on the entry paths.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, jsonify, render_template, request

from agritrace.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from agritrace.ledger import store
from agritrace.ledger.canonical import to_canonical_bytes
from agritrace.trace import disclosure, journal, overview, provenance
from agritrace.trace.access import AuthenticationRequiredError
from agritrace.trace.recalls import latest_revocations
from agritrace.web import db, state
from agritrace.web.auth import current_user
from agritrace.web.errors import FORMATS, prefers_html

__all__ = ["bp"]

bp = Blueprint("wellknown", __name__)

_WHOLE = re.compile(r"[0-9]{1,18}")
_IMMUTABLE_S = 24 * 3600
#: A stamp page's path, the only place an entry page links back to.
_STAMP_PATH = re.compile(r"/[Ss]/[A-Za-z0-9]{1,200}")
_PRIVATE_STATEMENT = (
    "This entry's commercial details (trading partner, quantities, temperatures, notes) "
    "are private: the entry carries only salted SHA-256 commitments to them. They are shown "
    "to the facilities concerned, inspectors and administrators, and in bundles a facility "
    "chooses to share; each opening can be checked against its commitment."
)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _whole(raw: str | None, name: str) -> int:
    """A non-negative whole number from a query or path parameter (at most 18 digits)."""
    if raw is None or raw == "":
        raise InvalidInputError(key="input.parameter_required", parameter=name)
    if not _WHOLE.fullmatch(raw):
        raise InvalidInputError(key="input.parameter_whole_number", parameter=name, raw=raw[:40])
    return int(raw)


def _json(body: Any, *, max_age_s: int) -> Response:
    response = jsonify(body)
    response.headers["Cache-Control"] = f"public, max-age={max_age_s}"
    return response


@bp.get("/.well-known/agritrace/keys.json")
def keys() -> Response:
    return _json(state().keys.jwks(), max_age_s=300)


@bp.get("/.well-known/agritrace/revocations.json")
def revocations() -> Response:
    document = latest_revocations(db())
    if document is None:
        raise NotFoundError(key="ledger.no_revocations")
    return _json(document, max_age_s=60)


@bp.get("/ledger/checkpoint")
def checkpoint() -> Response:
    latest = store.latest_checkpoint(db())
    if latest is None:
        raise NotFoundError(key="ledger.no_checkpoint")
    response = Response(latest.note, mimetype="text/plain")
    response.headers["Cache-Control"] = "public, max-age=10"
    return response


def _note_of_size(size: int) -> str | None:
    try:
        return store.get_checkpoint(db(), size).note
    except NotFoundError:
        return None


@bp.get("/ledger/proof/inclusion")
def inclusion() -> Response:
    index = _whole(request.args.get("index"), "index")
    size = _whole(request.args.get("size"), "size")
    proof = store.inclusion_proof(db(), index, size)
    body = {
        "index": index,
        "tree_size": size,
        "leaf_hash": _b64(store.get_entry(db(), index).leaf_hash),
        "inclusion_proof": [_b64(h) for h in proof],
        "checkpoint": _note_of_size(size),
    }
    return _json(body, max_age_s=_IMMUTABLE_S)


@bp.get("/ledger/proof/consistency")
def consistency() -> Response:
    old = _whole(request.args.get("old"), "old")
    new = _whole(request.args.get("new"), "new")
    proof = store.consistency_proof(db(), old, new)
    body = {
        "old_size": old,
        "new_size": new,
        "consistency_proof": [_b64(h) for h in proof],
        "old_checkpoint": _note_of_size(old),
        "new_checkpoint": _note_of_size(new),
    }
    return _json(body, max_age_s=_IMMUTABLE_S)


def _format() -> None:
    chosen = request.args.get("format")
    if chosen is not None and chosen not in FORMATS:
        raise InvalidInputError(
            key="input.parameter_choice",
            parameter="format",
            choices=", ".join(FORMATS),
            raw=chosen[:20],
        )


def _back() -> str | None:
    """The stamp page to link back to: ``back=``, else the page the visitor came from if
    that was on this site; only a ``/S/<code>`` path, else nothing (so the link can never
    lead to another site or page)."""
    raw = request.args.get("back")
    if raw is None and request.referrer:
        came_from = urlsplit(request.referrer)
        if came_from.scheme == request.scheme and came_from.netloc == request.host:
            raw = came_from.path
    return raw if raw is not None and _STAMP_PATH.fullmatch(raw) else None


@bp.get("/ledger/entries/<raw_index>")
def entry(raw_index: str) -> Response:
    index = _whole(raw_index, "index")
    _format()
    response = _entry_page(index) if prefers_html() else _entry_json(index)
    response.vary.add("Accept")
    response.vary.add("Cookie")  # a signed-in reader may see private fields
    return response


def _disclosure(index: int, content: bytes) -> disclosure.Disclosure | None:
    """What this visitor may see of the entry's private fields (None: not a JSON object)."""
    try:
        body = json.loads(content)
    except ValueError:  # every entry is canonical JSON; a page is still owed
        return None
    if not isinstance(body, dict):
        return None
    return disclosure.disclose(db(), current_user(), index, body)


def _entry_page(index: int) -> Response:
    web = state()
    found, check = overview.check_entry(
        db(), index, verifiers=journal.verifiers(web.settings.origin, web.keys.infos())
    )
    shown = _disclosure(index, found.content)
    html = render_template(
        "ledger/entry.html",
        entry=found,
        content=found.content.decode("utf-8"),
        described=provenance.describe_entry(index, shown.body) if shown else None,
        disclosed=shown,
        canonical=lambda value: to_canonical_bytes(value).decode("utf-8"),
        check=check,
        back=_back(),
        b64=_b64,
    )
    response = Response(html, mimetype="text/html")
    # The page is in the visitor's language: browsers may keep it, shared caches may not;
    # private fields opened for a signed-in reader are not kept at all.
    revealed = shown is not None and shown.revealed
    response.headers["Cache-Control"] = "no-store" if revealed else "private, max-age=60"
    return response


@bp.get("/ledger/entries/<raw_index>/bundle")
def entry_bundle(raw_index: str) -> Response:
    """The entry's one-entry proof bundle, as a file to keep and verify offline."""
    index = _whole(raw_index, "index")
    reveal = _reveal_asked()
    if reveal and not disclosure.may_reveal(db(), current_user(), index):
        if current_user() is None:
            raise AuthenticationRequiredError(key="ledger.reveal_sign_in")
        raise PermissionDeniedError(key="ledger.reveal_not_allowed", index=index)
    document = journal.bundle(
        db(), [index], origin=state().settings.origin, ring=None, reveal=reveal
    )
    content = json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")
    response = Response(content, mimetype="application/json")
    name = f"agritrace-entry-{index}{'.shared' if reveal else ''}.bundle.json"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store" if reveal else "public, max-age=60"
    return response


def _reveal_asked() -> bool:
    """``reveal=1``: the reader chooses to include the openings of private fields."""
    raw = request.args.get("reveal")
    if raw not in (None, "0", "1"):
        raise InvalidInputError(
            key="input.parameter_choice", parameter="reveal", choices="0, 1", raw=raw[:20]
        )
    return raw == "1"


def _entry_json(index: int) -> Response:
    session = db()
    stored = store.get_entry(session, index)
    try:
        proof: dict[str, Any] | None = journal.proof_record(
            session, index, origin=state().settings.origin, ring=None
        ).to_json()
    except NotFoundError:  # not yet covered by a signed checkpoint
        proof = None
    body = {
        "index": index,
        "kind": stored.kind,
        "entry": stored.content.decode("utf-8"),
        "leaf_hash": _b64(stored.leaf_hash),
        "recorded_at": stored.recorded_at.isoformat(timespec="seconds"),
        "proof": proof,
    }
    shown = _disclosure(index, stored.content)
    if shown is None or not shown.sealed:
        return _json(body, max_age_s=60)
    body["private"] = {
        "fields": sorted(shown.committed),
        "statement": _PRIVATE_STATEMENT,
        "openings": [o.to_json() for o in shown.openings] if shown.revealed else None,
        "verified": shown.revealed,
    }
    if not shown.revealed:
        return _json(body, max_age_s=60)
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response
