"""Signed stamp codes: the 72-byte payload, its text and URL forms, signing and verification.

This module is a pure core (no web, no database). It guarantees:

* **Payload** (72 bytes, DESIGN.md "Stamps"): byte 0 is ``version << 4 | alg`` (version 1,
  alg 1 = Ed25519), byte 1 the key id (index in the issuer's published key list), bytes 2-7
  the serial (big-endian, ``0 < serial < 2**48``), bytes 8-71 the Ed25519 signature.
* **Signed message**: ``b"agritrace-stamp-v1" || 0x00 || PREFIX || 0x00 || payload[0:8]``
  where ``PREFIX`` is the issuer's URL prefix in its normal form (ASCII, upper case, e.g.
  ``b"HTTPS://TRACE.EXAMPLE.VN/S/"``). A prefix never contains 0x00, so the three parts can
  always be told apart. The prefix binds a stamp to its issuer's address: the same key
  signing for another address makes different stamps.
* **Text**: RFC 4648 base32 of the payload, upper case, no padding: exactly 116 characters.
  Decoding accepts any letter case and surrounding whitespace but only the canonical
  encoding (the four unused low bits of the last character must be zero).
* **URL**: prefix + text, all upper case, so a QR code holds it in alphanumeric mode: version
  6 at level M (41 modules) while the prefix is at most :data:`MAX_PREFIX_CHARS` characters.
* **Verification** returns nothing or raises one precise error, each with a stable
  ``reason`` slug the web can show: :class:`MalformedStampError` (``malformed``, an
  :class:`~agritrace.errors.InvalidInputError`), and three
  :class:`~agritrace.errors.VerificationError` s: :class:`UnknownKeyError`
  (``unknown-key``), :class:`BadSignatureError` (``bad-signature``) and
  :class:`WrongIssuerError` (``wrong-issuer``).
* **Short code** (:func:`short_code`): the serial in decimal, zero-padded to at least nine
  digits, in groups of three separated by spaces, then ``-`` and a Damm check digit, e.g.
  ``short_code(42) == "000 000 042-7"`` (7 is the check digit). It is printed under each QR
  for people (packers, print shops, a consumer reading it over the phone); it identifies the
  stamp but proves nothing. :func:`parse_short_code` reverses it and catches every single
  mistyped digit and every swap of two adjacent digits.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from agritrace.errors import InvalidInputError, VerificationError
from agritrace.stamps import sodium

__all__ = [
    "ALG_ED25519",
    "DOMAIN_TAG",
    "MAX_PREFIX_CHARS",
    "MAX_SERIAL",
    "PAYLOAD_BYTES",
    "TEXT_CHARS",
    "VERSION",
    "BadSignatureError",
    "MalformedStampError",
    "ParsedStamp",
    "Stamp",
    "StampVerificationError",
    "UnknownKeyError",
    "WrongIssuerError",
    "damm_digit",
    "parse",
    "parse_short_code",
    "short_code",
    "sign_serials",
    "sign_stamp",
    "signed_message",
    "stamp_prefix",
    "verify_code",
    "verify_stamp",
]

#: Payload format version (high nibble of byte 0).
VERSION = 1
#: Signature algorithm 1 = Ed25519 (low nibble of byte 0).
ALG_ED25519 = 1
#: Domain-separation tag that starts every signed message.
DOMAIN_TAG = b"agritrace-stamp-v1"
#: Bytes in a payload: 8 header bytes and a 64-byte signature.
PAYLOAD_BYTES = 72
#: Characters in the base32 text of a payload (no padding).
TEXT_CHARS = 116
#: Largest serial that fits the 6-byte field (serial 0 is never issued).
MAX_SERIAL = 2**48 - 1
#: Longest prefix that keeps ``prefix + code`` within QR version 6 at level M
#: (154 alphanumeric characters = 38 + 116).
MAX_PREFIX_CHARS = 38

_HEADER_BYTES = 8
_SIGNATURE_BYTES = 64
_SEP = b"\x00"
_BASE32_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
# Normal form of a prefix: scheme, host (letters, digits, dots, hyphens), optional port,
# then exactly "/S/". Every character is in the QR alphanumeric set.
_PREFIX_RE = re.compile(r"HTTPS?://[A-Z0-9](?:[A-Z0-9.-]*[A-Z0-9])?(?::[0-9]{1,5})?/S/")


class MalformedStampError(InvalidInputError):
    """The text, URL or bytes are not a well-formed stamp (length, alphabet, version, serial)."""

    reason: ClassVar[str] = "malformed"


class StampVerificationError(VerificationError):
    """A well-formed stamp did not verify. ``reason`` says why, as a short stable slug."""

    reason: ClassVar[str] = "not-genuine"


class UnknownKeyError(StampVerificationError):
    """The stamp names a key id the issuer has not published."""

    reason: ClassVar[str] = "unknown-key"


class BadSignatureError(StampVerificationError):
    """The signature does not match the serial, key and issuer prefix."""

    reason: ClassVar[str] = "bad-signature"


class WrongIssuerError(StampVerificationError):
    """The stamp's URL names another issuer's address than the one verifying it."""

    reason: ClassVar[str] = "wrong-issuer"


@functools.lru_cache(maxsize=64)
def _normal_prefix(prefix: str) -> str:
    """``prefix`` in its normal (upper-case) form, or MalformedStampError if it is no prefix.

    Cached: an issuer has one prefix (a few, across key ring history), checked per stamp."""
    normal = prefix.upper()
    if not normal.isascii() or _PREFIX_RE.fullmatch(normal) is None:
        raise MalformedStampError(
            "a stamp prefix must look like HTTPS://HOST/S/", prefix_chars=len(prefix)
        )
    return normal


def stamp_prefix(base_url: str, *, allow_long: bool = False) -> str:
    """The stamp URL prefix for an issuer's base URL: ``https://trace.example.vn`` ->
    ``"HTTPS://TRACE.EXAMPLE.VN/S/"``.

    Accepts ``http`` or ``https``, an ASCII host name (use the ``xn--`` form of an
    internationalised name) and an optional port; no user, path, query or fragment (one
    trailing ``/`` is allowed). The result is upper case, so the whole URL stays in QR
    alphanumeric mode.

    Length rule: a prefix longer than :data:`MAX_PREFIX_CHARS` (38) still makes valid stamps,
    but their QR codes need version 7 or more at level M (45+ modules), so labels laid out
    for version 6 no longer fit. Such a prefix is refused with InvalidInputError unless the
    caller passes ``allow_long=True`` to accept the bigger codes knowingly.

    Raises InvalidInputError naming the rule that was broken.
    """
    raw = base_url.strip()
    if raw.endswith("/"):
        raw = raw[:-1]
    if not raw.isascii():
        raise InvalidInputError(
            "the base URL must be ASCII: write an internationalised host name in its "
            "xn-- (punycode) form"
        )
    parts = urlsplit(raw)
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
        raise InvalidInputError(
            f"the base URL must look like https://trace.example.vn, not {raw!r}"
        )
    if parts.path or parts.query or parts.fragment or "@" in parts.netloc:
        raise InvalidInputError("the base URL must be scheme and host only (no path or user)")
    prefix = f"{parts.scheme}://{parts.netloc}/S/".upper()
    if _PREFIX_RE.fullmatch(prefix) is None:
        raise InvalidInputError(
            f"the base URL host {parts.netloc!r} must be a plain host name or address "
            "(letters, digits, dots, hyphens, optional :port)"
        )
    if len(prefix) > MAX_PREFIX_CHARS and not allow_long:
        raise InvalidInputError(
            f"the stamp prefix {prefix} has {len(prefix)} characters; at most "
            f"{MAX_PREFIX_CHARS} keep every QR code at version 6 (41 modules). Use a shorter "
            "host name, or accept bigger codes with allow_long=True",
            prefix_chars=len(prefix),
            max_prefix_chars=MAX_PREFIX_CHARS,
        )
    return prefix


# RFC 4648 base32 of exactly 72 bytes, done with a few big-integer operations instead of the
# standard library's per-chunk Python loop (4x faster to encode, 8x to decode; the tests
# check both against ``base64``). 72 bytes = 576 bits = 116 five-bit groups less 4 bits.
_B32_ALPHABET_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_TO_B32 = bytes.maketrans(bytes(range(32)), _B32_ALPHABET_BYTES)
_FROM_B32 = str.maketrans(_B32_ALPHABET_BYTES.decode("ascii"), "0123456789abcdefghijklmnopqrstuv")


def _spread_levels() -> tuple[tuple[int, int, int], ...]:
    """Masks that move 128 five-bit groups from bit ``5 * i`` to bit ``8 * i``: at each
    level every block of ``2h`` groups keeps its lower half and shifts its upper half up by
    ``3h`` bits, so after seven halvings each group sits in its own byte."""
    full = (1 << 1024) - 1
    levels = []
    half = 64
    while half >= 1:
        high = 0
        for block in range(128 // (2 * half)):
            high |= ((1 << (5 * half)) - 1) << (16 * half * block + 5 * half)
        levels.append((full ^ high, high, 3 * half))
        half //= 2
    return tuple(levels)


_SPREAD = _spread_levels()


def _b32(raw: bytes) -> str:
    """Base32 text of a 72-byte payload, no padding (the last 4 bits are zero)."""
    n = int.from_bytes(raw, "big") << 4
    for low, high, shift in _SPREAD:
        n = (n & low) | ((n & high) << shift)
    return n.to_bytes(128, "big")[128 - TEXT_CHARS :].translate(_TO_B32).decode("ascii")


def _unb32(code: str) -> bytes:
    """The 72 bytes of a 116-character upper-case base32 text (alphabet already checked)."""
    n = int(code.translate(_FROM_B32), 32)
    if n & 0x0F:
        raise MalformedStampError("a stamp code is not in canonical base32 form")
    return (n >> 4).to_bytes(PAYLOAD_BYTES, "big")


@dataclass(frozen=True, slots=True)
class Stamp:
    """One stamp: header fields and signature. Construction checks every field's range."""

    version: int
    alg: int
    key_id: int
    serial: int
    signature: bytes

    def __post_init__(self) -> None:
        if self.version != VERSION or self.alg != ALG_ED25519:
            raise MalformedStampError(
                f"unsupported stamp format (version {self.version}, algorithm {self.alg})",
                stamp_version=self.version,
                stamp_alg=self.alg,
            )
        if not 0 <= self.key_id <= 255:
            raise MalformedStampError("a stamp key id is one byte (0..255)", key_id=self.key_id)
        if not 0 < self.serial <= MAX_SERIAL:
            raise MalformedStampError(
                f"a stamp serial must be between 1 and {MAX_SERIAL}", serial=self.serial
            )
        if len(self.signature) != _SIGNATURE_BYTES:
            raise MalformedStampError(
                "a stamp signature is 64 bytes", signature_bytes=len(self.signature)
            )

    def header(self) -> bytes:
        """The first 8 payload bytes: version/alg, key id, serial. This is what is signed."""
        return bytes((self.version << 4 | self.alg, self.key_id)) + self.serial.to_bytes(6, "big")

    def to_bytes(self) -> bytes:
        """The 72-byte payload."""
        return self.header() + self.signature

    @classmethod
    def from_bytes(cls, data: bytes) -> Stamp:
        """Decode a 72-byte payload; raises MalformedStampError for any other length or an
        unsupported version, algorithm or serial 0. Does not check the signature."""
        if len(data) != PAYLOAD_BYTES:
            raise MalformedStampError(
                f"a stamp payload is {PAYLOAD_BYTES} bytes, not {len(data)}",
                payload_bytes=len(data),
            )
        return cls(
            version=data[0] >> 4,
            alg=data[0] & 0x0F,
            key_id=data[1],
            serial=int.from_bytes(data[2:8], "big"),
            signature=bytes(data[8:]),
        )

    def to_text(self) -> str:
        """The 116-character upper-case base32 text (RFC 4648, no padding)."""
        return _b32(self.to_bytes())

    @classmethod
    def from_text(cls, text: str) -> Stamp:
        """Decode the base32 text; any letter case and surrounding whitespace are accepted.

        Raises MalformedStampError for a wrong length, a character outside the base32
        alphabet, padding, or a non-canonical last character.
        """
        code = text.strip().upper()
        if len(code) != TEXT_CHARS:
            raise MalformedStampError(
                f"a stamp code has {TEXT_CHARS} characters, not {len(code)}", code_chars=len(code)
            )
        if not _BASE32_ALPHABET.issuperset(code):
            raise MalformedStampError("a stamp code uses only the letters A-Z and digits 2-7")
        return cls.from_bytes(_unb32(code))

    def to_url(self, prefix: str) -> str:
        """``prefix + text`` in upper case, e.g. ``HTTPS://TRACE.EXAMPLE.VN/S/AEAA...``.

        Raises MalformedStampError if ``prefix`` is not of the form ``HTTPS://HOST/S/``.
        """
        return _normal_prefix(prefix) + self.to_text()


