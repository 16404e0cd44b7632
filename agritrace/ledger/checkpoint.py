"""Signed checkpoints of the ledger: C2SP tlog-checkpoint bodies in C2SP signed notes (Ed25519).

Checkpoint body (https://c2sp.org/tlog-checkpoint, "Note text"): the origin line, the tree size
in ASCII decimal without leading zeros, the base64 (RFC 4648 §4) RFC 6962 root hash, then
optional non-empty extension lines; every line ends in a newline. :meth:`Checkpoint.from_body`
refuses anything else, and :meth:`Checkpoint.to_body` is its exact inverse.

Signed note (https://c2sp.org/signed-note, "Format", "Signatures", "Ed25519 signatures"): the
text, a blank line, then signature lines ``— <key name> <base64(key ID || signature)>`` (U+2014,
a space, the name, a space, the base64, a newline). The Ed25519 signature (RFC 8032) covers the
text including its final newline. The key ID is the first four bytes of
``SHA-256(key name || 0x0A || 0x01 || 32-byte public key)``. Key names are non-empty and hold
neither Unicode spaces nor ``+``. The whole note is UTF-8 without ASCII controls except newline.

Key strings, in the form golang.org/x/mod/sumdb/note uses: a verifier key is
``<name>+<8 hex key ID>+<base64(0x01 || public key)>``, a signer key is
``PRIVATE+KEY+<name>+<8 hex key ID>+<base64(0x01 || 32-byte seed)>``. Parsing checks that the
key ID matches the name and key.

Opening (:func:`open_note`) follows the spec's trust rules: signatures whose (name, key ID) no
verifier knows are ignored; every signature from a known key is verified and one failure
rejects the whole note (the spec's SHOULD); a note with no verified known signature is
rejected (MUST). Rejections raise :class:`NoteVerificationError`, a
:class:`~agritrace.errors.VerificationError`. Malformed bodies, names and key strings raise
:class:`~agritrace.errors.InvalidInputError`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeAlias

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from agritrace.errors import InvalidInputError, VerificationError

__all__ = [
    "MAX_NOTE_SIGNATURES",
    "Checkpoint",
    "NoteVerificationError",
    "NoteVerifier",
    "key_id",
    "open_note",
    "sign_note",
    "signer_key_from_text",
    "signer_key_to_text",
]

#: Most signature lines :func:`open_note` reads (the spec asks for at least 16).
MAX_NOTE_SIGNATURES = 100

_ROOT_HASH_SIZE = 32
_MAX_TREE_SIZE = 2**64 - 1
_ED25519_TYPE = b"\x01"  # signed-note signature type byte for Ed25519
_ED25519_SIGNATURE_SIZE = 64
_KEY_ID_SIZE = 4
_SIGNATURE_PREFIX = "\u2014 "  # em dash, space
_SIGNER_KEY_PREFIX = "PRIVATE+KEY+"
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")  # ASCII controls other than newline
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")
_HEX_KEY_ID = re.compile(r"[0-9a-fA-F]{8}")


class NoteVerificationError(VerificationError):
    """A signed note did not verify. Facts: ``reason`` and, for a bad signature from a known
    key, ``signer`` and ``key_id`` (hex)."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A log's tree head at one size (c2sp.org/tlog-checkpoint).

    ``origin`` names the log; ``size`` is the number of leaves (0 .. 2**64 - 1); ``root_hash``
    is the 32-byte RFC 6962 root; ``extensions`` are the optional extra lines (each
    non-empty). Construction checks all of these and raises :class:`InvalidInputError`.
    """

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line("origin", self.origin)
        if (
            isinstance(self.size, bool)
            or not isinstance(self.size, int)
            or not 0 <= self.size <= _MAX_TREE_SIZE
        ):
            raise InvalidInputError(
                f"checkpoint size must be an integer in 0..2**64-1, got {self.size!r}",
                size=self.size,
            )
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != _ROOT_HASH_SIZE:
            raise InvalidInputError(f"checkpoint root hash must be {_ROOT_HASH_SIZE} bytes")
        if not isinstance(self.extensions, tuple):
            raise InvalidInputError("checkpoint extensions must be a tuple of lines")
        for line in self.extensions:
            _check_line("extension line", line)

    def to_body(self) -> bytes:
        """The note text: origin, size, base64 root and extension lines, each ending in newline."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode("ascii")]
        lines.extend(self.extensions)
        return "".join(line + "\n" for line in lines).encode("utf-8")

    @classmethod
    def from_body(cls, body: bytes) -> Checkpoint:
        """Parse a checkpoint note text, strictly: exactly what :meth:`to_body` produces.

        Raises :class:`InvalidInputError` (fact ``reason``) for invalid UTF-8, ASCII controls,
        a missing final newline, fewer than three lines, an empty line, a size that is not
        plain decimal (no sign, no leading zero, at most 2**64 - 1), or a root that is not the
        canonical base64 of 32 bytes.
        """
        text = _decode_note_text(body, what="checkpoint")
        if not text.endswith("\n"):
            _refuse_body("it does not end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            _refuse_body("it has fewer than three lines")
        if any(not line for line in lines):
            _refuse_body("it has an empty line")
        origin, size_text, root_text, *extensions = lines
        if not _DECIMAL.fullmatch(size_text) or int(size_text) > _MAX_TREE_SIZE:
            _refuse_body(f"the size line {size_text[:30]!r} is not a decimal tree size")
        root_hash = _strict_b64decode(root_text)
        if root_hash is None or len(root_hash) != _ROOT_HASH_SIZE:
            _refuse_body("the root line is not the base64 of a 32-byte hash")
        return cls(
            origin=origin, size=int(size_text), root_hash=root_hash, extensions=tuple(extensions)
        )


@dataclass(frozen=True, slots=True)
class NoteVerifier:
    """An Ed25519 note verifier: a key name and a raw 32-byte public key.

    ``key_id`` is derived from both. Construction raises :class:`InvalidInputError` for an
    invalid name or key; :meth:`from_public_key` takes a ``cryptography`` key instead.
    """

    name: str
    public_key: bytes
    key_id: bytes = field(init=False)

    def __post_init__(self) -> None:
        _check_name(self.name)
        if not isinstance(self.public_key, bytes) or len(self.public_key) != 32:
            raise InvalidInputError("an Ed25519 public key is 32 bytes")
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key)
        except ValueError as exc:
            raise InvalidInputError("not a valid Ed25519 public key") from exc
        object.__setattr__(self, "key_id", _key_id(self.name, self.public_key))

    @classmethod
    def from_public_key(cls, name: str, public_key: Ed25519PublicKey) -> NoteVerifier:
        """The verifier for ``public_key`` under key name ``name``."""
        return cls(name=name, public_key=_public_bytes(public_key))

    @classmethod
    def from_text(cls, text: str) -> NoteVerifier:
        """Parse ``<name>+<8 hex key ID>+<base64(0x01 || public key)>``.

        Raises :class:`InvalidInputError` for any other shape, a signature type other than
        Ed25519, or a key ID that does not match the name and key.
        """
        name, id_hex, key_b64 = _split_key_text(text, what="verifier key")
        raw = _strict_b64decode(key_b64)
        if raw is None or len(raw) != 1 + 32 or raw[:1] != _ED25519_TYPE:
            raise InvalidInputError(
                "verifier key must carry base64(0x01 || 32-byte Ed25519 public key)"
            )
        verifier = cls(name=name, public_key=raw[1:])
        if verifier.key_id != bytes.fromhex(id_hex):
            raise InvalidInputError(
                f"verifier key ID {id_hex} does not match the name and key "
                f"(expected {verifier.key_id.hex()})",
                key_id=id_hex,
                expected_key_id=verifier.key_id.hex(),
            )
        return verifier

    def to_text(self) -> str:
        """The verifier key string; the inverse of :meth:`from_text`."""
        encoded = base64.b64encode(_ED25519_TYPE + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    def _verifies(self, text: bytes, signature: bytes) -> bool:
        if len(signature) != _ED25519_SIGNATURE_SIZE:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, text)
        except InvalidSignature:
            return False
        return True


