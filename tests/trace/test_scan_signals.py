"""Client keys and the scan page's stamp-bound, short-lived form tokens."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agritrace.trace import scan_signals
from agritrace.trace.scan_signals import FormTokenError

SECRET = scan_signals.scan_secret("a test secret key, not a real one")
NOW = dt.datetime(2026, 12, 4, 10, 0, tzinfo=dt.UTC)


def test_a_token_is_good_for_its_stamp_until_it_expires() -> None:
    token = scan_signals.form_token(SECRET, 7, now=NOW)
    scan_signals.check_form_token(SECRET, 7, token, now=NOW)
    ttl = dt.timedelta(seconds=scan_signals.FORM_TOKEN_TTL_S)
    scan_signals.check_form_token(SECRET, 7, token, now=NOW + ttl)
    with pytest.raises(FormTokenError):
        scan_signals.check_form_token(SECRET, 7, token, now=NOW + ttl + dt.timedelta(seconds=1))


def test_a_token_for_one_stamp_is_refused_on_another() -> None:
    token = scan_signals.form_token(SECRET, 7, now=NOW)
    with pytest.raises(FormTokenError):
        scan_signals.check_form_token(SECRET, 8, token, now=NOW)


def test_a_token_with_a_later_expiry_written_in_is_refused() -> None:
    token = scan_signals.form_token(SECRET, 7, now=NOW)
    expiry, mac = token.split(".")
    with pytest.raises(FormTokenError):
        scan_signals.check_form_token(SECRET, 7, f"{int(expiry) + 3600}.{mac}", now=NOW)


def test_a_token_from_another_secret_is_refused() -> None:
    other = scan_signals.scan_secret("another secret key entirely")
    with pytest.raises(FormTokenError):
        scan_signals.check_form_token(
            SECRET, 7, scan_signals.form_token(other, 7, now=NOW), now=NOW
        )


@given(st.text(max_size=200))
def test_any_text_is_refused_as_a_token(text: str) -> None:
    with pytest.raises(FormTokenError):
        scan_signals.check_form_token(SECRET, 7, text, now=NOW)


def test_client_keys_are_per_stamp_and_per_day_and_hold_no_address() -> None:
    key = scan_signals.client_key(SECRET, "203.0.113.7", 7, NOW)
    assert key == scan_signals.client_key(SECRET, "203.0.113.7", 7, NOW + dt.timedelta(hours=1))
    assert key != scan_signals.client_key(SECRET, "203.0.113.7", 8, NOW)
    assert key != scan_signals.client_key(SECRET, "203.0.113.7", 7, NOW + dt.timedelta(days=1))
    assert key != scan_signals.client_key(SECRET, "203.0.113.8", 7, NOW)
    assert "203" not in key
    assert len(key) == 32
