"""Claim codes: derivation, the text codec and its check digit (property tests)."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from agritrace.stamps import claims
from agritrace.stamps.claims import MalformedClaimError

KEYS = st.binary(min_size=claims.CLAIM_KEY_BYTES, max_size=claims.CLAIM_KEY_BYTES)
SERIALS = st.integers(min_value=0, max_value=2**48 - 1)


def test_known_answer() -> None:
    assert claims.claim_code(bytes(32), 1) == claims.claim_code(bytes(32), 1)
    code = claims.claim_code(bytes(32), 1)
    assert len(code) == claims.CLAIM_DIGITS
    assert code.isascii()
    assert code.isdigit()
    assert claims.check_digit(code) == 0


@given(KEYS, SERIALS)
@example(bytes(32), 0)
def test_text_round_trips(key: bytes, serial: int) -> None:
    code = claims.claim_code(key, serial)
    assert claims.from_text(claims.to_text(code)) == code
    assert claims.from_text(f" {code[:3]} {code[3:6]}.{code[6:]} ") == code


@given(KEYS, SERIALS, st.integers(0, claims.CLAIM_DIGITS - 1), st.integers(1, 9))
def test_any_single_digit_typo_is_refused(key: bytes, serial: int, at: int, delta: int) -> None:
    code = claims.claim_code(key, serial)
    typo = code[:at] + str((int(code[at]) + delta) % 10) + code[at + 1 :]
    with pytest.raises(MalformedClaimError):
        claims.from_text(typo)


@given(KEYS, SERIALS, st.integers(0, claims.CLAIM_DIGITS - 2))
def test_any_swap_of_adjacent_digits_is_refused(key: bytes, serial: int, at: int) -> None:
    code = claims.claim_code(key, serial)
    swapped = code[:at] + code[at + 1] + code[at] + code[at + 2 :]
    if swapped != code:
        with pytest.raises(MalformedClaimError):
            claims.from_text(swapped)


@given(st.text(max_size=60))
def test_any_text_is_a_code_or_refused(text: str) -> None:
    try:
        digits = claims.from_text(text)
    except MalformedClaimError:
        return
    assert len(digits) == claims.CLAIM_DIGITS
    assert claims.check_digit(digits) == 0


@pytest.mark.parametrize(
    "text", ["", "123456789", "12345678901", "١٢٣٤٥٦٧٨٩٠", "1234567890" + " " * 40, "12345_67890"]
)
def test_what_is_not_a_claim_code_is_refused(text: str) -> None:
    with pytest.raises(MalformedClaimError, match="claim code"):
        claims.from_text(text)


def test_codes_depend_on_key_and_serial() -> None:
    key = claims.new_claim_key()
    assert claims.claim_code(key, 1) != claims.claim_code(key, 2)
    assert claims.claim_code(key, 1) != claims.claim_code(claims.new_claim_key(), 1)
    assert claims.matches(claims.claim_code(key, 1), claims.claim_code(key, 1))
