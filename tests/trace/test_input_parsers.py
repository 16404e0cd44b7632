"""The parsers behind the edge caps: numbers from text take ASCII digits only, the JSON
depth scanner agrees with the parsed depth, and the EPCIS shape check refuses any junk with
InvalidInputError (never another exception)."""

from __future__ import annotations

import contextlib
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from agritrace.errors import InvalidInputError
from agritrace.trace.epcis_shape import check_document
from agritrace.trace.validation import (
    MAX_JSON_DEPTH,
    check_json_depth,
    json_depth,
    parse_decimal,
    parse_positive_int,
)

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab,:', max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(alphabet='[]{}"\\ab', max_size=4), inner, max_size=3)
    ),
    max_leaves=25,
)


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


@given(JSON)
@example({"a": "[[[[", "b": ["]]}"]})
def test_the_depth_scanner_matches_the_parsed_depth(value: Any) -> None:
    text = json.dumps(value)
    assert json_depth(text) == _depth(value)
    assert json_depth(text.encode()) == _depth(value)


def test_too_deep_is_refused_before_parsing() -> None:
    check_json_depth("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH)
    with pytest.raises(InvalidInputError, match="deeper than"):
        check_json_depth("[" * (MAX_JSON_DEPTH + 1))
    with pytest.raises(InvalidInputError):
        check_json_depth('{"a":' * 100_000)


@pytest.mark.parametrize(
    "raw", ["٣", "۳", "３", "²", "߃", "①", "1_000", "+ 1", "0x10", "1e3", "", " ", "9" * 20]
)
def test_whole_numbers_are_ascii_digits(raw: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_positive_int(raw, field="count", maximum=2**63 - 1)


@pytest.mark.parametrize(
    "raw",
    [
        "NaN",
        "-nan",
        "Infinity",
        "-inf",
        "sNaN",
        "1e999999",
        "٣",
        "３.５",
        "1_0",
        "",
        "1" * 41,
        "1e99999",
    ],
)
def test_decimals_are_finite_ascii_and_bounded(raw: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_decimal(raw, field="quantity")


@given(st.integers(min_value=1, max_value=2**63 - 1))
def test_every_ascii_whole_number_in_range_parses(value: int) -> None:
    assert parse_positive_int(f" {value} ", field="n", maximum=2**63 - 1) == value


@given(
    st.decimals(
        allow_nan=False, allow_infinity=False, places=3, min_value=-(10**14), max_value=10**14
    )
)
def test_every_plain_decimal_parses(value: Decimal) -> None:
    assert parse_decimal(str(value), field="q") == value


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                        st.sampled_from(["type", "epcisBody", "eventList", "epcisHeader",
                                         "epcisMasterData", "vocabularyList", "quantityList",
                                         "readPoint", "sensorElementList", "sensorReport", "id",
                                         "attributes", "vocabularyElementList", "attribute"]),
                        inner, max_size=4),
                    max_leaves=30))  # fmt: skip
def test_the_shape_check_raises_only_invalid_input(document: Any) -> None:
    with contextlib.suppress(InvalidInputError):
        check_document(document)
