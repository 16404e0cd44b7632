"""Input rules of trace/validation.py: codes, text, GS1 numbers, dates, whole and decimal numbers."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agritrace.errors import InvalidInputError
from agritrace.trace import validation as v


def test_codes_are_trimmed_upper_case_and_refused_outside_the_alphabet() -> None:
    assert v.check_code("  hd-vai.01_a ", field="code") == "HD-VAI.01_A"
    for bad in ("", "-X", "A/B", "A" * 41, "LÔ1"):
        with pytest.raises(InvalidInputError) as info:
            v.check_code(bad, field="code")
        assert info.value.facts["field"] == "code"


def test_text_collapses_spaces_and_refuses_empty_long_or_control_text() -> None:
    assert v.check_text("  Thanh   Hà \n", field="f") == "Thanh Hà"
    assert v.check_text("  ", field="f", required=False) == ""
    with pytest.raises(InvalidInputError, match=r"empty|required"):
        v.check_text(" ", field="f")
    with pytest.raises(InvalidInputError):
        v.check_text("x" * 11, field="f", max_len=10)
    with pytest.raises(InvalidInputError):
        v.check_text("a\x07b", field="f")


def test_gtin_and_gln_check_digits() -> None:
    assert v.gs1_check_digit("400638133393") == 1  # GS1's own GTIN-13 example 4006381333931
    assert v.check_gtin("4006381333931") == "04006381333931"
    assert v.check_gln("4006381333931") == "4006381333931"
    with pytest.raises(InvalidInputError) as info:
        v.check_gtin("4006381333932")
    assert info.value.facts["expected"] == 1
    for bad in ("400638133393", "40063813339312345", "４００６３８１３３３９３１", "abc"):
        with pytest.raises(InvalidInputError):
            v.check_gtin(bad)


@given(st.text(alphabet="0123456789", min_size=12, max_size=13))
def test_every_body_with_its_check_digit_is_a_valid_gtin(body: str) -> None:
    code = body + str(v.gs1_check_digit(body))
    assert v.check_gtin(code) == code.zfill(14)
    wrong = code[:-1] + str((int(code[-1]) + 1) % 10)
    with pytest.raises(InvalidInputError):
        v.check_gtin(wrong)


def test_dates_are_strict_iso_calendar_dates() -> None:
    assert v.parse_date(" 2026-02-28 ", field="d") == dt.date(2026, 2, 28)
    assert v.parse_date(dt.date(2026, 1, 1), field="d") == dt.date(2026, 1, 1)
    for bad in ("2026-02-30", "2026-2-3", "28/02/2026", "2026-02-28T00:00", ""):
        with pytest.raises(InvalidInputError):
            v.parse_date(bad, field="d")


def test_whole_numbers_are_ascii_positive_and_bounded() -> None:
    assert v.parse_positive_int(" 42 ", field="n") == 42
    assert v.parse_positive_int(7, field="n") == 7
    for bad in ("0", "-3", "1_000", "٣", "１２", "1.0", "9" * 20, True):
        with pytest.raises(InvalidInputError):
            v.parse_positive_int(bad, field="n")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        v.parse_positive_int("11", field="n", maximum=10)


@given(st.integers(min_value=1, max_value=10**9))
def test_every_positive_int_round_trips_through_its_text(n: int) -> None:
    assert v.parse_positive_int(str(n), field="n") == n


def test_decimals_are_finite_ascii_with_limited_places() -> None:
    assert v.parse_decimal("12.50", field="q") == Decimal("12.50")
    assert v.parse_decimal("1e3", field="q") == Decimal(1000)
    assert v.parse_decimal(Decimal("0.001"), field="q", minimum=Decimal(0)) == Decimal("0.001")
    for bad in ("NaN", "-inf", "Infinity", "1_0", "١٢", "1.2345", "1e15", "", "1,5"):
        with pytest.raises(InvalidInputError):
            v.parse_decimal(bad, field="q")
    with pytest.raises(InvalidInputError):
        v.parse_decimal("0", field="q", minimum=Decimal(0))


def test_json_depth_is_measured_and_capped() -> None:
    assert v.json_depth(json.dumps({"a": [1, {"b": 2}]})) == 3
    v.check_json_depth("[[[]]]", max_depth=3)
    with pytest.raises(InvalidInputError):
        v.check_json_depth("[" * 5 + "]" * 5, max_depth=4)
