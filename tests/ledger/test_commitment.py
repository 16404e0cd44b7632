"""Tests for agritrace.ledger.commitment: salted commitments to private entry fields."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from agritrace.ledger.canonical import MAX_SAFE_INTEGER, to_canonical_bytes
from agritrace.ledger.commitment import (
    SALT_BYTES,
    CommitmentError,
    Opening,
    commit,
    is_sealed,
    reveal,
    seal,
    verify_opening,
)

scalars = st.none() | st.booleans() | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER) | st.text()
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)
names = st.from_regex(r"[a-z][a-z0-9_:]{0,10}", fullmatch=True)
salts = st.binary(min_size=SALT_BYTES, max_size=SALT_BYTES)

SHIPPING = {
    "type": "event",
    "step": "shipping",
    "facility": "DL-FARM-01",
    "epcis": {"bizStep": "shipping", "quantityList": [{"quantity": "100", "uom": "KGM"}]},
    "display": {"quantity": "100 kg", "to": "HN Packing"},
}
PRIVATE = ("epcis.quantityList", "display.quantity", "display.to", "display.note")


def test_known_answer_pins_the_committed_bytes() -> None:
    salt = bytes(range(SALT_BYTES))
    expected = hashlib.sha256(
        b"agritrace-commitment/v1\x00" + salt + b'{"field":"display.to","value":"HN Packing"}'
    ).digest()
    assert commit("display.to", "HN Packing", salt) == expected


def test_seal_removes_private_fields_and_keeps_the_rest() -> None:
    public, openings = seal(SHIPPING, PRIVATE)
    assert is_sealed(public)
    assert public["display"] == {}
    assert "quantityList" not in public["epcis"]
    assert public["epcis"]["bizStep"] == "shipping"
    assert sorted(public["private"]) == ["display.quantity", "display.to", "epcis.quantityList"]
    assert [o.field for o in openings] == ["epcis.quantityList", "display.quantity", "display.to"]
    assert b"HN Packing" not in to_canonical_bytes(public)


def test_a_body_with_nothing_private_stays_plain() -> None:
    body = {"type": "lot", "lot": "A/1"}
    assert seal(body, PRIVATE) == (body, ())


def test_each_field_gets_a_fresh_salt() -> None:
    first, _ = seal(SHIPPING, PRIVATE)
    second, _ = seal(SHIPPING, PRIVATE)
    assert first["private"]["display.to"] != second["private"]["display.to"]


@given(body=st.dictionaries(names, values, min_size=1, max_size=5), data=st.data())
@example(body={"a": {"b": 1}}, data=None)
def test_reveal_after_seal_is_the_original(body: dict[str, Any], data: Any) -> None:
    fields = list(body) if data is None else data.draw(st.lists(st.sampled_from(list(body))))
    public, openings = seal(body, fields)
    assert reveal(public, openings) == body
    for opening in openings:
        verify_opening(public, Opening.from_json(opening.to_json()))


@given(name=names, value=values, salt=salts, other=values)
def test_any_changed_value_is_rejected(name: str, value: Any, salt: bytes, other: Any) -> None:
    public = {"version": 2, "private": {name: base64.b64encode(commit(name, value, salt)).decode()}}
    verify_opening(public, Opening(name, salt, value))
    if to_canonical_bytes(other) != to_canonical_bytes(value):
        with pytest.raises(CommitmentError, match="does not match") as caught:
            verify_opening(public, Opening(name, salt, other))
        assert caught.value.facts["reason"] == "mismatch"


@given(name=names, value=values, salt=salts, other=salts)
def test_any_changed_salt_is_rejected(name: str, value: Any, salt: bytes, other: bytes) -> None:
    public = {"version": 2, "private": {name: base64.b64encode(commit(name, value, salt)).decode()}}
    if other != salt:
        with pytest.raises(CommitmentError, match="does not match"):
            verify_opening(public, Opening(name, other, value))


def test_an_opening_cannot_pass_for_another_field() -> None:
    public, openings = seal(SHIPPING, PRIVATE)
    to = next(o for o in openings if o.field == "display.to")
    with pytest.raises(CommitmentError, match="does not match"):
        verify_opening(public, Opening("display.quantity", to.salt, to.value))
    with pytest.raises(CommitmentError, match="no such field"):
        verify_opening(public, Opening("display.note", to.salt, to.value))


def test_a_partial_reveal_keeps_the_other_commitments() -> None:
    public, openings = seal(SHIPPING, PRIVATE)
    revealed = reveal(public, [o for o in openings if o.field == "display.to"])
    assert revealed["display"] == {"to": "HN Packing"}
    assert sorted(revealed["private"]) == ["display.quantity", "epcis.quantityList"]


@pytest.mark.parametrize(
    "raw",
    [
        None,
        {"field": "display.to", "salt": "AAAA", "value": 1},
        {"field": "display.to", "salt": "not base64!", "value": 1},
        {"field": "a.b.c", "salt": base64.b64encode(bytes(32)).decode(), "value": 1},
        {"field": "display.to", "salt": base64.b64encode(bytes(32)).decode()},
        {"field": "x", "salt": base64.b64encode(bytes(32)).decode(), "value": 1, "more": 2},
    ],
)
def test_malformed_openings_are_refused(raw: object) -> None:
    with pytest.raises(CommitmentError) as caught:
        Opening.from_json(raw)
    assert caught.value.facts["reason"] == "malformed"


def test_a_float_value_is_refused_as_malformed() -> None:
    public, _ = seal(SHIPPING, PRIVATE)
    with pytest.raises(CommitmentError, match="cannot be committed"):
        verify_opening(public, Opening("display.to", bytes(32), 1.5))
