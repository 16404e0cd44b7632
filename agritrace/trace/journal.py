"""The ledger as the rest of agritrace uses it: checkpoints signed with the ring's key,
verifiers for audits and bundles, and proof bundles for entries or subjects.

Signing needs the opened :class:`~agritrace.keys.KeyRing` (the passphrase); verifying needs
only the public keys, so an inspector can audit without any secret.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from agritrace.errors import InvalidInputError, NotFoundError
from agritrace.keys import KeyInfo, KeyPurpose, KeyRing
from agritrace.ledger import mirror, store
from agritrace.ledger.bundle import BundleConsistency, BundleEntry, make_bundle
from agritrace.ledger.checkpoint import NoteVerifier
from agritrace.ledger.store import LedgerCheckpoint
from agritrace.trace import disclosure

__all__ = [
    "ProofRecord",
    "bundle",
    "checkpoint_covering",
    "proof_record",
    "sign_checkpoint",
    "verifiers",
]


def verifiers(origin: str, keys: Iterable[KeyInfo]) -> list[NoteVerifier]:
    """Note verifiers for every checkpoint key, active or retired, under the log's origin."""
    return [
        NoteVerifier(name=origin, public_key=info.public_raw)
        for info in keys
        if info.purpose is KeyPurpose.CHECKPOINT
    ]


def sign_checkpoint(
    session: Session, *, origin: str, ring: KeyRing, publish_to: Path | None
) -> LedgerCheckpoint:
    """Sign (or reuse) the checkpoint over the committed head with the active ledger key,
    then write it to the checkpoint folder ``publish_to`` (:func:`mirror.publish`).

    Every checkpoint agritrace signs passes here, so the folder holds each of them.
    ``publish_to`` is None only where no copy is wanted (a throwaway database).
    """
    _, private_key = ring.active_signer(KeyPurpose.CHECKPOINT)
    signed = store.sign_checkpoint(session, origin=origin, private_key=private_key)
    if publish_to is not None:
        mirror.publish(publish_to, size=signed.size, note=signed.note)
    return signed


def checkpoint_covering(
    session: Session,
    size: int,
    *,
    origin: str,
    ring: KeyRing | None,
    publish_to: Path | None = None,
) -> LedgerCheckpoint:
    """The latest checkpoint if it covers ``size`` entries; otherwise sign a new one (and
    publish it to ``publish_to``, as :func:`sign_checkpoint` does).

    Raises NotFoundError when none covers and no ring is given to sign one.
    """
    latest = store.latest_checkpoint(session)
    if latest is not None and latest.size >= size:
        return latest
    if ring is None:
        raise NotFoundError(key="ledger.not_covered", index=size - 1)
    return sign_checkpoint(session, origin=origin, ring=ring, publish_to=publish_to)


def bundle(
    session: Session,
    indices: Sequence[int],
    *,
    origin: str,
    ring: KeyRing | None,
    publish_to: Path | None = None,
    consistent_with: int | None = None,
    reveal: bool = False,
) -> dict[str, Any]:
    """A proof bundle of ``indices`` over a checkpoint that covers all of them; with
    ``consistent_with`` (a tree size), also the consistency proof from that size to the
    bundle's checkpoint (see :mod:`agritrace.ledger.bundle`); with ``reveal`` (only for a
    reader allowed to see them) also the openings of their private fields, in a separate
    ``openings`` section (docs/adr/0013-what-the-ledger-reveals.md)."""
    if not indices:
        raise InvalidInputError(key="ledger.bundle_empty")
    wanted = sorted(set(indices))
    for index in wanted:
        try:
            store.get_entry(session, index)
        except NotFoundError as exc:  # said again with a message key, for pages
            raise NotFoundError(key="ledger.no_entry", index=index) from exc
    checkpoint = checkpoint_covering(
        session,
        max(wanted[-1] + 1, consistent_with or 0),
        origin=origin,
        ring=ring,
        publish_to=publish_to,
    )
    entries = [
        BundleEntry(
            index=index,
            content=store.get_entry(session, index).content,
            proof=tuple(store.inclusion_proof(session, index, checkpoint.size)),
        )
        for index in wanted
    ]
    consistency = None
    if consistent_with is not None:
        if not 0 <= consistent_with <= checkpoint.size:
            raise InvalidInputError(
                key="ledger.consistency_sizes", old=consistent_with, new=checkpoint.size
            )
        proof: list[bytes] = []
        if 0 < consistent_with < checkpoint.size:
            proof = store.consistency_proof(session, consistent_with, checkpoint.size)
        consistency = BundleConsistency(size=consistent_with, proof=tuple(proof))
    document = make_bundle(checkpoint.note, entries, consistency=consistency)
    if reveal:
        document["openings"] = disclosure.bundle_openings(session, wanted)
    return document


@dataclass(frozen=True, slots=True)
class ProofRecord:
    index: int
    size: int
    leaf_hash: bytes
    proof: tuple[bytes, ...]
    checkpoint_note: str

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "tree_size": self.size,
            "leaf_hash": base64.b64encode(self.leaf_hash).decode("ascii"),
            "inclusion_proof": [base64.b64encode(h).decode("ascii") for h in self.proof],
            "checkpoint": self.checkpoint_note,
        }


def proof_record(
    session: Session,
    index: int,
    *,
    origin: str,
    ring: KeyRing | None,
    publish_to: Path | None = None,
) -> ProofRecord:
    """Entry ``index``'s inclusion proof against a signed checkpoint that covers it."""
    entry = store.get_entry(session, index)
    checkpoint = checkpoint_covering(
        session, index + 1, origin=origin, ring=ring, publish_to=publish_to
    )
    return ProofRecord(
        index=index,
        size=checkpoint.size,
        leaf_hash=entry.leaf_hash,
        proof=tuple(store.inclusion_proof(session, index, checkpoint.size)),
        checkpoint_note=checkpoint.note,
    )
