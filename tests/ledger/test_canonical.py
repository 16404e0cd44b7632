"""Tests for agritrace.ledger.canonical: RFC 8785 canonical JSON without floats."""

from __future__ import annotations

import json
from collections import OrderedDict
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from agritrace.errors import InvalidInputError
from agritrace.ledger import canonical
from agritrace.ledger.canonical import (
    MAX_SAFE_INTEGER,
    from_canonical_bytes,
    to_canonical_bytes,
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
    | st.text()  # hypothesis leaves out lone surrogates by default
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)
json_objects = st.dictionaries(
    st.text(max_size=8), scalars | st.lists(scalars, max_size=3), min_size=2, max_size=10
)


# --- known answers from RFC 8785 --------------------------------------------------------------


def test_rfc8785_key_sorting_example() -> None:
    # RFC 8785 §3.2.3, verbatim input; members are ordered by UTF-16 code units, so U+1F600
    # (D83D DE00) sorts before U+FB33.
    source = r"""{
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis"
    }"""
    expected = (
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control",'
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
        '"\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    ).encode()
    value = json.loads(source)
    assert to_canonical_bytes(value) == expected
    assert from_canonical_bytes(expected) == value


def test_rfc8785_string_and_literals_example() -> None:
    # RFC 8785 §3.2.2's example without its "numbers" member (we refuse floats).
    source = r"""{
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    }"""
    expected = r"""{"literals":[null,true,false],"string":"€$\u000f\nA'B\"\\\\\"/"}""".encode()
    assert to_canonical_bytes(json.loads(source)) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, b"0"),
        (-1, b"-1"),
        (MAX_SAFE_INTEGER, b"9007199254740991"),
        (-MAX_SAFE_INTEGER, b"-9007199254740991"),
        ("\x00\x08\x09\x0a\x0b\x0c\x0d\x1f", b'"\\u0000\\b\\t\\n\\u000b\\f\\r\\u001f"'),
        ("\x7f\u2028/<>&'", '"\x7f\u2028/<>&\'"'.encode()),  # never escaped
        ([], b"[]"),
        ({}, b"{}"),
        ((1, "a", None), b'[1,"a",null]'),
        ({"b": [True, {"a": False}], "a": ""}, b'{"a":"","b":[true,{"a":false}]}'),
    ],
)
def test_known_encodings(value: Any, expected: bytes) -> None:
    assert to_canonical_bytes(value) == expected


# --- properties -------------------------------------------------------------------------------


@settings(max_examples=300)
@given(json_values)
@example({"\ufb33": 1, "\U0001f600": 2, "\uffff": 3})
def test_round_trip(value: Any) -> None:
    data = to_canonical_bytes(value)
    assert from_canonical_bytes(data) == value
    assert to_canonical_bytes(from_canonical_bytes(data)) == data


@settings(max_examples=200)
@given(json_objects, st.data())
def test_output_is_stable_under_key_reordering(value: dict[str, Any], data: st.DataObject) -> None:
    items = data.draw(st.permutations(list(value.items())))
    assert to_canonical_bytes(dict(items)) == to_canonical_bytes(value)


def _utf16_units(text: str) -> list[int]:
    units: list[int] = []
    for char in text:
        code = ord(char)
        if code < 0x10000:
            units.append(code)
        else:
            code -= 0x10000
            units.extend((0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF)))
    return units


@settings(max_examples=200)
@given(st.lists(st.text(max_size=4), unique=True, max_size=12))
@example(["\ufb33", "\U0001f600", "\ue000", "\U00010000"])
def test_members_are_sorted_by_utf16_code_units(keys: list[str]) -> None:
    value = {key: index for index, key in enumerate(keys)}
    decoded = json.loads(to_canonical_bytes(value), object_pairs_hook=list)
    assert [key for key, _ in decoded] == sorted(keys, key=_utf16_units)


@settings(max_examples=200)
@given(
    st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(st.characters(max_codepoint=0xD7FF)), children, max_size=4)
        ),
        max_leaves=20,
    )
)
def test_agrees_with_python_json_where_orders_coincide(value: Any) -> None:
    # Below U+D800, code point order is UTF-16 order, and Python's json escapes exactly as
    # RFC 8785 does when ensure_ascii is off: an independent oracle for everything else.
    oracle = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    assert to_canonical_bytes(value) == oracle.encode()


@settings(max_examples=300)
@given(st.binary(max_size=40))
@example(b'{"a":1}')
@example(b"\xef\xbb\xbf1")
def test_parser_only_accepts_its_own_output(data: bytes) -> None:
    try:
        value = from_canonical_bytes(data)
    except InvalidInputError:
        return
    assert to_canonical_bytes(value) == data


@settings(max_examples=200)
@given(json_values, st.data())
def test_any_changed_byte_is_refused_or_changes_the_value(value: Any, data: st.DataObject) -> None:
    encoded = to_canonical_bytes(value)
    position = data.draw(st.integers(0, len(encoded) - 1))
    replacement = data.draw(st.integers(0, 255).filter(lambda byte: byte != encoded[position]))
    mutated = encoded[:position] + bytes([replacement]) + encoded[position + 1 :]
    try:
        decoded = from_canonical_bytes(mutated)
    except InvalidInputError:
        return
    assert decoded != value
    assert to_canonical_bytes(decoded) == mutated


