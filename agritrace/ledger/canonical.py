"""Canonical JSON for ledger entries: RFC 8785 (JSON Canonicalization Scheme, JCS).

Every ledger entry is stored exactly as the bytes this module produces, and those bytes are
what the Merkle tree and the hash chain commit to; so one value has exactly one encoding.

Accepted values (checked, never assumed):

- ``None``, ``True``, ``False``;
- ``int`` within I-JSON's exact range, ``-(2**53 - 1)`` .. ``2**53 - 1`` (RFC 7493 §2.2);
  in that range RFC 8785 §3.2.2.3 (ECMAScript number serialization) is plain decimal;
- ``str`` of Unicode scalar values (a lone surrogate cannot be UTF-8 and is refused);
- ``list`` and ``tuple`` (both become JSON arrays);
- any ``Mapping`` whose keys are all ``str`` (a JSON object).

Floats are refused: our entries carry quantities as decimal strings or integers, and refusing
floats keeps RFC 8785's number formatting (and its rounding questions) out of the ledger.

Encoding follows RFC 8785 §3.2: no whitespace; object members sorted by their keys' UTF-16
code units (§3.2.3); strings escape only ``"``, ``\\`` and the controls U+0000..U+001F, using
``\\b \\t \\n \\f \\r`` where they exist and ``\\u00xx`` (lower-case hex) otherwise, every other
character is written as itself (§3.2.2.2); the output is UTF-8 (§3.2.4).

:func:`to_canonical_bytes` encodes plain values (exact ``dict``, ``list``, ``str``, ``int``, ...)
whose keys are ASCII with Python's C JSON encoder, which gives exactly these bytes there (a
property test holds it to the full encoder below), and everything else with the full encoder.

:func:`from_canonical_bytes` accepts only bytes that are exactly canonical: it parses, encodes
the result again and refuses any difference (whitespace, escapes, key order, duplicate keys,
``-0``, exponents, a byte order mark, ...). Every refusal raises
:class:`~agritrace.errors.InvalidInputError` with the facts ``reason`` and, where known, ``path``
(a JSONPath-like location such as ``$["lots"][2]["qty"]``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NoReturn

from agritrace.errors import InvalidInputError

__all__ = [
    "MAX_SAFE_INTEGER",
    "from_canonical_bytes",
    "to_canonical_bytes",
]

#: Largest integer magnitude I-JSON (RFC 7493 §2.2) lets a JSON number carry exactly.
MAX_SAFE_INTEGER = 2**53 - 1

# RFC 8785 §3.2.2.2: the only characters escaped, and how.
_ESCAPES: dict[int, str] = {code: f"\\u{code:04x}" for code in range(0x20)}
_ESCAPES.update(
    {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r", 0x22: '\\"', 0x5C: "\\\\"}
)


class _CanonicalFormError(Exception):
    """Internal: carries a refusal up the recursion so each level can add its path step."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.steps: list[str] = []


def to_canonical_bytes(value: object) -> bytes:
    """Encode ``value`` as RFC 8785 canonical JSON (UTF-8 bytes).

    Raises :class:`InvalidInputError` (facts ``reason``, ``path``) for floats, integers outside
    ``±(2**53 - 1)``, non-string object keys, lone surrogates and any other type.
    """
    fast = _fast_canonical_bytes(value)
    return fast if fast is not None else _full_canonical_bytes(value)


def _fast_canonical_bytes(value: object) -> bytes | None:
    """The same bytes as :func:`_full_canonical_bytes` through the C JSON encoder, or ``None``
    when ``value`` is outside the part of the profile where that is known to hold.

    ``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` writes RFC 8785
    exactly when: every value is a plain ``dict``, ``list``, ``tuple``, ``str``, ``bool``,
    ``None`` or ``int`` within ±(2**53 - 1) (no floats, whose formatting differs, and no
    subclasses, which may encode themselves otherwise); every key is an ASCII ``str`` (sort_keys
    orders by code point, RFC 8785 by UTF-16 code unit: the two agree below U+10000, and ASCII
    is the cheap test); and the text has no lone surrogate (then encoding to UTF-8 fails). It
    escapes exactly ``"``, ``\\`` and U+0000..U+001F, with the same short forms and lower-case
    hex as RFC 8785 §3.2.2.2. A property test holds the two paths to the same bytes.
    """
    try:
        if not _plain(value):
            return None
        return _FAST_ENCODER.encode(value).encode("utf-8")
    except (RecursionError, UnicodeEncodeError):
        return None


# _plain walks the whole value first, so the encoder has no cycle to look for.
_FAST_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, check_circular=False
)


def _plain(value: object) -> bool:
    # Exact types (`type(...) is`), so no subclass gets through; isinstance is there for mypy.
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int and isinstance(value, int):
        return -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER
    if kind is dict and isinstance(value, dict):
        for key, item in value.items():
            if type(key) is not str or not key.isascii():
                return False
            if type(item) is not str and not _plain(item):
                return False
        return True
    if (kind is list or kind is tuple) and isinstance(value, list | tuple):
        return all(type(item) is str or _plain(item) for item in value)
    return False