@dataclass(frozen=True, slots=True)
class ParsedStamp:
    """A stamp read from a scan: the stamp and the URL prefix it came with (None for a bare
    code), in upper case, so a verifier can check the issuer."""

    stamp: Stamp
    prefix: str | None


def parse(code_or_url: str) -> ParsedStamp:
    """Read a bare code or a stamp URL, in any letter case, with any host.

    A URL is split at its last ``/S/``; the part before (and including) it must be a prefix
    of the form ``HTTPS://HOST/S/``. Does not verify the signature. Raises
    MalformedStampError.
    """
    text = code_or_url.strip()
    if "/" not in text:
        return ParsedStamp(Stamp.from_text(text), None)
    upper = text.upper()
    cut = upper.rfind("/S/")
    if cut < 0:
        raise MalformedStampError("not a stamp URL: the path must be /S/<code>")
    prefix = _normal_prefix(upper[: cut + 3])
    return ParsedStamp(Stamp.from_text(upper[cut + 3 :]), prefix)


def signed_message(header: bytes, prefix: str) -> bytes:
    """The exact bytes signed for a stamp with these 8 ``header`` bytes under ``prefix``."""
    if len(header) != _HEADER_BYTES:
        raise MalformedStampError("a stamp header is 8 bytes", header_bytes=len(header))
    return _message_head(_normal_prefix(prefix)) + header


