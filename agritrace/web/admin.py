"""Administration (``/admin``), for administrators only: facilities and their certificates,
products, users and roles, signing-key rotation, and every user's API tokens. Each form
calls the same service as the CLI and shows a refused rule beside the form.

``/admin/tokens`` lists every user's tokens, newest first, a page at a time (``?before=``
the last id of the previous page): owner, name, what the token acts as (its owner's role
and facility), creation, last use, expiry (tokens do not expire) and revocation, and never
a token's secret or hash (only the few characters the owner also sees). Revoking one is a
POST with the form token and a reason (required: it is another user's access); the time,
the administrator and the reason are kept on the token (owners revoking their own keep the
time and their name), and the log names the administrator and the reason.
"""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from agritrace.db import utcnow
from agritrace.errors import AgritraceError, InvalidInputError
from agritrace.keys import KeyPurpose
from agritrace.trace import access, registry
from agritrace.trace.models import CertificateScheme, Role
from agritrace.web import db, ring, state
from agritrace.web.auth import protect, require, signed_in_user
from agritrace.web.views import attempt, form_text

__all__ = ["TOKENS_PAGE", "bp"]

bp = Blueprint("admin", __name__, url_prefix="/admin")
protect(bp)
admin_only = require(Role.ADMIN)

#: API tokens listed per page.
TOKENS_PAGE = 50


def _page(
    *,
    error: AgritraceError | None = None,
    status: int = 200,
    values: dict[str, str] | None = None,
    form: str = "",
) -> ResponseReturnValue:
    session = db()
    page = render_template(
        "admin/home.html",
        facilities=registry.list_facilities(session),
        products=registry.list_products(session),
        users=access.list_users(session),
        keys=state().keys.infos(),
        schemes=list(CertificateScheme),
        roles=list(Role),
        error=error,
        values=values or {},
        form=form,
    )
    return page, status


@bp.get("/")
@admin_only
def home() -> ResponseReturnValue:
    return _page()


def _done(
    result: object, error: AgritraceError | None, values: dict[str, str], form: str
) -> ResponseReturnValue:
    if error is not None:
        return _page(error=error, status=error.http_status, values=values, form=form)
    return redirect(url_for("admin.home", done=form) + f"#{form}", 303)


@bp.post("/facilities")
@admin_only
def add_facility() -> ResponseReturnValue:
    values = {
        n: form_text(request.form, n, limit=300)
        for n in ("code", "name", "province", "address", "gln")
    }
    result, error = attempt(
        lambda: registry.add_facility(
            db(),
            code=values["code"],
            name=values["name"],
            province=values["province"],
            address=values["address"],
            gln=values["gln"] or None,
        )
    )
    return _done(result, error, values, "facility")


@bp.post("/certificates")
@admin_only
def certify() -> ResponseReturnValue:
    values = {
        n: form_text(request.form, n, limit=300)
        for n in ("facility", "scheme", "number", "issuer", "valid_from", "valid_to", "scope")
    }
    result, error = attempt(
        lambda: registry.certify(
            db(),
            facility_code=values["facility"],
            scheme=values["scheme"],
            number=values["number"],
            issuer=values["issuer"],
            valid_from=values["valid_from"],
            valid_to=values["valid_to"],
            scope=values["scope"],
        )
    )
    return _done(result, error, values, "certificate")


@bp.post("/products")
@admin_only
def add_product() -> ResponseReturnValue:
    values = {
        n: form_text(request.form, n, limit=300)
        for n in ("code", "name", "category", "unit", "gtin")
    }
    try:
        registry.add_product(
            db(),
            code=values["code"],
            name=values["name"],
            category=values["category"],
            unit=values["unit"],
            gtin=values["gtin"] or None,
        )
    except AgritraceError as exc:
        db().rollback()
        return _page(error=exc, status=exc.http_status, values=values, form="product")
    return redirect(url_for("admin.home", done="product") + "#product", 303)


@bp.post("/users")
@admin_only
def add_user() -> ResponseReturnValue:
    values = {n: form_text(request.form, n, limit=300) for n in ("username", "role", "facility")}
    try:
        registry.add_user(
            db(),
            username=values["username"],
            password=form_text(request.form, "password", limit=1100),
            role=values["role"],
            facility_code=values["facility"] or None,
        )
    except AgritraceError as exc:
        db().rollback()
        return _page(error=exc, status=exc.http_status, values=values, form="user")
    return redirect(url_for("admin.home", done="user") + "#users", 303)


@bp.post("/users/<int:user_id>")
@admin_only
def update_user(user_id: int) -> ResponseReturnValue:
    actor = signed_in_user()
    try:
        access.update_user(
            db(),
            user_id=user_id,
            role=form_text(request.form, "role", limit=20),
            facility_code=form_text(request.form, "facility", limit=40) or None,
            active=request.form.get("active") == "1",
            actor=actor,
        )
    except AgritraceError as exc:
        db().rollback()
        return _page(error=exc, status=exc.http_status, form="users")
    return redirect(url_for("admin.home", done="users") + "#users", 303)


@bp.post("/keys/rotate")
@admin_only
def rotate_key() -> ResponseReturnValue:
    raw = form_text(request.form, "purpose", limit=20)
    try:
        purpose = KeyPurpose(raw)
    except ValueError:
        return _page(
            error=InvalidInputError(key="keys.purpose_unknown", purpose=raw),
            status=422,
            form="keys",
        )
    try:
        ring().rotate(purpose)
    except AgritraceError as exc:
        return _page(error=exc, status=exc.http_status, form="keys")
    return redirect(url_for("admin.home", done="keys") + "#keys", 303)


def _before(raw: str | None) -> int | None:
    """The ``before`` of a tokens page: a positive whole number, or none."""
    if raw is None or raw == "":
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise InvalidInputError(key="input.whole_number", field="before")
    return int(raw)


def _tokens_page(
    before: int | None,
    *,
    error: AgritraceError | None = None,
    status: int = 200,
    failed: int | None = None,
) -> ResponseReturnValue:
    tokens = access.tokens_page(db(), before=before, limit=TOKENS_PAGE)
    next_url = url_for("admin.tokens", before=tokens[-1].id) if len(tokens) == TOKENS_PAGE else None
    revoked = request.args.get("revoked", "")
    page = render_template(
        "admin/tokens.html",
        tokens=tokens,
        before=before,
        next_url=next_url,
        revoked=int(revoked) if revoked.isascii() and revoked.isdigit() else None,
        error=error,
        failed=failed,
        now=utcnow(),
    )
    return page, status


@bp.get("/tokens")
@admin_only
def tokens() -> ResponseReturnValue:
    return _tokens_page(_before(request.args.get("before")))


@bp.post("/tokens/<int:token_id>/revoke")
@admin_only
def revoke_token(token_id: int) -> ResponseReturnValue:
    actor = signed_in_user()
    before = _before(form_text(request.form, "before", limit=20))
    reason = form_text(request.form, "reason", limit=access.REVOKE_REASON_MAX + 100)
    try:
        token = access.revoke_token(
            db(), token_id=token_id, actor=actor, now=utcnow(), reason=reason
        )
    except AgritraceError as exc:
        db().rollback()
        return _tokens_page(before, error=exc, status=exc.http_status, failed=token_id)
    current_app.logger.info(
        "API token %s (%r) of %s revoked by administrator %s: %s",
        token.id,
        token.name,
        token.user.username,
        actor.username,
        token.revoke_reason or "(own token)",
    )
    return redirect(url_for("admin.tokens", before=before, revoked=token.id), 303)
