"""The declared request shapes (``web/api_shapes.py``) give the same one-line messages the
hand-written checks gave, and any JSON value either parses or is an InvalidInputError."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agritrace.errors import InvalidInputError
from agritrace.web import api_shapes as shapes

_LOT = {
    "product": "P",
    "code": "L1",
    "units": 5,
    "quantity": "1.5",
    "quantity_unit": "kg",
    "harvest_date": "2026-01-02",
    "origin_area": "Moc Chau",
}


def _message(model: type[Any], data: object) -> str:
    with pytest.raises(InvalidInputError) as caught:
        shapes.parse_body(model, data)
    return str(caught.value)


def test_a_good_body_parses_and_numbers_become_text() -> None:
    lot = shapes.parse_body(shapes.NewLot, _LOT | {"latitude": 21})
    assert lot.units == "5"
    assert lot.latitude == "21"
    assert lot.pack_date is None


def test_a_bad_value_names_its_field() -> None:
    with pytest.raises(InvalidInputError) as caught:
        shapes.parse_body(shapes.NewRecall, {"lot": "A/B", "reason": ["x"]})
    assert caught.value.facts == {"field": "reason"}


@pytest.mark.parametrize(
    ("model", "data", "message"),
    [
        (shapes.NewLot, [], "the body must be a JSON object (Content-Type: application/json)"),
        (shapes.NewLot, {k: v for k, v in _LOT.items() if k != "code"}, "code is required"),
        (shapes.NewLot, _LOT | {"code": None}, "code is required"),
        (shapes.NewLot, _LOT | {"units": True}, "units must be a string"),
        (shapes.NewLot, _LOT | {"units": 1.5}, "units must be a string"),
        (shapes.NewLot, _LOT | {"code": "a\x00b"}, "code is not valid text"),
        (shapes.NewLot, _LOT | {"origin_area": "x" * 2001}, "origin_area is not valid text"),
        (shapes.NewBatch, {"lot": "A/B", "count": 3, "claim_codes": "yes"},
         "claim_codes must be true or false"),
        (shapes.NewEvent, {"step": "harvest", "event_time": "t", "inputs": []},
         "inputs must be a list of 1 to 100 lot amounts"),
        (shapes.NewEvent, {"step": "processing", "event_time": "t", "inputs": [1]},
         "each of inputs must be an object"),
        (shapes.NewEvent, {"step": "processing", "event_time": "t", "inputs": [{"lot": "A/B"}]},
         "quantity is required"),
        (shapes.NewRecall, {"lot": "A/B"}, "reason is required"),
    ],
)  # fmt: skip
def test_bad_bodies_keep_the_old_messages(model: type[Any], data: object, message: str) -> None:
    assert _message(model, data) == message


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
_KEYS = st.sampled_from(
    ["lot", "count", "claim_codes", "step", "event_time", "inputs", "outputs", "reason",
     "certified", "passed", "note", "quantity", "unit", "product", "code", "units"]
)  # fmt: skip


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(
    model=st.sampled_from([shapes.NewLot, shapes.NewBatch, shapes.NewEvent, shapes.NewRecall]),
    data=_JSON | st.dictionaries(_KEYS, _JSON, max_size=8),
)
def test_any_json_parses_or_is_a_one_line_invalid_input(model: type[Any], data: object) -> None:
    try:
        parsed: object = shapes.parse_body(model, data)
    except InvalidInputError as exc:
        parsed = str(exc)
    assert isinstance(parsed, model) or (isinstance(parsed, str) and "\n" not in parsed)
