"""Claim codes: a stamp's second secret, printed under a scratch-off layer.

A batch issued with claim codes holds a random 32-byte **claim key** (kept with the batch
in the database; ADR 0009 says why). The claim code of a serial is::

    body  = HMAC-SHA-256(claim_key, "agritrace-claim-v1" || serial as 8 bytes big-endian)
            read as a big-endian integer, modulo 10**9, written as 9 decimal digits
    code  = body || Damm check digit of body                    (10 digits in all)

Only someone who scratched the label (or holds the key: the print shop's CSV, the database)
knows it. Text form (:func:`to_text`): ``12345-67890``. :func:`from_text` accepts that, or
the 10 digits with spaces, dots or dashes anywhere, and nothing else; it raises
:class:`MalformedClaimError` for any other text, for a wrong length, or when the check digit
does not match (the Damm algorithm catches every single-digit error and every swap of two
adjacent digits), so typos are refused before they cost one of the stamp's attempts.
No web framework and no database here.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from agritrace.errors import InvalidInputError
from agritrace.stamps.codec import damm_digit

__all__ = [
    "CLAIM_DIGITS",
    "CLAIM_KEY_BYTES",
    "MAX_CLAIM_FAILURES",
    "MAX_CLAIM_INPUT_CHARS",
    "MalformedClaimError",
    "check_digit",
    "claim_code",
    "from_text",
    "matches",
    "new_claim_key",
    "to_text",
]

#: Digits of a claim code, check digit included (10**9 possible codes per stamp).
CLAIM_DIGITS = 10
CLAIM_KEY_BYTES = 32
#: Wrong (well-formed) claim codes a stamp accepts per day before it refuses claims until
#: the next day: 5 a day against 10**9 codes is one chance in 200 million a day.
MAX_CLAIM_FAILURES = 5
#: Longest claim input even looked at.
MAX_CLAIM_INPUT_CHARS = 40

_DOMAIN = b"agritrace-claim-v1"
_SEPARATORS = re.compile(r"[ .\-]")
_DIGITS = re.compile(rf"[0-9]{{{CLAIM_DIGITS}}}", re.ASCII)


class MalformedClaimError(InvalidInputError):
    """Text that is not a claim code (wrong characters or length, or a typo the check
    digit caught). Counts as no attempt."""

    def __init__(self) -> None:
        super().__init__(key="claim.malformed", field="claim")


def new_claim_key() -> bytes:
    """A fresh random claim key for one batch."""
    return secrets.token_bytes(CLAIM_KEY_BYTES)


def check_digit(digits: str) -> int:
    """The Damm check digit of a string of ASCII digits (the stamps' short codes use it too)."""
    return damm_digit(digits)


def claim_code(key: bytes, serial: int) -> str:
    """The 10-digit claim code of ``serial`` under the batch's claim ``key``."""
    mac = hmac.new(key, _DOMAIN + serial.to_bytes(8, "big"), hashlib.sha256).digest()
    body = f"{int.from_bytes(mac, 'big') % 10 ** (CLAIM_DIGITS - 1):0{CLAIM_DIGITS - 1}d}"
    return body + str(check_digit(body))


def to_text(code: str) -> str:
    """``1234567890`` as printed: ``12345-67890``."""
    half = CLAIM_DIGITS // 2
    return f"{code[:half]}-{code[half:]}"


def from_text(text: str) -> str:
    """The 10 digits of a typed claim code; raises MalformedClaimError (see the module)."""
    if len(text) > MAX_CLAIM_INPUT_CHARS:
        raise MalformedClaimError
    digits = _SEPARATORS.sub("", text)
    if not _DIGITS.fullmatch(digits) or check_digit(digits) != 0:
        raise MalformedClaimError
    return digits


def matches(expected: str, given: str) -> bool:
    """Whether two claim codes are equal (in constant time)."""
    return hmac.compare_digest(expected.encode("ascii"), given.encode("ascii"))
