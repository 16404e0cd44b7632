"""Ed25519 through libsodium (PyNaCl) for the two per-stamp hot paths: signing serials and
verifying scanned codes.

Keys stay ``cryptography`` objects everywhere (the key ring, encryption at rest, JWK export,
checkpoints and revocation lists use ``cryptography`` alone); this module takes their raw
bytes and hands the arithmetic to libsodium, which signs about 1.6 and verifies about 2 times
as fast as the OpenSSL code behind ``cryptography`` on the machines we measured
(``python -m bench stamps`` prints both). Ed25519 is deterministic (RFC 8032), so a stamp
signed here is byte for byte the stamp ``cryptography`` signs, and the tests hold the two
libraries to the same answers on genuine and altered stamps. libsodium is the stricter
verifier (it also refuses small-order keys and points), so it never accepts a signature that
``cryptography`` would refuse. docs/adr/0008-ed25519-backend.md has the figures.
"""

from __future__ import annotations

from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from nacl.bindings import crypto_sign, crypto_sign_open, crypto_sign_seed_keypair
from nacl.exceptions import BadSignatureError

__all__ = ["SIGNATURE_BYTES", "signer", "verify"]

SIGNATURE_BYTES = 64


def signer(private_key: Ed25519PrivateKey) -> Callable[[bytes], bytes]:
    """A function returning the 64-byte Ed25519 signature of a message under ``private_key``
    (the libsodium secret is derived once, so each call costs one signature)."""
    _, secret = crypto_sign_seed_keypair(private_key.private_bytes_raw())

    def sign(message: bytes) -> bytes:
        return crypto_sign(message, secret)[:SIGNATURE_BYTES]

    return sign


def verify(public_key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    """Whether ``signature`` is a valid Ed25519 signature of ``message`` under ``public_key``.
    A signature that is not 64 bytes is simply not valid."""
    if len(signature) != SIGNATURE_BYTES:
        return False
    try:
        crypto_sign_open(signature + message, public_key.public_bytes_raw())
    except BadSignatureError:
        return False
    return True
