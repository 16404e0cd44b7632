"""Signed revocation lists: the serial ranges of recalled stamps, for offline verifiers.

Document (``agritrace-revocations/v1``)::

    {"format": "agritrace-revocations/v1",
     "payload": "<RFC 8785 canonical JSON text>",
     "key_id": 0,
     "signature": "<base64 Ed25519 signature>"}

The signature covers ``b"agritrace-revocations-v1\\x00" + payload`` (UTF-8) with a stamp
key of the issuer, so a verifier that trusts the issuer's published stamp keys can check it.
The payload holds ``issued_at`` and ``ranges``: ``[{"first": n, "last": m, "lot": ...,
"reason": ..., "recalled_at": ..., "ledger_index": i}, ...]``. :func:`is_revoked` answers
for one serial.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from agritrace.errors import VerificationError
from agritrace.ledger.canonical import to_canonical_bytes

__all__ = [
    "REVOCATIONS_FORMAT",
    "RevocationListError",
    "is_revoked",
    "sign_revocations",
    "verify_revocations",
]

REVOCATIONS_FORMAT = "agritrace-revocations/v1"
_DOMAIN = b"agritrace-revocations-v1\x00"


class RevocationListError(VerificationError):
    """A revocation list is malformed or its signature does not verify."""


def sign_revocations(
    payload: Mapping[str, Any], *, key_id: int, private_key: Ed25519PrivateKey
) -> dict[str, Any]:
    text = to_canonical_bytes(dict(payload))
    return {
        "format": REVOCATIONS_FORMAT,
        "payload": text.decode("utf-8"),
        "key_id": key_id,
        "signature": base64.b64encode(private_key.sign(_DOMAIN + text)).decode("ascii"),
    }


def verify_revocations(
    document: Mapping[str, Any], *, public_keys: Mapping[int, Ed25519PublicKey]
) -> dict[str, Any]:
    """The verified payload, or RevocationListError."""
    if document.get("format") != REVOCATIONS_FORMAT:
        raise RevocationListError(f"not an {REVOCATIONS_FORMAT} document")
    payload, key_id, signature = (
        document.get("payload"),
        document.get("key_id"),
        document.get("signature"),
    )
    if (
        not isinstance(payload, str)
        or not isinstance(key_id, int)
        or not isinstance(signature, str)
    ):
        raise RevocationListError("a revocation list needs payload, key_id and signature")
    key = public_keys.get(key_id)
    if key is None:
        raise RevocationListError(f"the revocation list is signed by unknown key {key_id}")
    try:
        key.verify(base64.b64decode(signature, validate=True), _DOMAIN + payload.encode("utf-8"))
    except (InvalidSignature, binascii.Error) as exc:
        raise RevocationListError("the revocation list's signature does not verify") from exc
    parsed = json.loads(payload)
    if not isinstance(parsed, dict) or not isinstance(parsed.get("ranges"), list):
        raise RevocationListError("the revocation list's payload has no ranges")
    return parsed


def is_revoked(payload: Mapping[str, Any], serial: int) -> dict[str, Any] | None:
    """The range entry that revokes ``serial``, if any."""
    for entry in payload.get("ranges", []):
        if isinstance(entry, dict) and entry.get("first", 0) <= serial <= entry.get("last", -1):
            return entry
    return None