def key_id(name: str, public_key: Ed25519PublicKey) -> bytes:
    """The 4-byte key ID: SHA-256(name || 0x0A || 0x01 || 32-byte public key)[:4]."""
    return _key_id(name, _public_bytes(public_key))


def signer_key_to_text(*, name: str, private_key: Ed25519PrivateKey) -> str:
    """``PRIVATE+KEY+<name>+<8 hex key ID>+<base64(0x01 || seed)>``.

    The result holds the private key in clear: store it encrypted, never log it.
    """
    _check_name(name)
    seed = private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    identifier = key_id(name, private_key.public_key()).hex()
    encoded = base64.b64encode(_ED25519_TYPE + seed).decode("ascii")
    return f"{_SIGNER_KEY_PREFIX}{name}+{identifier}+{encoded}"


def signer_key_from_text(text: str) -> tuple[str, Ed25519PrivateKey]:
    """Parse a signer key string into its key name and private key.

    Raises :class:`InvalidInputError` for any other shape or a key ID that does not match
    (the message never repeats the key).
    """
    if not isinstance(text, str) or not text.startswith(_SIGNER_KEY_PREFIX):
        raise InvalidInputError("signer key must start with PRIVATE+KEY+")
    name, id_hex, key_b64 = _split_key_text(
        text.removeprefix(_SIGNER_KEY_PREFIX), what="signer key"
    )
    raw = _strict_b64decode(key_b64)
    if raw is None or len(raw) != 1 + 32 or raw[:1] != _ED25519_TYPE:
        raise InvalidInputError("signer key must carry base64(0x01 || 32-byte Ed25519 seed)")
    _check_name(name)
    private_key = Ed25519PrivateKey.from_private_bytes(raw[1:])
    if key_id(name, private_key.public_key()) != bytes.fromhex(id_hex):
        raise InvalidInputError(f"signer key ID {id_hex} does not match the key")
    return name, private_key