@functools.lru_cache(maxsize=64)
def _message_head(normal_prefix: str) -> bytes:
    return DOMAIN_TAG + _SEP + normal_prefix.encode("ascii") + _SEP


def _check_range(first: int, count: int) -> None:
    if count < 0:
        raise InvalidInputError("a stamp count cannot be negative", count=count)
    if first < 1 or first + count - 1 > MAX_SERIAL:
        raise InvalidInputError(
            f"stamp serials must lie between 1 and {MAX_SERIAL}", first=first, count=count
        )


def sign_stamp(serial: int, *, key_id: int, private_key: Ed25519PrivateKey, prefix: str) -> Stamp:
    """Sign one serial. Deterministic: the same inputs always give the same stamp.

    Raises InvalidInputError (MalformedStampError) for a serial or key id out of range or a
    malformed prefix.
    """
    _check_range(serial, 1)
    return next(sign_serials(serial, 1, key_id=key_id, private_key=private_key, prefix=prefix))


def sign_serials(
    first: int, count: int, *, key_id: int, private_key: Ed25519PrivateKey, prefix: str
) -> Iterator[Stamp]:
    """Sign the serial range ``[first, first + count)`` in order, lazily (constant memory).

    Arguments are checked at once (InvalidInputError), before the first stamp is produced.
    The message head is built once for the whole range, so each stamp costs one Ed25519
    signature and little else.
    """
    _check_range(first, count)
    if not 0 <= key_id <= 255:
        raise MalformedStampError("a stamp key id is one byte (0..255)", key_id=key_id)
    head = _message_head(_normal_prefix(prefix)) + bytes((VERSION << 4 | ALG_ED25519, key_id))
    return _sign_range(head, first, count, key_id, private_key)