def _full_canonical_bytes(value: object) -> bytes:
    # The reference encoder: every rule of RFC 8785 spelled out, and every refusal explained.
    out: list[str] = []
    try:
        _encode(value, out)
        return "".join(out).encode("utf-8")
    except _CanonicalFormError as failure:
        path = "$" + "".join(reversed(failure.steps))
        raise InvalidInputError(
            f"cannot canonicalize JSON at {path}: {failure.reason}",
            reason=failure.reason,
            path=path,
        ) from None
    except UnicodeEncodeError as exc:
        # Only a lone surrogate (in a string or a key) gets here.
        reason = "a string holds a lone surrogate, which is not a Unicode scalar value"
        raise InvalidInputError(
            f"cannot canonicalize JSON: {reason}", reason=reason, path="$"
        ) from exc
    except RecursionError as exc:
        reason = "the value is nested too deeply"
        raise InvalidInputError(
            f"cannot canonicalize JSON: {reason}", reason=reason, path="$"
        ) from exc


def from_canonical_bytes(data: bytes) -> Any:
    """Parse RFC 8785 canonical JSON, refusing any input that is not exactly canonical.

    Returns ``None``, ``bool``, ``int``, ``str``, ``list`` or ``dict`` values (arrays always come
    back as lists). Raises :class:`InvalidInputError` (fact ``reason``) for invalid UTF-8,
    invalid JSON, floats, ``NaN``/``Infinity``, out-of-range integers, and any byte sequence
    that differs from the canonical encoding of what it parses to.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        _refuse_input(f"expected bytes, got {type(data).__name__}")
    raw = bytes(data)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        _refuse_input("the bytes are not valid UTF-8", exc)
    try:
        value = json.loads(text, parse_float=_refuse_float, parse_constant=_refuse_constant)
    except _CanonicalFormError as failure:
        _refuse_input(failure.reason)
    except (ValueError, RecursionError) as exc:
        # json.JSONDecodeError is a ValueError; so is Python's integer-digit limit.
        _refuse_input(f"not valid JSON ({exc})", exc)
    try:
        canonical = to_canonical_bytes(value)
    except InvalidInputError as exc:
        _refuse_input(str(exc.facts["reason"]), exc)
    if canonical != raw:
        _refuse_input("the JSON is valid but not in RFC 8785 canonical form")
    return value


def _refuse_input(reason: str, cause: BaseException | None = None) -> NoReturn:
    raise InvalidInputError(f"not canonical JSON: {reason}", reason=reason) from cause


def _refuse_float(literal: str) -> NoReturn:
    raise _CanonicalFormError(f"floats are not allowed (found {literal[:40]})")


def _refuse_constant(literal: str) -> NoReturn:
    raise _CanonicalFormError(f"{literal} is not JSON")


def _utf16_key(key: str) -> bytes:
    # Big-endian UTF-16 bytes compare exactly like the code-unit sequence (RFC 8785 §3.2.3).
    return key.encode("utf-16-be")


def _encode(value: object, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append('"' + value.translate(_ESCAPES) + '"')
    elif isinstance(value, int):
        number = int(value)  # an IntEnum member becomes its plain value
        if not -MAX_SAFE_INTEGER <= number <= MAX_SAFE_INTEGER:
            raise _CanonicalFormError(f"integer {number} is outside ±(2**53 - 1)")
        out.append(str(number))
    elif isinstance(value, float):
        raise _CanonicalFormError(f"floats are not allowed (found {value!r})")
    elif isinstance(value, Mapping):
        _encode_object(value, out)
    elif isinstance(value, list | tuple):
        _encode_array(value, out)
    else:
        raise _CanonicalFormError(f"values of type {type(value).__name__} are not allowed")


def _encode_object(value: Mapping[Any, Any], out: list[str]) -> None:
    for key in value:
        if not isinstance(key, str):
            raise _CanonicalFormError(f"object keys must be strings, found {type(key).__name__}")
    out.append("{")
    first = True
    for key in sorted(value, key=_utf16_key):
        if not first:
            out.append(",")
        first = False
        out.append('"' + key.translate(_ESCAPES) + '":')
        try:
            _encode(value[key], out)
        except _CanonicalFormError as failure:
            failure.steps.append(f"[{json.dumps(key)}]")
            raise
    out.append("}")


def _encode_array(value: list[Any] | tuple[Any, ...], out: list[str]) -> None:
    out.append("[")
    for position, item in enumerate(value):
        if position:
            out.append(",")
        try:
            _encode(item, out)
        except _CanonicalFormError as failure:
            failure.steps.append(f"[{position}]")
            raise
    out.append("]")