def sign_note(body: bytes, *, name: str, private_key: Ed25519PrivateKey) -> bytes:
    """Sign a note text, or add a signature to an already signed note.

    If ``body`` is a signed note (its part after the last blank line consists of well-formed
    signature lines) the signature of its text is appended, replacing any earlier line from
    the same key; otherwise ``body`` is the text, which must be non-empty UTF-8 ending in a
    newline and free of ASCII controls other than newline. Returns the whole note. Raises
    :class:`InvalidInputError` for an invalid text or key name.
    """
    _check_name(name)
    text, signatures = _split_for_signing(body)
    identifier = key_id(name, private_key.public_key())
    signature = private_key.sign(text)
    lines = [
        line
        for line_name, line_id, _, line in signatures
        if (line_name, line_id) != (name, identifier)
    ]
    blob = base64.b64encode(identifier + signature).decode("ascii")
    lines.append(f"{_SIGNATURE_PREFIX}{name} {blob}\n")
    return text + b"\n" + "".join(lines).encode("utf-8")


def open_note(
    note: bytes, *, verifiers: Iterable[NoteVerifier] | Mapping[Any, NoteVerifier]
) -> tuple[bytes, list[str]]:
    """Verify a signed note and return its text and the names of the known keys that signed.

    ``verifiers`` are the trusted keys (a mapping is read for its values). Signatures from
    keys it does not hold, by (name, key ID), are ignored. Raises
    :class:`NoteVerificationError` for a malformed note, more than
    :data:`MAX_NOTE_SIGNATURES` signatures, any failing signature from a known key, or no
    verified signature from a known key; :class:`InvalidInputError` if two verifiers share a
    name and key ID but not the key.
    """
    known = _index_verifiers(verifiers)
    text, signatures = _split_note(note)
    names: list[str] = []
    for name, identifier, signature, _ in signatures:
        verifier = known.get((name, identifier))
        if verifier is None:
            continue
        if not verifier._verifies(text, signature):
            raise NoteVerificationError(
                f"the note's signature by {name!r} (key {identifier.hex()}) does not verify",
                reason="bad signature from a known key",
                signer=name,
                key_id=identifier.hex(),
            )
        if name not in names:
            names.append(name)
    if not names:
        raise NoteVerificationError(
            "the note carries no signature from a known key",
            reason="no signature from a known key",
        )
    return text, names


# --- helpers ----------------------------------------------------------------------------------

# A parsed signature line: key name, key ID, signature bytes, and the line as written.
_SignatureLine: TypeAlias = tuple[str, bytes, bytes, str]


def _key_id(name: str, public_key: bytes) -> bytes:
    data = name.encode("utf-8") + b"\n" + _ED25519_TYPE + public_key
    return hashlib.sha256(data).digest()[:_KEY_ID_SIZE]