def _sign_range(
    head: bytes, first: int, count: int, key_id: int, private_key: Ed25519PrivateKey
) -> Iterator[Stamp]:
    sign = sodium.signer(private_key)
    for serial in range(first, first + count):
        signature = sign(head + serial.to_bytes(6, "big"))
        yield Stamp(VERSION, ALG_ED25519, key_id, serial, signature)


def verify_stamp(
    stamp: Stamp,
    *,
    prefix: str,
    public_keys: Mapping[int, Ed25519PublicKey],
    scanned_prefix: str | None = None,
) -> None:
    """Check that ``stamp`` was signed by the issuer at ``prefix``; return nothing or raise.

    ``public_keys`` maps key ids to the issuer's keys, active and retired alike.
    ``scanned_prefix`` is the prefix the stamp was read with (``ParsedStamp.prefix``), if any.

    Raises, in this order of checks: WrongIssuerError if ``scanned_prefix`` differs from
    ``prefix``; UnknownKeyError if the key id is not in ``public_keys``; BadSignatureError if
    the signature does not match. A malformed ``prefix`` raises MalformedStampError.
    """
    expected = _normal_prefix(prefix)
    if scanned_prefix is not None and scanned_prefix.upper() != expected:
        raise WrongIssuerError(
            "this stamp was issued for another address",
            expected_prefix=expected,
            found_prefix=scanned_prefix.upper(),
            serial=stamp.serial,
        )
    key = public_keys.get(stamp.key_id)
    if key is None:
        raise UnknownKeyError(
            f"stamp key {stamp.key_id} is not one of the issuer's keys",
            key_id=stamp.key_id,
            serial=stamp.serial,
        )
    message = _message_head(expected) + stamp.header()
    if not sodium.verify(key, stamp.signature, message):
        raise BadSignatureError(
            "the stamp's signature does not match", key_id=stamp.key_id, serial=stamp.serial
        )


