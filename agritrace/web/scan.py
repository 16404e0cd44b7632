"""The consumer's pages: what a phone opens when its camera reads a stamp.

``GET /S/<code>`` (or ``/s/``, any letter case) shows the verdict first, then the product,
lot, facility and certificate, the journey with a ledger badge per step, and the scan count.
Opening it counts a scan once per browser (the browser's signed session cookie remembers
the last few stamps it counted; the server keeps nothing about the visitor). ``POST`` to
the same address shares a coarse place (latitude and longitude, rounded to 0.1 degree),
with this site's form token. ``/`` explains how to check a stamp and has a form to type a
code; ``/check`` sends it to the stamp's page.

Every page works without JavaScript; ``static/place.js`` only fills in the place form from
the phone's location when the visitor asks.
"""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from agritrace.db import utcnow
from agritrace.trace import scans
from agritrace.web import db, state
from agritrace.web.i18n import current_language, translate
from agritrace.web.security import check_csrf, csrf_token

__all__ = ["REMEMBERED_SCANS", "bp"]

#: How many counted stamps a browser's session cookie remembers.
REMEMBERED_SCANS = 20
_COUNTED_KEY = "counted"

bp = Blueprint("scan", __name__)


def _counted() -> frozenset[int]:
    raw = session.get(_COUNTED_KEY)
    if not isinstance(raw, list):
        return frozenset()
    return frozenset(s for s in raw if isinstance(s, int) and not isinstance(s, bool))


def _remember(serial: int) -> None:
    raw = session.get(_COUNTED_KEY)
    kept = [s for s in raw if isinstance(s, int) and s != serial] if isinstance(raw, list) else []
    session[_COUNTED_KEY] = [*kept, serial][-REMEMBERED_SCANS:]


def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.get("/")
def landing() -> ResponseReturnValue:
    return render_template("landing.html", error=None, code="")


@bp.get("/check")
def check() -> ResponseReturnValue:
    """The landing form: send a typed code or pasted stamp link to its page."""
    text = "".join(request.args.get("code", "").split())
    error = None
    if not text:
        error = "landing.empty"
    elif len(text) > scans.MAX_INPUT_CHARS:
        error = "landing.too_long"
    if error is not None:
        page = render_template("landing.html", error=error, code=text[:200])
        return page, 422
    cut = text.upper().rfind("/S/")
    code = text[cut + 3 :] if cut >= 0 else text
    return redirect(url_for("scan.stamp", code=code or "-"), 303)


@bp.get("/S/")
@bp.get("/s/")
def no_code() -> ResponseReturnValue:
    return redirect(url_for("scan.landing"), 303)


@bp.route("/S/<path:code>", methods=["GET", "POST"])
@bp.route("/s/<path:code>", methods=["GET", "POST"], endpoint="stamp_lower")
def stamp(code: str) -> ResponseReturnValue:
    web = state()
    place = None
    if request.method == "POST":
        check_csrf()
        place = scans.parse_place(request.form.get("lat", ""), request.form.get("lon", ""))
    result = scans.scan_stamp(
        db(),
        code,
        prefix=web.prefix,
        public_keys=web.keys.stamp_keys(),
        now=utcnow(),
        place=place,
        count=request.method == "GET",  # HEAD (link previews) and place posts are not scans
        counted=_counted(),
        cache=web.scan_cache,
    )
    if result.recorded and result.serial is not None:
        _remember(result.serial)
    lang = current_language()
    html = render_template(
        "scan.html",
        check=result,
        title=translate(lang, f"verdict.{result.verdict.value}"),
        place_saved=place is not None and result.serial is not None,
        csrf=csrf_token() if result.lot is not None else "",
        limits={
            "limit": scans.MAX_PLAUSIBLE_SCANS,
            "km": int(scans.DISTANT_KM),
            "hours": scans.DISTANT_WINDOW_H,
        },
    )
    # Not genuine: the friendly verdict page, with 404 (there is no genuine stamp here), so
    # crawlers and monitors see bad input as a client error, never as a success.
    status = 404 if result.verdict is scans.Verdict.NOT_GENUINE else 200
    return _private(Response(html, status=status, mimetype="text/html"))
