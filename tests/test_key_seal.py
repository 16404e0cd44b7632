"""Sealed private keys (agritrace/key_seal.py): the file codec round-trips and refuses
garbage; a wrong passphrase, another key's binding or any flipped byte does not open."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agritrace.errors import InvalidInputError
from agritrace.key_seal import (
    ARGON2ID_OWASP,
    UNSAFE_TEST_KDF,
    KdfParams,
    SealedKey,
    Unsealer,
    WrongPassphraseError,
    seal,
)

PASSPHRASE = b"a sealing test passphrase"
SEALED = st.builds(
    SealedKey,
    salt=st.binary(min_size=16, max_size=16),
    params=st.builds(
        KdfParams,
        memory_kib=st.integers(min_value=64, max_value=1 << 20),
        iterations=st.integers(min_value=1, max_value=64),
        lanes=st.integers(min_value=1, max_value=8),
    ),
    nonce=st.binary(min_size=12, max_size=12),
    ciphertext=st.binary(min_size=17, max_size=1024),
)


@given(SEALED)
def test_sealed_key_round_trips(sealed: SealedKey) -> None:
    assert SealedKey.from_bytes(sealed.to_bytes()) == sealed


@given(st.binary(max_size=300))
def test_garbage_is_refused(data: bytes) -> None:
    with pytest.raises(InvalidInputError, match="malformed"):
        SealedKey.from_bytes(data)


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("format", "agritrace-sealed-key-v0"),
        ("nonce", "AAAA"),
        ("ciphertext", "not base64!"),
        ("kdf", {"name": "scrypt"}),
        ("extra", 1),
    ],
)
def test_a_changed_member_is_refused(member: str, value: object) -> None:
    document = json.loads(
        seal(b"s" * 32, passphrase=PASSPHRASE, params=UNSAFE_TEST_KDF, associated=b"a").to_bytes()
    )
    document[member] = value
    with pytest.raises(InvalidInputError, match="malformed"):
        SealedKey.from_bytes(json.dumps(document).encode())


@pytest.mark.parametrize(
    ("memory_kib", "iterations", "lanes"),
    [(0, 1, 1), (8, 0, 1), (8, 1, 2), (True, 1, 1), (8, 65, 1)],
)
def test_out_of_range_costs_are_refused(memory_kib: int, iterations: int, lanes: int) -> None:
    with pytest.raises(InvalidInputError, match="Argon2id"):
        KdfParams(memory_kib, iterations, lanes)


def test_opens_with_the_passphrase_and_binding_only() -> None:
    sealed = seal(b"s" * 32, passphrase=PASSPHRASE, params=UNSAFE_TEST_KDF, associated=b"stamp-0")
    assert Unsealer(PASSPHRASE, UNSAFE_TEST_KDF).unseal(sealed, associated=b"stamp-0") == b"s" * 32
    with pytest.raises(WrongPassphraseError):
        Unsealer(b"another sealing passphrase", UNSAFE_TEST_KDF).unseal(
            sealed, associated=b"stamp-0"
        )
    with pytest.raises(WrongPassphraseError):
        Unsealer(PASSPHRASE, UNSAFE_TEST_KDF).unseal(sealed, associated=b"stamp-1")


@settings(max_examples=50)
@given(st.integers(min_value=0, max_value=47), st.integers(min_value=0, max_value=7))
def test_any_flipped_ciphertext_bit_does_not_open(position: int, bit: int) -> None:
    sealed = seal(b"s" * 32, passphrase=PASSPHRASE, params=UNSAFE_TEST_KDF, associated=b"k")
    flipped = bytearray(sealed.ciphertext)
    flipped[position] ^= 1 << bit
    broken = SealedKey(sealed.salt, sealed.params, sealed.nonce, bytes(flipped))
    with pytest.raises(WrongPassphraseError):
        Unsealer(PASSPHRASE, UNSAFE_TEST_KDF).unseal(broken, associated=b"k")


def test_the_default_cost_is_owasp_grade() -> None:
    assert ARGON2ID_OWASP.memory_kib >= 19 * 1024
    assert ARGON2ID_OWASP.at_least(KdfParams(19456, 1, 1))
    assert not UNSAFE_TEST_KDF.at_least(ARGON2ID_OWASP)
