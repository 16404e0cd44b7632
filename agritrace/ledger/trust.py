"""What a verifier remembers: a trusted checkpoint, and the rule that every later view of the
ledger must extend it.

A verifier that remembers the newest signed checkpoint it has seen can tell a rollback (a tree
smaller than the one it saw) and a fork (a tree of another history: same size with another
root, or a larger tree whose RFC 9162 consistency proof does not verify) from honest growth.
This module holds that rule and nothing else: it takes checkpoints and proof hashes as values
and raises; reading the proof from a database or a bundle is the caller's business.

A trusted checkpoint travels as a C2SP signed note (the exact text the log signed), so the
file a verifier keeps, the files a mirror holds and the note in a proof bundle are one format.
:func:`open_trusted` opens one: the signature must verify under a known ledger key and the
origin must be the expected log's.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from agritrace.errors import AgritraceError, InvalidInputError, VerificationError
from agritrace.ledger import merkle
from agritrace.ledger.checkpoint import Checkpoint, NoteVerifier, open_note

__all__ = [
    "ROLLBACK_PROBLEMS",
    "RollbackError",
    "check_extends",
    "needs_proof",
    "open_trusted",
]

#: The ``problem`` fact of :class:`RollbackError`: the tree shrank, or its history differs.
ROLLBACK_PROBLEMS = ("smaller", "fork")


class RollbackError(VerificationError):
    """The ledger seen now does not extend a checkpoint seen before. Facts: ``problem`` (one
    of :data:`ROLLBACK_PROBLEMS`), ``trusted_size``, ``trusted_root``, ``current_size``,
    ``current_root`` (roots in base64, as checkpoints write them)."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def open_trusted(
    note: bytes, *, verifiers: Sequence[NoteVerifier], origin: str | None = None
) -> Checkpoint:
    """Open a remembered checkpoint: a C2SP signed note from the ledger's key.

    Raises :class:`~agritrace.errors.InvalidInputError` when ``note`` is not a checkpoint
    note signed by one of ``verifiers`` or names another ``origin``.
    """
    try:
        body, _signers = open_note(note, verifiers=tuple(verifiers))
        checkpoint = Checkpoint.from_body(body)
    except AgritraceError as exc:
        raise InvalidInputError(
            f"the trusted checkpoint is not a signed ledger checkpoint: {exc}"
        ) from exc
    if origin is not None and checkpoint.origin != origin:
        raise InvalidInputError(
            f"the trusted checkpoint is of the log {checkpoint.origin!r}, not {origin!r}"
        )
    return checkpoint


def needs_proof(trusted: Checkpoint, current: Checkpoint) -> bool:
    """Whether :func:`check_extends` needs a consistency proof (sizes 0 < trusted < current)."""
    return 0 < trusted.size < current.size


def check_extends(trusted: Checkpoint, current: Checkpoint, proof: Sequence[bytes] = ()) -> None:
    """Check that ``current`` extends ``trusted``: RFC 9162 §2.1.4.2 with ``proof`` from
    ``trusted.size`` to ``current.size``.

    The empty tree is extended by every tree; equal sizes need equal roots and no proof.
    Raises :class:`RollbackError` (``problem`` ``smaller`` or ``fork``) otherwise.
    """
    facts = {
        "trusted_size": trusted.size,
        "trusted_root": _b64(trusted.root_hash),
        "current_size": current.size,
        "current_root": _b64(current.root_hash),
    }
    if current.size < trusted.size:
        raise RollbackError(
            f"the ledger was rolled back: it has {current.size} entries (root "
            f"{facts['current_root']}), but a checkpoint of {trusted.size} entries (root "
            f"{facts['trusted_root']}) was verified before",
            problem="smaller",
            **facts,
        )
    if trusted.size == 0:
        return
    try:
        merkle.verify_consistency(
            size1=trusted.size,
            size2=current.size,
            proof=list(proof),
            root1=trusted.root_hash,
            root2=current.root_hash,
        )
    except merkle.ConsistencyProofError as exc:
        raise RollbackError(
            f"the ledger forked: at {current.size} entries (root {facts['current_root']}) it "
            f"does not extend the checkpoint of {trusted.size} entries (root "
            f"{facts['trusted_root']}) verified before ({exc.facts.get('reason')})",
            problem="fork",
            **facts,
        ) from exc