# --- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "path"),
    [
        (1.5, "$"),
        (float("nan"), "$"),
        ({"a": [1, {"b": 0.0}]}, '$["a"][1]["b"]'),
        (MAX_SAFE_INTEGER + 1, "$"),
        ([-MAX_SAFE_INTEGER - 1], "$[0]"),
        ({1: "a"}, "$"),
        ({"x": {("t",): 1}}, '$["x"]'),
        ({"s": {1, 2}}, '$["s"]'),
        (b"bytes", "$"),
        ("\ud800", "$"),
        ({"\udc00": 1}, "$"),
    ],
)
def test_refuses_values_outside_the_profile(value: Any, path: str) -> None:
    with pytest.raises(InvalidInputError) as failure:
        to_canonical_bytes(value)
    assert failure.value.facts["path"] == path


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b" 1",
        b"1\n",
        b'{"a": 1}',
        b'{"b":1,"a":2}',
        b'{"a":1,"a":1}',
        b'"\\u0041"',
        b'"\\/"',
        b'"\\u001F"',
        b'"\\u000a"',
        b'"\x0a"',
        b"-0",
        b"01",
        b"1.0",
        b"1e2",
        b"NaN",
        b"Infinity",
        b"9007199254740992",
        b'"\\ud800"',
        b"\xef\xbb\xbf1",
        b'"\xff"',
        b'"\xed\xa0\x80"',
        b"[1,]",
        b"[" * 50000 + b"]" * 50000,
        b"1" * 5000,
    ],
)
def test_refuses_bytes_that_are_not_exactly_canonical(data: bytes) -> None:
    with pytest.raises(InvalidInputError):
        from_canonical_bytes(data)


def test_refuses_deep_nesting_when_encoding() -> None:
    value: list[Any] = []
    for _ in range(100000):
        value = [value]
    with pytest.raises(InvalidInputError):
        to_canonical_bytes(value)


# --- the fast path (the C JSON encoder) against the full encoder -------------------------------


class Step(StrEnum):
    SHIPPING = "shipping"


class Level(IntEnum):
    HIGH = 3


wide_text = st.text(
    st.characters(codec=None, exclude_categories=())  # every code point, lone surrogates too
    | st.sampled_from(["\x00", "\x08", "\x0b", "\x1f", "\x7f", '"', "\\", "\u2028", "\ud800"]),
    max_size=8,
)
wide_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.sampled_from([MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, MAX_SAFE_INTEGER + 1])
    | st.floats(allow_nan=True)
    | wide_text
    | st.sampled_from([Step.SHIPPING, Level.HIGH, Decimal("1.5")])
)
wide_values = st.recursive(
    wide_scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.lists(children, max_size=4).map(tuple)
        | st.dictionaries(wide_text | st.text(max_size=4), children, max_size=4)
        | st.dictionaries(st.integers(0, 20), children, min_size=1, max_size=3)
        | st.dictionaries(st.text(max_size=3), children, max_size=3).map(OrderedDict)
    ),
    max_leaves=25,
)
plain_values = st.recursive(
    scalars | wide_text.filter(lambda text: not any(0xD800 <= ord(c) < 0xE000 for c in text)),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.text(st.characters(max_codepoint=127), max_size=8), children, max_size=5
        )
    ),
    max_leaves=30,
)


def _outcome(encode: Any, value: Any) -> bytes | str:
    try:
        return bytes(encode(value))
    except InvalidInputError as exc:
        return f"refused: {exc}"


@settings(max_examples=1500)
@given(wide_values)
@example({"\U0001f600": 1, "\uffff": 2})  # UTF-16 and code-point orders differ: full path
@example({"b": 1, "a": [True, None, "\x1f\u2028"]})
@example({"n": MAX_SAFE_INTEGER + 1})
@example({"s": "\ud800"})
@example({1: "a"})
@example([1.0])
def test_fast_path_gives_the_full_encoders_bytes_or_steps_aside(value: Any) -> None:
    fast = canonical._fast_canonical_bytes(value)
    full = _outcome(canonical._full_canonical_bytes, value)
    if fast is not None:
        assert fast == full
    assert _outcome(to_canonical_bytes, value) == full


@settings(max_examples=500)
@given(plain_values)
def test_fast_path_is_taken_for_plain_values_with_ascii_keys(value: Any) -> None:
    """Not a vacuous pass: plain values whose keys are ASCII always take the fast path."""
    fast = canonical._fast_canonical_bytes(value)
    assert fast is not None
    assert fast == canonical._full_canonical_bytes(value)


def test_fast_path_is_taken_for_ledger_events() -> None:
    body = {
        "type": "event",
        "step": "shipping",
        "lots": ["HD-VAI-01/L1", "HD-VAI-01/L2"],
        "epcis": {"eventID": "urn:uuid:6f1c", "quantity": {"value": "12.5", "uom": "KGM"}},
        "display": {"name": "Vải thiều Lục Ngạn", "n": 3},
    }
    assert canonical._fast_canonical_bytes(body) == canonical._full_canonical_bytes(body)
