"""Checks on user input shared by the services, the CLI and the web forms.

Each function takes raw text (or a value) and returns the clean value or raises
:class:`~agritrace.errors.InvalidInputError` whose message names the field.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from agritrace.errors import InvalidInputError

__all__ = [
    "MAX_JSON_DEPTH",
    "check_code",
    "check_gln",
    "check_gtin",
    "check_json_depth",
    "check_text",
    "gs1_check_digit",
    "json_depth",
    "parse_date",
    "parse_decimal",
    "parse_positive_int",
]

_CODE = re.compile(r"[A-Z0-9][A-Z0-9._-]{0,39}")


def check_code(raw: str, *, field: str) -> str:
    """An identifier a person types and prints: 1-40 of A-Z 0-9 . _ -, stored upper case."""
    code = raw.strip().upper()
    if not _CODE.fullmatch(code):
        raise InvalidInputError(key="input.code", field=field, raw=raw)
    return code


def check_text(raw: str, *, field: str, max_len: int = 200, required: bool = True) -> str:
    text = " ".join(raw.split())
    if required and not text:
        raise InvalidInputError(key="input.empty", field=field)
    if len(text) > max_len:
        raise InvalidInputError(key="input.too_long", field=field, max_len=max_len)
    if any(ord(c) < 32 for c in text):
        raise InvalidInputError(key="input.control_characters", field=field)
    return text


def gs1_check_digit(body: str) -> int:
    """GS1 mod-10 check digit for the digits before it (GS1 General Specifications 7.9.1)."""
    total = 0
    for position, char in enumerate(reversed(body)):
        weight = 3 if position % 2 == 0 else 1
        total += int(char) * weight
    return (10 - total % 10) % 10


def _check_gs1(raw: str, *, field: str, lengths: tuple[int, ...], name: str) -> str:
    digits = raw.strip().replace(" ", "")
    if not digits.isascii() or not digits.isdigit() or len(digits) not in lengths:
        allowed = " or ".join(str(n) for n in lengths)
        raise InvalidInputError(
            key="input.gs1_digits",
            field=field,
            allowed=allowed,
            lengths="/".join(str(n) for n in lengths),
            raw=raw,
        )
    expected = gs1_check_digit(digits[:-1])
    if int(digits[-1]) != expected:
        raise InvalidInputError(
            key="input.gs1_check_digit", field=field, digits=digits, scheme=name, expected=expected
        )
    return digits


def check_gtin(raw: str, *, field: str = "GTIN") -> str:
    """A GTIN-13 or GTIN-14 with a correct check digit, returned as 14 digits."""
    return _check_gs1(raw, field=field, lengths=(13, 14), name="GTIN").zfill(14)


def check_gln(raw: str, *, field: str = "GLN") -> str:
    """A 13-digit GS1 Global Location Number with a correct check digit."""
    return _check_gs1(raw, field=field, lengths=(13,), name="GLN")


def parse_date(raw: str | dt.date, *, field: str) -> dt.date:
    """An ISO 8601 calendar date (YYYY-MM-DD)."""
    if isinstance(raw, dt.date):
        return raw
    text = raw.strip()
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInputError(key="input.date", field=field, raw=raw) from exc


#: Whole numbers as people type them: ASCII digits only (``int()`` would also take Arabic-Indic
#: or full-width digits and underscores), at most 19 (so always within 64 bits), and a minus
#: sign (refused later as not positive, with that message).
_WHOLE = re.compile(r"-?[0-9]{1,19}", re.ASCII)
#: Decimals: ASCII digits, one optional point, an optional sign and exponent; nothing else
#: (``Decimal()`` would also take other scripts' digits, underscores, NaN and Infinity).
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?", re.ASCII)
_NOT_FINITE = {"nan", "snan", "inf", "infinity"}
#: The longest number text looked at.
MAX_NUMBER_LEN = 40


def parse_positive_int(raw: str | int, *, field: str, maximum: int = 10**9) -> int:
    """A whole number from 1 to ``maximum``, from an int or from ASCII digits (surrounding
    spaces allowed). Raises InvalidInputError naming ``field``."""
    if isinstance(raw, bool):
        raise InvalidInputError(key="input.whole_number", field=field)
    if isinstance(raw, int):
        value = raw
    else:
        text = raw.strip() if isinstance(raw, str) else ""
        if not _WHOLE.fullmatch(text):
            shown = raw[:MAX_NUMBER_LEN] if isinstance(raw, str) else raw
            raise InvalidInputError(key="input.not_whole_number", field=field, raw=shown)
        value = int(text, 10)
    if value <= 0:
        raise InvalidInputError(key="input.not_positive", field=field, value=value)
    if value > maximum:
        raise InvalidInputError(key="input.too_big", field=field, maximum=maximum, value=value)
    return value


def _decimal_text(raw: object, *, field: str) -> Decimal:
    if isinstance(raw, Decimal):
        return raw
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    text = raw.strip() if isinstance(raw, str) else ""
    if text.lstrip("+-").lower() in _NOT_FINITE:
        raise InvalidInputError(key="input.not_finite", field=field)
    if len(text) > MAX_NUMBER_LEN or not _DECIMAL.fullmatch(text):
        shown = raw[:MAX_NUMBER_LEN] if isinstance(raw, str) else type(raw).__name__
        raise InvalidInputError(key="input.not_number", field=field, raw=shown)
    try:
        return Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only numbers
        raise InvalidInputError(key="input.not_number", field=field, raw=text) from exc


def parse_decimal(
    raw: str | Decimal, *, field: str, minimum: Decimal | None = None, places: int = 3
) -> Decimal:
    """A finite decimal with at most ``places`` decimal places, greater than ``minimum``,
    below 10**15: a Decimal, an int, or ASCII text (digits, one point, a sign, an exponent;
    never NaN, Infinity, other scripts' digits or underscores). Raises InvalidInputError."""
    value = _decimal_text(raw, field=field)
    if not value.is_finite():
        raise InvalidInputError(key="input.not_finite", field=field)
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -places:
        raise InvalidInputError(key="input.decimal_places", field=field, places=places)
    if minimum is not None and value <= minimum:
        raise InvalidInputError(key="input.not_above", field=field, minimum=minimum)
    if abs(value) >= Decimal(10) ** 15:
        raise InvalidInputError(key="input.too_large", field=field)
    return value.normalize() if value == value.to_integral() else value


#: How deeply a JSON document may nest arrays and objects (EPCIS documents need about 8).
MAX_JSON_DEPTH = 32
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_JSON_BRACKET = re.compile(r"[\[\]{}]")


def json_depth(text: str | bytes) -> int:
    """How deeply ``text`` nests JSON arrays and objects (brackets inside strings do not
    count). For any valid JSON it equals the parsed value's depth; for other text it is a
    bound a parser would reach, so it may be checked before parsing."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    depth = deepest = 0
    for match in _JSON_BRACKET.finditer(_JSON_STRING.sub("", text)):
        if match.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def check_json_depth(text: str | bytes, *, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raise InvalidInputError if ``text`` nests JSON deeper than ``max_depth`` (a parser
    and every recursive walk after it would otherwise run out of stack)."""
    if json_depth(text) > max_depth:
        raise InvalidInputError(key="input.json_too_deep", max_depth=max_depth)
