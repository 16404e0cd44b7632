"""libsodium's Ed25519 (the stamp hot paths) against RFC 8032 and against ``cryptography``."""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from agritrace.stamps import sodium
from agritrace.stamps.codec import sign_serials, signed_message

# RFC 8032, section 7.1, TEST 1 (the empty message).
RFC_SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC_SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)
PREFIX = "HTTPS://EXAMPLE.VN/S/"


def _cryptography_accepts(key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def test_rfc_8032_test_1() -> None:
    private = Ed25519PrivateKey.from_private_bytes(RFC_SECRET)
    assert private.public_key().public_bytes_raw() == RFC_PUBLIC
    assert sodium.signer(private)(b"") == RFC_SIGNATURE
    public = Ed25519PublicKey.from_public_bytes(RFC_PUBLIC)
    assert sodium.verify(public, RFC_SIGNATURE, b"")
    assert not sodium.verify(public, RFC_SIGNATURE, b"\x00")


@settings(max_examples=200)
@given(seed=st.binary(min_size=32, max_size=32), message=st.binary(max_size=200))
def test_signatures_are_those_of_cryptography(seed: bytes, message: bytes) -> None:
    private = Ed25519PrivateKey.from_private_bytes(seed)
    signature = sodium.signer(private)(message)
    assert signature == private.sign(message)
    assert sodium.verify(private.public_key(), signature, message)


@settings(max_examples=300)
@given(
    serial=st.integers(min_value=1, max_value=2**48 - 1),
    position=st.integers(min_value=0, max_value=10_000),
    seed=st.binary(min_size=32, max_size=32),
)
def test_an_altered_stamp_is_refused_by_both_libraries(
    serial: int, position: int, seed: bytes
) -> None:
    """Flip one bit of a genuine stamp's signature or signed message: libsodium and
    ``cryptography`` both refuse it, and both accept the original."""
    private = Ed25519PrivateKey.from_private_bytes(seed)
    public = private.public_key()
    stamp = next(sign_serials(serial, 1, key_id=0, private_key=private, prefix=PREFIX))
    message = signed_message(stamp.header(), PREFIX)
    assert sodium.verify(public, stamp.signature, message)
    assert _cryptography_accepts(public, stamp.signature, message)
    blob = bytearray(stamp.signature + message)
    position %= 8 * len(blob)
    blob[position // 8] ^= 1 << position % 8
    signature, altered = bytes(blob[:64]), bytes(blob[64:])
    assert not sodium.verify(public, signature, altered)
    assert not _cryptography_accepts(public, signature, altered)


def test_libsodium_refuses_the_identity_key_that_verifies_anything() -> None:
    """A small-order public key (here the neutral point) with R the neutral point and S = 0
    satisfies the cofactorless equation for every message; libsodium refuses it outright."""
    identity = bytes([1]) + bytes(31)
    key = Ed25519PublicKey.from_public_bytes(identity)
    signature = identity + bytes(32)
    for message in (b"", b"any stamp at all"):
        assert not sodium.verify(key, signature, message)


def test_a_signature_of_the_wrong_length_is_not_valid() -> None:
    private = Ed25519PrivateKey.from_private_bytes(RFC_SECRET)
    signature = sodium.signer(private)(b"m")
    for wrong in (b"", signature[:63], signature + b"\x00"):
        assert not sodium.verify(private.public_key(), wrong, b"m")
