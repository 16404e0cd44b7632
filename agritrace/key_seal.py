"""Private keys sealed under a passphrase: Argon2id (RFC 9106) then AES-256-GCM.

Sealed key file, UTF-8 JSON with sorted keys (``agritrace-sealed-key-v1``)::

    {"format": "agritrace-sealed-key-v1",
     "kdf": {"name": "argon2id", "salt": "<b64url 16 bytes>",
             "memory_kib": 47104, "iterations": 1, "lanes": 1},
     "nonce": "<b64url 12 bytes>", "ciphertext": "<b64url: 32-byte Ed25519 seed + 16-byte tag>"}

The key encryption key is ``Argon2id(passphrase, salt, memory_kib, iterations, lanes)`` (32
bytes); the seed is encrypted with AES-256-GCM under a fresh random nonce, with the caller's
associated data (the key's name and public key), so a sealed file moved to another key's
place does not open. :data:`ARGON2ID_OWASP` is the cost used for keys at rest: the OWASP
Password Storage Cheat Sheet's Argon2id setting of 46 MiB, one pass, one lane.
:data:`UNSAFE_TEST_KDF` exists only so test suites can create rings cheaply; nothing chooses
it by default. A ring shares one salt across its files, so :class:`Unsealer` derives the key
encryption key once per salt and cost.

:meth:`SealedKey.from_bytes` accepts exactly what :meth:`SealedKey.to_bytes` writes and
raises :class:`~agritrace.errors.InvalidInputError` otherwise; :meth:`Unsealer.unseal` raises
:class:`WrongPassphraseError` when the tag does not verify (a wrong passphrase, or a damaged
file: AES-GCM cannot tell them apart).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from agritrace.errors import InvalidInputError

__all__ = [
    "ARGON2ID_OWASP",
    "SEALED_FORMAT",
    "UNSAFE_TEST_KDF",
    "KdfParams",
    "SealedKey",
    "Unsealer",
    "WrongPassphraseError",
    "seal",
]

SEALED_FORMAT = "agritrace-sealed-key-v1"
_SALT_BYTES = 16
_NONCE_BYTES = 12
_KEY_BYTES = 32
_MAX_CIPHERTEXT_BYTES = 1024
_MAX_MEMORY_KIB = 4 * 1024 * 1024  # 4 GiB: more is a damaged or hostile file
_MAX_ITERATIONS = 64
_MAX_LANES = 64


class WrongPassphraseError(InvalidInputError):
    """The passphrase does not open a sealed key (or the sealed file is damaged)."""


@dataclass(frozen=True, slots=True)
class KdfParams:
    """Argon2id cost: memory in KiB, passes, lanes (RFC 9106 §3.1 ``m``, ``t``, ``p``)."""

    memory_kib: int
    iterations: int
    lanes: int

    def __post_init__(self) -> None:
        for name, value, top in (
            ("lanes", self.lanes, _MAX_LANES),
            ("iterations", self.iterations, _MAX_ITERATIONS),
            ("memory_kib", self.memory_kib, _MAX_MEMORY_KIB),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
                raise InvalidInputError(f"Argon2id {name} must be an integer in 1..{top}")
        if self.memory_kib < 8 * self.lanes:
            raise InvalidInputError("Argon2id memory must be at least 8 KiB per lane")

    def at_least(self, other: KdfParams) -> bool:
        """Whether this cost is no lower than ``other`` in every dimension."""
        return self.memory_kib >= other.memory_kib and self.iterations >= other.iterations


#: Keys at rest: OWASP Password Storage Cheat Sheet, Argon2id m=47104 KiB (46 MiB), t=1, p=1.
ARGON2ID_OWASP = KdfParams(memory_kib=47104, iterations=1, lanes=1)
#: Test suites only (``AGRITRACE_UNSAFE_TEST_KDF=1``): trivially cheap, never a default.
UNSAFE_TEST_KDF = KdfParams(memory_kib=8, iterations=1, lanes=1)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: object, what: str) -> bytes:
    if isinstance(text, str) and text.isascii() and "=" not in text:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            raw = None
        if raw is not None and _b64(raw) == text:
            return raw
    raise _malformed(f"{what} is not canonical base64url")


def _malformed(reason: str) -> InvalidInputError:
    return InvalidInputError(f"the sealed key file is malformed: {reason}", reason=reason)


@dataclass(frozen=True, slots=True)
class SealedKey:
    """One sealed private key: KDF salt and cost, AES-GCM nonce and ciphertext."""

    salt: bytes
    params: KdfParams
    nonce: bytes
    ciphertext: bytes

    def to_bytes(self) -> bytes:
        document = {
            "format": SEALED_FORMAT,
            "kdf": {
                "name": "argon2id",
                "salt": _b64(self.salt),
                "memory_kib": self.params.memory_kib,
                "iterations": self.params.iterations,
                "lanes": self.params.lanes,
            },
            "nonce": _b64(self.nonce),
            "ciphertext": _b64(self.ciphertext),
        }
        return json.dumps(document, sort_keys=True, indent=1).encode("utf-8") + b"\n"

    @classmethod
    def from_bytes(cls, data: bytes) -> SealedKey:
        try:
            document = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise _malformed("not JSON") from exc
        if not isinstance(document, dict) or set(document) != {
            "format",
            "kdf",
            "nonce",
            "ciphertext",
        }:
            raise _malformed("not a sealed key object")
        kdf = document["kdf"]
        if document["format"] != SEALED_FORMAT or not isinstance(kdf, dict):
            raise _malformed(f"format is not {SEALED_FORMAT!r}")
        if set(kdf) != {"name", "salt", "memory_kib", "iterations", "lanes"}:
            raise _malformed("the kdf object has other members")
        if kdf["name"] != "argon2id":
            raise _malformed("the kdf is not argon2id")
        params = KdfParams(kdf["memory_kib"], kdf["iterations"], kdf["lanes"])
        salt = _unb64(kdf["salt"], "salt")
        nonce = _unb64(document["nonce"], "nonce")
        ciphertext = _unb64(document["ciphertext"], "ciphertext")
        if len(salt) != _SALT_BYTES or len(nonce) != _NONCE_BYTES:
            raise _malformed("salt or nonce has the wrong length")
        if not 16 < len(ciphertext) <= _MAX_CIPHERTEXT_BYTES:
            raise _malformed("ciphertext has the wrong length")
        return cls(salt=salt, params=params, nonce=nonce, ciphertext=ciphertext)


def _derive(passphrase: bytes, salt: bytes, params: KdfParams) -> bytes:
    kdf = Argon2id(
        salt=salt,
        length=_KEY_BYTES,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
    )
    return kdf.derive(passphrase)


class Unsealer:
    """Seals and opens keys under one passphrase, deriving each (salt, cost) key once."""

    def __init__(self, passphrase: bytes, params: KdfParams) -> None:
        self._passphrase = passphrase
        self.params = params
        self.salt = os.urandom(_SALT_BYTES)
        self._keys: dict[tuple[bytes, KdfParams], bytes] = {}

    def __repr__(self) -> str:
        return f"Unsealer({self.params})"

    def _key(self, salt: bytes, params: KdfParams) -> bytes:
        if (salt, params) not in self._keys:
            self._keys[salt, params] = _derive(self._passphrase, salt, params)
        return self._keys[salt, params]

    def seal(self, secret: bytes, *, associated: bytes) -> SealedKey:
        """Seal ``secret`` under this passphrase, this unsealer's salt and cost."""
        nonce = os.urandom(_NONCE_BYTES)
        key = self._key(self.salt, self.params)
        ciphertext = AESGCM(key).encrypt(nonce, secret, associated)
        return SealedKey(salt=self.salt, params=self.params, nonce=nonce, ciphertext=ciphertext)

    def unseal(self, sealed: SealedKey, *, associated: bytes) -> bytes:
        """The secret in ``sealed``; raises WrongPassphraseError if it does not open."""
        key = self._key(sealed.salt, sealed.params)
        try:
            return AESGCM(key).decrypt(sealed.nonce, sealed.ciphertext, associated)
        except InvalidTag as exc:
            raise WrongPassphraseError("the passphrase does not open the sealed key") from exc


def seal(secret: bytes, *, passphrase: bytes, params: KdfParams, associated: bytes) -> SealedKey:
    """Seal one secret with a fresh salt (see :class:`Unsealer` to share one)."""
    return Unsealer(passphrase, params).seal(secret, associated=associated)
