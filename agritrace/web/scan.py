"""The consumer's pages: what a phone opens when its camera reads a stamp.

``GET /S/<code>`` (or ``/s/``, any letter case) shows the verdict first, then the product,
lot, facility and certificate, the journey with a ledger badge per step, and the scan count.
Opening it counts a scan once per client per stamp per day (a keyed hash of the client's
address for that stamp and day, :mod:`agritrace.trace.scan_signals`; the browser's signed
session cookie also remembers the last few stamps it counted; no address is stored);
``HEAD`` and known link-preview fetchers and crawlers get the page without counting.
``POST`` to the same address, with the page's form token (bound to the stamp, valid 15
minutes), shares a coarse place (``action=place``: latitude and longitude, rounded to 0.1
degree; one per client) or claims the item with the code under its scratch-off layer
(``action=claim``; :mod:`agritrace.trace.claiming`). ``/`` explains how to check a stamp
and has a form to type a code; ``/check`` sends it to the stamp's page.

Every page works without JavaScript; ``static/place.js`` only fills in the place form from
the phone's location when the visitor asks.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import threading
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from markupsafe import Markup

from agritrace.db import utcnow
from agritrace.errors import InvalidInputError
from agritrace.stamps.codec import MalformedStampError, parse
from agritrace.trace import claiming, scan_signals, scans
from agritrace.web import db, state
from agritrace.web.i18n import current_language, translate

__all__ = ["REMEMBERED_SCANS", "bp"]

#: User-agent marks of link-preview fetchers and crawlers. They open a stamp's page when its
#: link is shared in a chat or indexed, which is not somebody scanning the stamp, so they get
#: the page but their visit is not counted (a shared link would otherwise add scans and could
#: make a genuine stamp look copied). Only known names: a bare "bot" would also match phones
#: (Cubot), and in-app browsers of chat apps (Zalo, Messenger) are people and do count.
PREVIEW_AGENTS = re.compile(
    r"facebookexternalhit|facebot|twitterbot|slackbot|discordbot|telegrambot|whatsapp|"
    r"linkedinbot|skypeuripreview|pinterestbot|redditbot|applebot|googlebot|"
    r"google-inspectiontool|googleother|bingbot|yandexbot|duckduckbot|baiduspider|"
    r"coccocbot|petalbot|bytespider|embedly|iframely",
    re.IGNORECASE,
)

#: How many counted stamps a browser's session cookie remembers.
REMEMBERED_SCANS = 20
_COUNTED_KEY = "counted"
#: Serials this browser claimed (its claim receipts, in the signed session cookie).
_CLAIMS_KEY = "claims"

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


class LotCards:
    """The lot's cards of the scan page (product, facility, certificate, journey), rendered
    once per lot view and language.

    A lot view is an immutable object the scan cache replaces whenever the ledger records a
    change to the lot or its facility, so HTML kept for a view object is exact for as long
    as that object is the one scans get; entries hold the view objects they were made from,
    so an id is never mistaken for another's. Bounded: emptied when full. Thread-safe.
    """

    def __init__(self, *, max_entries: int = 4096) -> None:
        self._lock = threading.Lock()
        self._max = max_entries
        self._html: dict[tuple[str, int], tuple[Any, Any, Markup]] = {}

    def render(self, check: scans.StampCheck, lang: str) -> Markup:
        key = (lang, id(check.lot))
        with self._lock:
            found = self._html.get(key)
        if found is not None and found[0] is check.lot and found[1] is check.journey:
            return found[2]
        html = Markup(render_template("_scan_lot.html", check=check))  # noqa: S704 - Jinja-escaped
        with self._lock:
            if len(self._html) >= self._max:
                self._html.clear()
            self._html[key] = (check.lot, check.journey, html)
        return html


_LOT_CARDS = "agritrace.lot_cards"


def _lot_cards(check: scans.StampCheck, lang: str) -> Markup:
    if check.lot is None:
        return Markup()
    extensions = current_app.extensions
    cards: LotCards | None = extensions.get(_LOT_CARDS)
    if cards is None:
        cards = extensions.setdefault(_LOT_CARDS, LotCards())
    return cards.render(check, lang)


def _preview(user_agent: str) -> bool:
    return PREVIEW_AGENTS.search(user_agent[:512]) is not None


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


def _address() -> str:
    """The client's network address (behind TLS, the one proxy's ``X-Forwarded-For``); it
    only ever enters keyed hashes, never storage."""
    return request.remote_addr or ""


def _secret() -> bytes:
    return _scan_secret(str(current_app.secret_key))


@functools.cache
def _scan_secret(secret_key: str) -> bytes:
    return scan_signals.scan_secret(secret_key)


def _posted_serial(code: str) -> int:
    """The serial a posted form is for, once its stamp-bound token checks out (403 else)."""
    try:
        serial = parse(code[: scans.MAX_INPUT_CHARS]).stamp.serial
    except MalformedStampError:
        raise scan_signals.FormTokenError from None
    token = request.form.get("token", "")
    scan_signals.check_form_token(_secret(), serial, token, now=utcnow())
    return serial


def _claim(code: str, serial: int, now: dt.datetime) -> claiming.ClaimOutcome | None:
    """Claim the stamp with the posted code (only a genuine issued stamp can be claimed)."""
    web = state()
    check = scans.check_stamp(
        db(),
        code,
        prefix=web.prefix,
        public_keys=web.keys.stamp_keys(),
        now=now,
        cache=web.scan_cache,
    )
    if check.verdict is scans.Verdict.NOT_GENUINE or not check.claimable:
        raise InvalidInputError(key="claim.unavailable", field="claim")
    receipts = _receipts()
    outcome = claiming.claim_stamp(
        db(),
        serial=serial,
        text=request.form.get("claim", ""),
        client=scan_signals.claim_client_key(_secret(), _address(), serial),
        province=request.form.get("province") or None,
        now=now,
        mine=serial in receipts,
    )
    if outcome is not claiming.ClaimOutcome.CLONE:
        session[_CLAIMS_KEY] = [*[s for s in receipts if s != serial], serial][-REMEMBERED_SCANS:]
    return outcome


def _receipts() -> frozenset[int]:
    raw = session.get(_CLAIMS_KEY)
    if not isinstance(raw, list):
        return frozenset()
    return frozenset(s for s in raw if isinstance(s, int) and not isinstance(s, bool))


@bp.route("/S/<path:code>", methods=["GET", "POST"])
@bp.route("/s/<path:code>", methods=["GET", "POST"], endpoint="stamp_lower")
def stamp(code: str) -> ResponseReturnValue:
    web = state()
    now = utcnow()
    place, outcome = None, None
    if request.method == "POST":
        serial = _posted_serial(code)
        if request.form.get("action") == "claim":
            outcome = _claim(code, serial, now)
        else:
            place = scans.parse_place(request.form.get("lat", ""), request.form.get("lon", ""))
    secret, address = _secret(), _address()
    result = scans.scan_stamp(
        db(),
        code,
        prefix=web.prefix,
        public_keys=web.keys.stamp_keys(),
        now=now,
        client=lambda serial: scan_signals.client_key(secret, address, serial, now),
        place=place,
        # HEAD, link-preview fetchers and posted forms are not scans.
        count=request.method == "GET" and not _preview(request.user_agent.string),
        counted=_counted(),
        cache=web.scan_cache,
        direct=web.direct,
    )
    if result.recorded and result.serial is not None:
        _remember(result.serial)
    lang = current_language()
    html = render_template(
        "scan.html",
        check=result,
        lot_cards=_lot_cards(result, lang),
        title=translate(lang, f"verdict.{result.verdict.value}"),
        place_saved=place is not None and result.serial is not None,
        claim_outcome=outcome.value if outcome is not None else None,
        provinces=claiming.PROVINCES,
        token=(
            scan_signals.form_token(secret, result.serial, now=now)
            if result.lot is not None and result.serial is not None
            else ""
        ),
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
