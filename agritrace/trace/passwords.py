"""Password hashing with scrypt (RFC 7914), from the standard library.

Hashes are self-describing strings ``scrypt$N$r$p$salt$hash`` (base64), so the cost can be
raised later without breaking stored hashes: :func:`needs_rehash` tells a hash made with
other parameters, and sign-in then stores a fresh one. Passwords are never logged or
returned.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from agritrace.errors import InvalidInputError

__all__ = [
    "MIN_PASSWORD_LEN",
    "check_password_strength",
    "hash_password",
    "needs_rehash",
    "rehash",
    "verify_password",
]

MIN_PASSWORD_LEN = 10
_N, _R, _P = 2**14, 8, 1
_DKLEN = 32


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LEN:
        raise InvalidInputError(
            key="password.too_short", field="password", min_len=MIN_PASSWORD_LEN
        )
    if len(password) > 1024:
        raise InvalidInputError(key="password.too_long", field="password", max_len=1024)


def hash_password(password: str) -> str:
    check_password_strength(password)
    return rehash(password)


def rehash(password: str) -> str:
    """A hash of ``password`` (already verified) with the current parameters; no strength
    check, so an older account whose password predates the rules can still sign in."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=_DKLEN, maxmem=64 << 20
    )
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """True if ``password`` matches ``stored``; False for a mismatch or a malformed hash."""
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt = base64.b64decode(salt_b64, validate=True)
        expected = base64.b64decode(digest_b64, validate=True)
        actual = hashlib.scrypt(
            password.encode("utf-8")[:4096],
            salt=salt,
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=64 << 20,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def needs_rehash(stored: str) -> bool:
    """True if ``stored`` was not made with the current scheme and parameters."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return True
    try:
        dklen = len(base64.b64decode(parts[5], validate=True))
    except ValueError:
        return True
    return parts[1:4] != [str(_N), str(_R), str(_P)] or dklen != _DKLEN
