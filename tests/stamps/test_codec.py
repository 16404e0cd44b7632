"""Stamp codec: round trips, signing and every way a stamp is rejected."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import example, given, settings
from hypothesis import strategies as st

from agritrace.errors import InvalidInputError, VerificationError
from agritrace.stamps.codec import (
    MAX_PREFIX_CHARS,
    MAX_SERIAL,
    PAYLOAD_BYTES,
    TEXT_CHARS,
    BadSignatureError,
    MalformedStampError,
    ParsedStamp,
    Stamp,
    StampVerificationError,
    UnknownKeyError,
    WrongIssuerError,
    parse,
    parse_short_code,
    short_code,
    sign_serials,
    sign_stamp,
    signed_message,
    stamp_prefix,
    verify_code,
    verify_stamp,
)

# A fixed key (RFC 8032 seeds are any 32 bytes) so the known answer below is reproducible.
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64)))
PREFIX = "HTTPS://EXAMPLE.VN/S/"
OTHER_PREFIX = "HTTPS://ELSEWHERE.VN/S/"
KEYS: dict[int, Ed25519PublicKey] = {0: KEY.public_key()}
TWO_KEYS: dict[int, Ed25519PublicKey] = {0: KEY.public_key(), 1: OTHER_KEY.public_key()}
# Known answer for serial 1, key id 0, KEY, PREFIX (Ed25519 is deterministic).
SERIAL_1_URL = (
    "HTTPS://EXAMPLE.VN/S/CEAAAAAAAAAACUFHA6OVAO724HT5UZ6I7YJM6XN7QPMYWGX3B6FNUNOFBYDMXQQ6YPLKD3M7"
    "BSJBAGPMGIOBX2PEWBQ2MBJHRVKLR62PTRH7BQOPWAHQ"
)
B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

serials = st.integers(min_value=1, max_value=MAX_SERIAL)
key_ids = st.integers(min_value=0, max_value=255)
signatures = st.binary(min_size=64, max_size=64)
stamps = st.builds(Stamp, st.just(1), st.just(1), key_ids, serials, signatures)


def signed(serial: int = 123_456_789) -> Stamp:
    return sign_stamp(serial, key_id=0, private_key=KEY, prefix=PREFIX)


# --- round trips -------------------------------------------------------------------------


@given(stamps)
def test_bytes_round_trip(stamp: Stamp) -> None:
    raw = stamp.to_bytes()
    assert len(raw) == PAYLOAD_BYTES
    assert raw[0] == 0x11
    assert Stamp.from_bytes(raw) == stamp


@given(stamps)
def test_text_round_trip_is_116_upper_case_base32(stamp: Stamp) -> None:
    text = stamp.to_text()
    assert len(text) == TEXT_CHARS
    assert set(text) <= set(B32)
    assert text == base64.b32encode(stamp.to_bytes()).decode("ascii").rstrip("=")
    assert Stamp.from_text(text) == stamp


@given(stamps, st.sampled_from(["", " ", "\n", "\t "]))
def test_text_accepts_any_case_and_surrounding_whitespace(stamp: Stamp, space: str) -> None:
    text = stamp.to_text()
    assert Stamp.from_text(f"{space}{text.lower()}{space}") == stamp
    assert Stamp.from_text(text.swapcase()) == stamp


@given(stamps)
def test_url_round_trip(stamp: Stamp) -> None:
    url = stamp.to_url(PREFIX)
    assert url == PREFIX + stamp.to_text()
    assert url == url.upper()
    assert parse(url) == ParsedStamp(stamp, PREFIX)
    assert parse(url.lower()) == ParsedStamp(stamp, PREFIX)
    assert parse(stamp.to_text()) == ParsedStamp(stamp, None)


def test_url_keeps_within_qr_version_6_budget() -> None:
    prefix = "HTTPS://" + "A" * (MAX_PREFIX_CHARS - 14) + ".VN/S/"
    assert len(prefix) == MAX_PREFIX_CHARS
    assert len(signed().to_url(prefix)) == 154


# --- signing and verifying ---------------------------------------------------------------


def test_known_answer_for_serial_1() -> None:
    assert signed(1).to_url(PREFIX) == SERIAL_1_URL
    assert verify_code(SERIAL_1_URL, prefix=PREFIX, public_keys=KEYS).serial == 1


@given(serials)
@example(1)
@example(MAX_SERIAL)
def test_signed_stamp_verifies(serial: int) -> None:
    stamp = signed(serial)
    assert stamp.serial == serial
    verify_stamp(stamp, prefix=PREFIX, public_keys=KEYS)
    assert verify_code(stamp.to_url(PREFIX), prefix=PREFIX, public_keys=KEYS) == stamp


def test_signed_message_is_tag_prefix_and_header() -> None:
    stamp = signed(7)
    message = signed_message(stamp.header(), "https://example.vn/s/")
    assert message == b"agritrace-stamp-v1\x00HTTPS://EXAMPLE.VN/S/\x00" + stamp.to_bytes()[:8]
    KEY.public_key().verify(stamp.signature, message)


def test_signing_normalises_the_prefix_case() -> None:
    lower = sign_stamp(5, key_id=0, private_key=KEY, prefix=PREFIX.lower())
    assert lower == signed(5)


def test_sign_serials_matches_sign_stamp() -> None:
    batch = list(sign_serials(1000, 25, key_id=3, private_key=KEY, prefix=PREFIX))
    assert [s.serial for s in batch] == list(range(1000, 1025))
    assert batch == [
        sign_stamp(n, key_id=3, private_key=KEY, prefix=PREFIX) for n in range(1000, 1025)
    ]


@pytest.mark.parametrize(
    ("first", "count"), [(0, 1), (-5, 1), (1, -1), (MAX_SERIAL, 2), (MAX_SERIAL + 1, 1)]
)
def test_sign_serials_refuses_out_of_range_at_once(first: int, count: int) -> None:
    with pytest.raises(InvalidInputError, match=r"serial|count"):
        sign_serials(first, count, key_id=0, private_key=KEY, prefix=PREFIX)


def test_sign_serials_accepts_the_last_serial_and_an_empty_range() -> None:
    assert list(sign_serials(MAX_SERIAL, 1, key_id=0, private_key=KEY, prefix=PREFIX))
    assert list(sign_serials(1, 0, key_id=0, private_key=KEY, prefix=PREFIX)) == []


def test_sign_refuses_key_id_over_one_byte() -> None:
    with pytest.raises(MalformedStampError, match="key id"):
        sign_stamp(1, key_id=256, private_key=KEY, prefix=PREFIX)


# --- rejection ---------------------------------------------------------------------------


def _rejected(raw: bytes, keys: dict[int, Ed25519PublicKey]) -> str:
    """The reason a payload is refused by decoding or verification (fails if it is not)."""
    try:
        stamp = Stamp.from_bytes(raw)
        verify_stamp(stamp, prefix=PREFIX, public_keys=keys)
    except (MalformedStampError, StampVerificationError) as exc:
        return exc.reason
    pytest.fail(f"tampered payload accepted: {raw.hex()}")


@pytest.mark.parametrize("keys", [KEYS, TWO_KEYS], ids=["one-key", "two-keys"])
def test_every_single_flipped_bit_is_rejected(keys: dict[int, Ed25519PublicKey]) -> None:
    raw = signed().to_bytes()
    reasons = set()
    for bit in range(PAYLOAD_BYTES * 8):
        tampered = bytearray(raw)
        tampered[bit // 8] ^= 0x80 >> (bit % 8)
        reasons.add(_rejected(bytes(tampered), keys))
    assert reasons <= {"malformed", "unknown-key", "bad-signature"}
    assert "bad-signature" in reasons


@given(serials, st.integers(min_value=0, max_value=PAYLOAD_BYTES * 8 - 1))
@settings(max_examples=200)
def test_a_flipped_bit_in_any_stamp_is_rejected(serial: int, bit: int) -> None:
    tampered = bytearray(signed(serial).to_bytes())
    tampered[bit // 8] ^= 0x80 >> (bit % 8)
    _rejected(bytes(tampered), TWO_KEYS)


@given(st.integers(min_value=0, max_value=TEXT_CHARS - 1), st.sampled_from(B32))
@settings(max_examples=300)
def test_any_changed_character_of_the_url_is_rejected(position: int, char: str) -> None:
    url = signed().to_url(PREFIX)
    code = url[len(PREFIX) :]
    if code[position] == char:
        return
    changed = PREFIX + code[:position] + char + code[position + 1 :]
    with pytest.raises((MalformedStampError, StampVerificationError)):
        verify_code(changed, prefix=PREFIX, public_keys=TWO_KEYS)


@pytest.mark.parametrize("length", [0, 1, 71, 73, 80, 144])
def test_payload_of_wrong_length_is_malformed(length: int) -> None:
    raw = (signed().to_bytes() * 2)[:length]
    with pytest.raises(MalformedStampError, match="72 bytes") as info:
        Stamp.from_bytes(raw)
    assert info.value.reason == "malformed"


@given(st.integers(min_value=1, max_value=20))
def test_truncated_or_extended_text_and_url_are_malformed(n: int) -> None:
    url = signed().to_url(PREFIX)
    for bad in (url[:-n], url + "A" * n, url + "=" * n):
        with pytest.raises(MalformedStampError):
            parse(bad)
        with pytest.raises(MalformedStampError):
            verify_code(bad, prefix=PREFIX, public_keys=KEYS)


def test_non_canonical_last_character_is_malformed() -> None:
    text = signed().to_text()
    # 72 bytes = 576 bits: the last character holds 1 data bit and 4 bits that must be 0.
    last = B32.index(text[-1])
    for low in range(1, 16):
        with pytest.raises(MalformedStampError, match="canonical"):
            Stamp.from_text(text[:-1] + B32[last ^ low])


@pytest.mark.parametrize("char", ["0", "1", "8", "9", "=", "-", "é"])
def test_characters_outside_base32_are_malformed(char: str) -> None:
    text = signed().to_text()
    with pytest.raises(MalformedStampError, match="A-Z"):
        Stamp.from_text(char + text[1:])


@pytest.mark.parametrize("byte0", [0x00, 0x01, 0x10, 0x12, 0x21, 0xF1, 0xFF])
def test_unknown_version_or_algorithm_is_malformed(byte0: int) -> None:
    raw = bytes([byte0]) + signed().to_bytes()[1:]
    with pytest.raises(MalformedStampError, match="unsupported"):
        Stamp.from_bytes(raw)


def test_serial_zero_is_malformed() -> None:
    raw = signed().to_bytes()
    with pytest.raises(MalformedStampError, match="serial"):
        Stamp.from_bytes(raw[:2] + bytes(6) + raw[8:])


def test_lower_case_url_verifies() -> None:
    url = signed().to_url(PREFIX)
    assert verify_code(url.lower(), prefix=PREFIX, public_keys=KEYS) == signed()
    assert verify_code(f"  {url.title()}\n", prefix=PREFIX.lower(), public_keys=KEYS) == signed()


def test_stamp_from_another_issuer_url_is_wrong_issuer() -> None:
    url = sign_stamp(9, key_id=0, private_key=KEY, prefix=OTHER_PREFIX).to_url(OTHER_PREFIX)
    with pytest.raises(WrongIssuerError) as info:
        verify_code(url, prefix=PREFIX, public_keys=KEYS)
    assert info.value.reason == "wrong-issuer"
    assert info.value.facts["found_prefix"] == OTHER_PREFIX
    assert info.value.facts["expected_prefix"] == PREFIX


def test_bare_code_signed_for_another_prefix_is_bad_signature() -> None:
    code = sign_stamp(9, key_id=0, private_key=KEY, prefix=OTHER_PREFIX).to_text()
    with pytest.raises(BadSignatureError) as info:
        verify_code(code, prefix=PREFIX, public_keys=KEYS)
    assert info.value.reason == "bad-signature"


def test_code_moved_under_our_prefix_is_bad_signature() -> None:
    moved = PREFIX + sign_stamp(9, key_id=0, private_key=KEY, prefix=OTHER_PREFIX).to_text()
    with pytest.raises(BadSignatureError):
        verify_code(moved, prefix=PREFIX, public_keys=KEYS)


def test_stamp_signed_by_another_key_is_bad_signature() -> None:
    stamp = sign_stamp(9, key_id=0, private_key=OTHER_KEY, prefix=PREFIX)
    with pytest.raises(BadSignatureError, match="signature"):
        verify_stamp(stamp, prefix=PREFIX, public_keys=KEYS)


def test_unpublished_key_id_is_unknown_key() -> None:
    stamp = sign_stamp(9, key_id=7, private_key=KEY, prefix=PREFIX)
    with pytest.raises(UnknownKeyError, match="key 7") as info:
        verify_stamp(stamp, prefix=PREFIX, public_keys=KEYS)
    assert info.value.reason == "unknown-key"
    assert info.value.facts == {"key_id": 7, "serial": 9}


@pytest.mark.parametrize(
    ("error", "family", "reason"),
    [
        (MalformedStampError, InvalidInputError, "malformed"),
        (UnknownKeyError, VerificationError, "unknown-key"),
        (BadSignatureError, VerificationError, "bad-signature"),
        (WrongIssuerError, VerificationError, "wrong-issuer"),
    ],
)
def test_errors_have_stable_reasons_and_families(
    error: type[MalformedStampError | StampVerificationError],
    family: type[Exception],
    reason: str,
) -> None:
    assert issubclass(error, family)
    assert error.reason == reason


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "HTTPS://EXAMPLE.VN/Q/" + "A" * 116,
        "HTTPS://EXAMPLE.VN/X/S/" + "A" * 116,
        "FTP://EXAMPLE.VN/S/" + "A" * 116,
        "HTTPS:///S/" + "A" * 116,
        "HTTPS://EXA_MPLE.VN/S/" + "A" * 116,
    ],
)
def test_parse_refuses_what_is_not_a_stamp(text: str) -> None:
    with pytest.raises(MalformedStampError):
        parse(text)


def test_parse_accepts_any_host_and_port_and_reports_it() -> None:
    stamp = signed()
    parsed = parse("http://127.0.0.1:5000/s/" + stamp.to_text().lower())
    assert parsed == ParsedStamp(stamp, "HTTP://127.0.0.1:5000/S/")


def test_stamp_text_is_plain_rfc4648_base32() -> None:
    stamp = signed()
    assert base64.b32decode(stamp.to_text() + "====") == stamp.to_bytes()


# --- prefix ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "prefix"),
    [
        ("https://trace.example.vn", "HTTPS://TRACE.EXAMPLE.VN/S/"),
        ("https://trace.example.vn/", "HTTPS://TRACE.EXAMPLE.VN/S/"),
        ("  HTTPS://Trace.Example.VN  ", "HTTPS://TRACE.EXAMPLE.VN/S/"),
        ("http://127.0.0.1:5000", "HTTP://127.0.0.1:5000/S/"),
        ("https://xn--nng-lna.vn", "HTTPS://XN--NNG-LNA.VN/S/"),
    ],
)
def test_stamp_prefix_normalises(base_url: str, prefix: str) -> None:
    assert stamp_prefix(base_url) == prefix


@pytest.mark.parametrize(
    "base_url",
    [
        "",
        "trace.example.vn",
        "ftp://trace.example.vn",
        "https://trace.example.vn/app",
        "https://trace.example.vn?x=1",
        "https://trace.example.vn#top",
        "https://user@trace.example.vn",
        "https://trace_example.vn",
        "https://nông.vn",
        "https://[::1]:5000",
    ],
)
def test_stamp_prefix_refuses_bad_base_urls(base_url: str) -> None:
    with pytest.raises(InvalidInputError):
        stamp_prefix(base_url)


def test_stamp_prefix_length_rule() -> None:
    host38 = "a" * (MAX_PREFIX_CHARS - len("https:///s/"))
    assert len(stamp_prefix(f"https://{host38}")) == MAX_PREFIX_CHARS
    with pytest.raises(InvalidInputError, match="39 characters; at most 38") as info:
        stamp_prefix(f"https://{host38}b")
    assert info.value.facts["prefix_chars"] == 39
    assert len(stamp_prefix(f"https://{host38}b", allow_long=True)) == 39


def test_to_url_refuses_a_malformed_prefix() -> None:
    with pytest.raises(MalformedStampError, match="HTTPS://HOST/S/"):
        signed().to_url("https://example.vn/")


# --- short code --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("serial", "code"),
    [
        (1, "000 000 001-3"),
        (42, "000 000 042-7"),
        (123_456_789, "123 456 789-4"),
        (1_234_567_890, "1 234 567 890-6"),
        (MAX_SERIAL, "281 474 976 710 655-8"),
    ],
)
def test_short_code_examples(serial: int, code: str) -> None:
    assert short_code(serial) == code
    assert parse_short_code(code) == serial


@given(serials)
def test_short_code_round_trip(serial: int) -> None:
    code = short_code(serial)
    assert parse_short_code(code) == serial
    assert parse_short_code(code.replace(" ", "").replace("-", "")) == serial


@given(serials, st.data())
def test_short_code_catches_a_mistyped_digit(serial: int, data: st.DataObject) -> None:
    digits = short_code(serial).replace(" ", "").replace("-", "")
    i = data.draw(st.integers(min_value=0, max_value=len(digits) - 1))
    wrong = data.draw(st.sampled_from([d for d in "0123456789" if d != digits[i]]))
    with pytest.raises(InvalidInputError, match="check digit"):
        parse_short_code(digits[:i] + wrong + digits[i + 1 :])


@given(serials, st.data())
def test_short_code_catches_swapped_neighbours(serial: int, data: st.DataObject) -> None:
    digits = short_code(serial).replace(" ", "").replace("-", "")
    i = data.draw(st.integers(min_value=0, max_value=len(digits) - 2))
    if digits[i] == digits[i + 1]:
        return
    swapped = digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :]
    with pytest.raises(InvalidInputError, match="check digit"):
        parse_short_code(swapped)


@pytest.mark.parametrize("text", ["", "7", "abc", "12a4", "000 000 000-0"])
def test_parse_short_code_refuses_non_codes(text: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_short_code(text)
