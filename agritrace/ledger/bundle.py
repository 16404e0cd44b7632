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

Optional member ``"consistency": {"size": N, "proof": ["<base64 hash>", ...]}`` (added by
``agritrace ledger bundle --consistent-with N``): the RFC 9162 consistency proof from the tree
of N entries to the bundle's checkpoint. A verifier that remembers a checkpoint of N entries
(``trusted``) needs it to check that the bundle's checkpoint extends what it saw; a bundle
checked against a trusted checkpoint that is newer than its own is refused (ask for one made
against a checkpoint at least as new). Bundles without the member stay valid (ADR 0012).
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
from agritrace.ledger.trust import RollbackError, check_extends, needs_proof

__all__ = [
    "BUNDLE_FORMAT",
    "BundleConsistency",
    "BundleEntry",
    "BundleError",
    "VerifiedBundle",
    "make_bundle",
    "verify_bundle",
]

BUNDLE_FORMAT = "agritrace-proof-bundle/v1"
MAX_BUNDLE_ENTRIES = 100_000
#: Most hashes a consistency proof between trees of at most 2**64 entries can hold.
MAX_CONSISTENCY_HASHES = 128
_MAX_TREE_SIZE = 2**64 - 1
CHECKPOINT_CACHE_SIZE = 64


class BundleError(VerificationError):
    """A proof bundle is malformed or does not verify. Facts: ``index`` when one entry fails."""


@dataclass(frozen=True, slots=True)
class BundleEntry:
    index: int
    content: bytes
    proof: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class BundleConsistency:
    """A consistency proof from the tree of ``size`` entries to the bundle's checkpoint."""

    size: int
    proof: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "proof": [base64.b64encode(h).decode("ascii") for h in self.proof],
        }

    @classmethod
    def from_json(cls, value: object) -> BundleConsistency:
        """Exactly what :meth:`to_json` writes: ``size`` 0..2**64-1 and at most
        :data:`MAX_CONSISTENCY_HASHES` canonical base64 hashes of 32 bytes. Raises
        BundleError otherwise."""
        if not isinstance(value, dict) or set(value) != {"size", "proof"}:
            raise _malformed("'consistency' must be an object with 'size' and 'proof'")
        size, proof = value["size"], value["proof"]
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= _MAX_TREE_SIZE:
            raise _malformed("'consistency.size' must be a tree size")
        if not isinstance(proof, list) or len(proof) > MAX_CONSISTENCY_HASHES:
            raise _malformed(f"'consistency.proof' must be a list of <= {MAX_CONSISTENCY_HASHES}")
        hashes = tuple(_hash_from_text(item) for item in proof)
        return cls(size=size, proof=hashes)


def _hash_from_text(item: object) -> bytes:
    if isinstance(item, str) and item.isascii():
        try:
            raw = base64.b64decode(item, validate=True)
        except binascii.Error:
            raw = b""
        if len(raw) == merkle.HASH_SIZE and base64.b64encode(raw).decode("ascii") == item:
            return raw
    raise _malformed("a consistency proof hash is not the base64 of 32 bytes")


@dataclass(frozen=True, slots=True)
class VerifiedBundle:
    checkpoint: Checkpoint
    entries: tuple[tuple[int, Any], ...]
    """(index, parsed entry) for every entry, in bundle order."""
    consistency: BundleConsistency | None = None


def make_bundle(
    checkpoint_note: str,
    entries: Sequence[BundleEntry],
    *,
    consistency: BundleConsistency | None = None,
) -> dict[str, Any]:
    document = _make_bundle(checkpoint_note, entries)
    if consistency is not None:
        document["consistency"] = consistency.to_json()
    return document


def _make_bundle(checkpoint_note: str, entries: Sequence[BundleEntry]) -> dict[str, Any]:
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


def _check_trusted(
    checkpoint: Checkpoint, consistency: BundleConsistency | None, trusted: Checkpoint
) -> None:
    if trusted.origin != checkpoint.origin:
        raise BundleError(
            f"the bundle is from the log {checkpoint.origin!r}, the trusted checkpoint from "
            f"{trusted.origin!r}",
            reason="origin",
        )
    if trusted.size > checkpoint.size:
        raise BundleError(
            f"the bundle's checkpoint ({checkpoint.size} entries) is older than the trusted "
            f"checkpoint ({trusted.size} entries): ask for a bundle made against a checkpoint "
            "at least as new",
            reason="older",
            trusted_size=trusted.size,
        )
    proof: tuple[bytes, ...] = ()
    if needs_proof(trusted, checkpoint):
        if consistency is None or consistency.size != trusted.size:
            raise BundleError(
                f"the bundle carries no consistency proof from the trusted size {trusted.size} "
                f"to its checkpoint ({checkpoint.size} entries): export it with "
                f"--consistent-with {trusted.size}",
                reason="no-consistency-proof",
                trusted_size=trusted.size,
            )
        proof = consistency.proof
    try:
        check_extends(trusted, checkpoint, proof)
    except RollbackError as exc:
        raise BundleError(
            f"the bundle's checkpoint does not extend the trusted one: {exc}",
            reason=exc.facts["problem"],
        ) from exc


def verify_bundle(
    document: bytes | str | dict[str, Any],
    *,
    verifiers: Sequence[NoteVerifier],
    trusted: Checkpoint | None = None,
) -> VerifiedBundle:
    """Verify a bundle offline; return its checkpoint and parsed entries, or raise BundleError.

    With ``trusted`` (a checkpoint this verifier saw before), the bundle's checkpoint must
    also extend it: same root at the same size, or the bundle's consistency proof from
    ``trusted.size`` (:class:`BundleConsistency`). A bundle older than ``trusted`` is refused.
    """
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
    consistency = None
    if "consistency" in doc:
        consistency = BundleConsistency.from_json(doc["consistency"])
    if trusted is not None:
        _check_trusted(checkpoint, consistency, trusted)
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
    return VerifiedBundle(checkpoint=checkpoint, entries=tuple(verified), consistency=consistency)
