"""Proof bundles: entries with their inclusion proofs and a signed checkpoint, in one JSON
document that anyone can verify offline with the ledger's public key alone.

Format (``agritrace-proof-bundle/v1``)::

    {"format": "agritrace-proof-bundle/v1",
     "checkpoint": "<C2SP signed note, as text>",
     "entries": [{"index": 7, "entry": "<the entry's exact canonical JSON text>",
                  "proof": ["<base64 hash>", ...]}, ...]}

An optional ``"openings"`` list (docs/adr/0013-what-the-ledger-reveals.md) carries the
openings of sealed entries' private fields that a facility chose to share, each
``{"index": 7, "field": "display.to", "salt": "<base64>", "value": ...}``; every one must
open a commitment of a bundled entry (:func:`agritrace.ledger.commitment.verify_openings`).

``entry`` is the exact text that was hashed (leaf = SHA-256(0x00 || UTF-8 bytes)), so a
verifier needs no canonicalization. :func:`verify_bundle` checks the checkpoint signature,
then each entry's RFC 9162 inclusion proof against the checkpoint's root and size.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agritrace.errors import InvalidInputError, VerificationError
from agritrace.ledger import merkle
from agritrace.ledger.canonical import from_canonical_bytes
from agritrace.ledger.checkpoint import Checkpoint, NoteVerifier, open_note
from agritrace.ledger.commitment import CommitmentError, verify_openings

__all__ = [
    "BUNDLE_FORMAT",
    "BundleEntry",
    "BundleError",
    "VerifiedBundle",
    "make_bundle",
    "verify_bundle",
]

BUNDLE_FORMAT = "agritrace-proof-bundle/v1"
MAX_BUNDLE_ENTRIES = 100_000
CHECKPOINT_CACHE_SIZE = 64


class BundleError(VerificationError):
    """A proof bundle is malformed or does not verify. Facts: ``index`` when one entry fails."""


@dataclass(frozen=True, slots=True)
class BundleEntry:
    index: int
    content: bytes
    proof: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class VerifiedBundle:
    checkpoint: Checkpoint
    entries: tuple[tuple[int, Any], ...]
    """(index, parsed entry) for every entry, in bundle order."""


def make_bundle(checkpoint_note: str, entries: Sequence[BundleEntry]) -> dict[str, Any]:
    return {
        "format": BUNDLE_FORMAT,
        "checkpoint": checkpoint_note,
        "entries": [
            {
                "index": entry.index,
                "entry": entry.content.decode("utf-8"),
                "proof": [base64.b64encode(h).decode("ascii") for h in entry.proof],
            }
            for entry in entries
        ],
    }


def _malformed(reason: str) -> BundleError:
    return BundleError(f"proof bundle is malformed: {reason}", reason=reason)


def _parse(document: bytes | str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(document, dict):
        return document
    try:
        parsed = json.loads(document)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _malformed("not JSON") from exc
    if not isinstance(parsed, dict):
        raise _malformed("not a JSON object")
    return parsed


@functools.lru_cache(maxsize=CHECKPOINT_CACHE_SIZE)
def _open_checkpoint(note: str, verifiers: tuple[NoteVerifier, ...]) -> Checkpoint:
    # Bundles are mostly verified against a few recent checkpoints, and the Ed25519 check of
    # the note is most of the cost of a one-entry bundle. A note that verified under exactly
    # these keys always will, so the result is kept; a failure raises and is not kept.
    body, _signers = open_note(note.encode("utf-8"), verifiers=verifiers)
    return Checkpoint.from_body(body)


def verify_bundle(
    document: bytes | str | dict[str, Any], *, verifiers: Sequence[NoteVerifier]
) -> VerifiedBundle:
    """Verify a bundle offline; return its checkpoint and parsed entries, or raise BundleError."""
    doc = _parse(document)
    if doc.get("format") != BUNDLE_FORMAT:
        raise _malformed(f"format is not {BUNDLE_FORMAT!r}")
    note, entries = doc.get("checkpoint"), doc.get("entries")
    if not isinstance(note, str) or not isinstance(entries, list):
        raise _malformed("'checkpoint' must be a string and 'entries' a list")
    if len(entries) > MAX_BUNDLE_ENTRIES:
        raise _malformed(f"more than {MAX_BUNDLE_ENTRIES} entries")
    try:
        checkpoint = _open_checkpoint(note, tuple(verifiers))
    except (VerificationError, InvalidInputError) as exc:
        raise BundleError(f"the bundle's checkpoint does not verify: {exc}") from exc
    verified: list[tuple[int, Any]] = []
    for item in entries:
        if not isinstance(item, dict):
            raise _malformed("an entry is not an object")
        index, text, proof = item.get("index"), item.get("entry"), item.get("proof")
        if (
            not isinstance(index, int)
            or isinstance(index, bool)
            or not isinstance(text, str)
            or not isinstance(proof, list)
            or not all(isinstance(p, str) for p in proof)
        ):
            raise _malformed(
                "an entry needs an integer 'index', an 'entry' string and a 'proof' list"
            )
        try:
            content = text.encode("utf-8")
            hashes = [base64.b64decode(p, validate=True) for p in proof]
        except (UnicodeEncodeError, binascii.Error) as exc:
            raise _malformed(f"entry #{index} has a bad encoding") from exc
        try:
            merkle.verify_inclusion(
                leaf_hash=merkle.leaf_hash(content),
                index=index,
                size=checkpoint.size,
                proof=hashes,
                root=checkpoint.root_hash,
            )
            body_value = from_canonical_bytes(content)
        except (VerificationError, InvalidInputError) as exc:
            raise BundleError(
                f"entry #{index} is not proven by the checkpoint: {exc}", index=index
            ) from exc
        verified.append((index, body_value))
    try:  # the optional "openings" section: private fields a facility chose to share
        verify_openings(doc.get("openings"), dict(verified))
    except CommitmentError as exc:
        raise BundleError(f"an opening of a private field does not verify: {exc}") from exc
    return VerifiedBundle(checkpoint=checkpoint, entries=tuple(verified))
