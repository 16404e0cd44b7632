"""Test helpers for the ledger: entries to append, a signing key, and an operator who
tampers with the stored rows (after dropping the append-only triggers, as someone with
database rights could)."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text
from sqlalchemy.orm import Session

from agritrace.ledger.checkpoint import NoteVerifier
from agritrace.ledger.store import NewEntry

ORIGIN = "trace.example.vn/agritrace/ledger"
TABLES = ("ledger_entry", "ledger_node", "ledger_subject", "ledger_checkpoint")


def entry(n: int, **extra: object) -> NewEntry:
    return NewEntry(body={"type": "test", "n": n, **extra})


def entries(start: int, count: int) -> list[NewEntry]:
    return [entry(n) for n in range(start, start + count)]


def signer() -> tuple[Ed25519PrivateKey, list[NoteVerifier]]:
    key = Ed25519PrivateKey.generate()
    return key, [NoteVerifier.from_public_key(ORIGIN, key.public_key())]


def allow_rewrites(session: Session) -> None:
    """Drop the append-only triggers inside the test's transaction (rolled back after)."""
    if session.get_bind().dialect.name == "sqlite":
        for table in TABLES:
            for action in ("update", "delete"):
                session.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_{action}"))
    else:
        for table in TABLES:
            session.execute(text(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}"))
