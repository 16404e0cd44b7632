"""Scan signals one client cannot forge: who counts as a client, and the scan page's form
tokens. Pure functions of a secret, the stamp and the clock (no web framework, no database).

**Clients.** A scan is counted for a *client*, never stored as an address: the web passes
the request's address through :func:`client_key`, a keyed hash (HMAC-SHA-256 with a key
derived from the app's secret) of the address, the serial and the day. A key is the same
for one client on one stamp on one day and unrelated to anything else, so the database can
tell "this client scanned this stamp today already" and nothing more: it cannot link a
client's scans across stamps or days, and holds no address. Each client contributes at
most once per stamp per :data:`CLIENT_PERIOD_S`.

**Form tokens.** The scan page's forms (a coarse place, a claim code) carry a token bound
to the stamp's serial and valid for :data:`FORM_TOKEN_TTL_S`: ``<expiry>.<mac>`` where the
expiry is Unix seconds and the MAC is HMAC-SHA-256 over a domain tag, the serial and the
expiry, base64url. A token minted for one stamp is refused on every other, and an old one
is refused everywhere (:class:`FormTokenError`, a 403).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re

from agritrace.errors import PermissionDeniedError

__all__ = [
    "CLIENT_PERIOD_S",
    "FORM_TOKEN_TTL_S",
    "FormTokenError",
    "check_form_token",
    "claim_client_key",
    "client_key",
    "form_token",
    "period",
    "scan_secret",
]

#: One client counts at most once per stamp per this many seconds (a UTC day).
CLIENT_PERIOD_S = 86_400
#: How long a scan page's form token is accepted after the page was shown.
FORM_TOKEN_TTL_S = 15 * 60

_TOKEN = re.compile(r"([0-9]{1,12})\.([A-Za-z0-9_-]{22})", re.ASCII)


class FormTokenError(PermissionDeniedError):
    """A scan page form posted without a valid token for this stamp (missing, for another
    stamp, expired or altered)."""

    slug = "csrf-failed"

    def __init__(self) -> None:
        super().__init__(key="scan.form_token")


def scan_secret(secret_key: str) -> bytes:
    """The key for scan signals, derived from the app's secret (``AGRITRACE_SECRET_KEY``)."""
    return hashlib.sha256(b"agritrace-scan-signals-v1\x00" + secret_key.encode()).digest()


def period(now: dt.datetime) -> int:
    """The number of the counting period ``now`` falls in (days since 1970-01-01 UTC)."""
    return int(now.timestamp()) // CLIENT_PERIOD_S


def _mac(secret: bytes, *parts: object) -> bytes:
    message = b"\x00".join(str(part).encode("utf-8", "replace") for part in parts)
    return hmac.new(secret, message, hashlib.sha256).digest()


def client_key(secret: bytes, address: str, serial: int, now: dt.datetime) -> str:
    """A client's key for one stamp and one period (32 hex digits; see the module)."""
    return _mac(secret, "client", serial, period(now), address[:100])[:16].hex()


def claim_client_key(secret: bytes, address: str, serial: int) -> str:
    """The key a claim is recorded under: per stamp, not per day, so that the buyer who
    claimed can be told apart from a second claimant later."""
    return _mac(secret, "claim", serial, address[:100])[:16].hex()


def form_token(secret: bytes, serial: int, *, now: dt.datetime) -> str:
    """A token for the forms on the page of stamp ``serial``, shown at ``now``."""
    expiry = int(now.timestamp()) + FORM_TOKEN_TTL_S
    return f"{expiry}.{_token_mac(secret, serial, expiry).decode('ascii')}"


def _token_mac(secret: bytes, serial: int, expiry: int) -> bytes:
    return base64.urlsafe_b64encode(_mac(secret, "form", serial, expiry)[:16]).rstrip(b"=")


def check_form_token(secret: bytes, serial: int, token: str, *, now: dt.datetime) -> None:
    """Return if ``token`` was minted for ``serial`` and has not expired at ``now``; raise
    FormTokenError otherwise (also for anything that is not a token)."""
    found = _TOKEN.fullmatch(token[:64])
    if found is None:
        raise FormTokenError
    expiry = int(found.group(1))
    if not hmac.compare_digest(_token_mac(secret, serial, expiry), found.group(2).encode()):
        raise FormTokenError
    if int(now.timestamp()) > expiry:
        raise FormTokenError