def _public_bytes(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _strict_b64decode(text: str) -> bytes | None:
    # Standard alphabet with padding, and canonical: re-encoding gives the same text.
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if base64.b64encode(raw).decode("ascii") == text else None


def _check_line(what: str, line: object) -> None:
    if not isinstance(line, str) or not line:
        raise InvalidInputError(f"checkpoint {what} must be a non-empty string")
    if "\n" in line or _CONTROL.search(line):
        raise InvalidInputError(f"checkpoint {what} must not contain control characters")
    try:
        line.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(f"checkpoint {what} is not valid Unicode text") from exc


def _check_name(name: object) -> None:
    if not isinstance(name, str) or not name:
        raise InvalidInputError("a key name must be a non-empty string")
    if "+" in name or any(char.isspace() or char < " " for char in name):
        raise InvalidInputError(
            f"key name {name!r} must not contain spaces, controls or '+'", name=name
        )
    try:
        name.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError("a key name must be valid Unicode text") from exc


def _split_key_text(text: str, *, what: str) -> tuple[str, str, str]:
    parts = text.split("+", 2) if isinstance(text, str) else []
    if len(parts) != 3 or not _HEX_KEY_ID.fullmatch(parts[1]):
        raise InvalidInputError(f"{what} must look like <name>+<8 hex digits>+<base64>")
    return parts[0], parts[1], parts[2]


def _refuse_body(reason: str) -> NoReturn:
    raise InvalidInputError(f"malformed checkpoint: {reason}", reason=reason)


def _decode_note_text(data: bytes, *, what: str) -> str:
    if not isinstance(data, bytes):
        raise InvalidInputError(f"a {what} must be bytes, got {type(data).__name__}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        reason = "it is not valid UTF-8"
        raise InvalidInputError(f"malformed {what}: {reason}", reason=reason) from exc
    if _CONTROL.search(text):
        reason = "it contains ASCII control characters other than newline"
        raise InvalidInputError(f"malformed {what}: {reason}", reason=reason)
    return text


def _parse_signature_block(block: str) -> list[_SignatureLine] | None:
    # The signature lines after the blank line, or None if any is malformed.
    if not block.endswith("\n"):
        return None
    parsed: list[_SignatureLine] = []
    for line in block[:-1].split("\n"):
        if not line.startswith(_SIGNATURE_PREFIX):
            return None
        fields = line[len(_SIGNATURE_PREFIX) :].split(" ")
        if len(fields) != 2:
            return None
        name, blob = fields
        try:
            _check_name(name)
        except InvalidInputError:
            return None
        raw = _strict_b64decode(blob)
        if raw is None or len(raw) <= _KEY_ID_SIZE:
            return None
        parsed.append((name, raw[:_KEY_ID_SIZE], raw[_KEY_ID_SIZE:], line + "\n"))
    return parsed


def _split_note(note: bytes) -> tuple[bytes, list[_SignatureLine]]:
    def malformed(reason: str) -> NoteVerificationError:
        return NoteVerificationError(f"malformed signed note: {reason}", reason=reason)

    try:
        _decode_note_text(note, what="signed note")
    except InvalidInputError as exc:
        raise malformed(str(exc.facts.get("reason", exc.message))) from exc
    split = note.rfind(b"\n\n")
    if split < 0:
        raise malformed("there is no blank line before the signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if block.count(b"\n") > MAX_NOTE_SIGNATURES:
        raise malformed(f"it has more than {MAX_NOTE_SIGNATURES} signatures")
    signatures = _parse_signature_block(block.decode("utf-8"))
    if not signatures:
        raise malformed("the signature lines are missing or malformed")
    return text, signatures


def _split_for_signing(body: bytes) -> tuple[bytes, list[_SignatureLine]]:
    _decode_note_text(body, what="note text")
    split = body.rfind(b"\n\n")
    if split >= 0:
        signatures = _parse_signature_block(body[split + 2 :].decode("utf-8"))
        if signatures:
            return body[: split + 1], signatures
    if not body.endswith(b"\n"):
        raise InvalidInputError("a note text must be non-empty and end with a newline")
    return body, []


def _index_verifiers(
    verifiers: Iterable[NoteVerifier] | Mapping[Any, NoteVerifier],
) -> dict[tuple[str, bytes], NoteVerifier]:
    values = verifiers.values() if isinstance(verifiers, Mapping) else verifiers
    known: dict[tuple[str, bytes], NoteVerifier] = {}
    for verifier in values:
        slot = (verifier.name, verifier.key_id)
        held = known.setdefault(slot, verifier)
        if held.public_key != verifier.public_key:
            raise InvalidInputError(
                f"two verifiers share name {verifier.name!r} and key ID {verifier.key_id.hex()}",
                name=verifier.name,
                key_id=verifier.key_id.hex(),
            )
    return known