def verify_code(
    code_or_url: str, *, prefix: str, public_keys: Mapping[int, Ed25519PublicKey]
) -> Stamp:
    """Parse a scanned code or URL and verify it against the issuer at ``prefix``.

    Returns the verified stamp; raises MalformedStampError or a StampVerificationError
    exactly as :func:`parse` and :func:`verify_stamp` do.
    """
    parsed = parse(code_or_url)
    verify_stamp(parsed.stamp, prefix=prefix, public_keys=public_keys, scanned_prefix=parsed.prefix)
    return parsed.stamp


# Damm's totally anti-symmetric quasigroup of order 10 (H. M. Damm, 2004). A check digit over
# it detects every single-digit error and every transposition of two adjacent digits.
_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)
_SHORT_MIN_DIGITS = 9


def damm_digit(digits: str) -> int:
    """The Damm check digit of a string of ASCII digits (0 when its last digit is a right
    check digit); short codes and claim codes use it."""
    interim = 0
    for digit in digits:
        interim = _DAMM[interim][ord(digit) - 48]
    return interim


def short_code(serial: int) -> str:
    """The human-readable code printed under a QR: ``"000 000 042-7"`` for serial 42.

    The serial in decimal, zero-padded to at least 9 digits, in groups of three from the
    right separated by spaces, then ``-`` and the Damm check digit of those digits. Raises
    InvalidInputError for a serial outside ``1..MAX_SERIAL``.
    """
    _check_range(serial, 1)
    digits = f"{serial:0{_SHORT_MIN_DIGITS}d}"
    head = len(digits) % 3 or 3
    groups = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return f"{' '.join(groups)}-{damm_digit(digits)}"


def parse_short_code(text: str) -> int:
    """The serial named by a short code. Spaces and hyphens anywhere are ignored; the last
    digit is the check digit. Raises InvalidInputError for anything else or a wrong check
    digit (a typo)."""
    digits = re.sub(r"[\s-]", "", text)
    if not (digits.isascii() and digits.isdigit()) or len(digits) < 2:
        raise InvalidInputError("a short code is digits with an optional check digit after '-'")
    if damm_digit(digits) != 0:
        raise InvalidInputError("the short code's check digit does not match: is there a typo?")
    serial = int(digits[:-1])
    _check_range(serial, 1)
    return serial
