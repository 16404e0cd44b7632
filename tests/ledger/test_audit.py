"""The audit passes on an intact ledger and names the first bad index after any tampering."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from agritrace.ledger import audit as audit_module
from agritrace.ledger import merkle, store
from agritrace.ledger.audit import PROBLEMS, LedgerCorruptError, audit
from agritrace.ledger.checkpoint import NoteVerifier
from agritrace.ledger.store import LedgerEntry, LedgerNode
from tests.ledger.ledgerutil import ORIGIN, allow_rewrites, entries, signer

SIZE = 100


@pytest.fixture(
    autouse=True, params=[audit_module.AUDIT_BLOCK_LEVEL, 2], ids=["one-block", "blocks-of-4"]
)
def block_level(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Every verdict holds whether the ledger is checked as one block or as 25."""
    monkeypatch.setattr(audit_module, "AUDIT_BLOCK_LEVEL", request.param)
    return int(request.param)


@pytest.fixture
def ledger(session: Session) -> tuple[Session, list[NoteVerifier]]:
    """100 entries with checkpoints at 40, 70 and 100."""
    key, verifiers = signer()
    store.append(session, entries(0, 40))
    store.sign_checkpoint(session, origin=ORIGIN, private_key=key)
    store.append(session, entries(40, 30))
    store.sign_checkpoint(session, origin=ORIGIN, private_key=key)
    store.append(session, entries(70, 30))
    store.sign_checkpoint(session, origin=ORIGIN, private_key=key)
    allow_rewrites(session)
    return session, verifiers


def _fails_at(
    session: Session, verifiers: list[NoteVerifier], index: int, problem: str
) -> LedgerCorruptError:
    session.expire_all()
    with pytest.raises(LedgerCorruptError) as caught:
        audit(session, verifiers=verifiers)
    assert caught.value.facts["index"] == index, str(caught.value)
    assert caught.value.facts["problem"] == problem, str(caught.value)
    assert problem in PROBLEMS
    assert f"#{index}" in str(caught.value)
    return caught.value


def test_intact_ledger_passes(ledger: tuple[Session, list[NoteVerifier]]) -> None:
    session, verifiers = ledger
    seen: list[int] = []
    report = audit(session, verifiers=verifiers, progress=seen.append)
    assert report.size == SIZE
    assert report.checkpoints == 3
    assert report.latest_checkpoint_size == SIZE
    assert report.root_hash == store.head(session).root_hash
    assert seen[-1] == SIZE


def test_empty_ledger_passes(session: Session) -> None:
    report = audit(session, verifiers=signer()[1])
    assert (report.size, report.root_hash) == (0, merkle.EMPTY_ROOT)


@pytest.mark.parametrize("index", [0, 1, 39, 40, 63, 99])
def test_one_changed_byte_is_found(ledger: tuple[Session, list[NoteVerifier]], index: int) -> None:
    session, verifiers = ledger
    content = session.scalar(select(LedgerEntry.content).where(LedgerEntry.idx == index))
    assert content is not None
    forged = content.replace(b'"n":', b'"m":')
    session.execute(
        text("UPDATE ledger_entry SET content = :c WHERE idx = :i"), {"c": forged, "i": index}
    )
    _fails_at(session, verifiers, index, "leaf")


@pytest.mark.parametrize("index", [0, 17, 64, 99])
def test_deleted_row_is_found(ledger: tuple[Session, list[NoteVerifier]], index: int) -> None:
    session, verifiers = ledger
    session.execute(text("DELETE FROM ledger_entry WHERE idx = :i"), {"i": index})
    problem = "size" if index == SIZE - 1 else "missing"
    _fails_at(session, verifiers, index, problem)


@pytest.mark.parametrize(("first", "second"), [(0, 1), (5, 90), (41, 42)])
def test_swapped_rows_are_found(
    ledger: tuple[Session, list[NoteVerifier]], first: int, second: int
) -> None:
    session, verifiers = ledger
    # Swap whole rows (content, leaf and chain hash) through a free index.
    session.execute(text("UPDATE ledger_entry SET idx = -1 WHERE idx = :a"), {"a": first})
    session.execute(
        text("UPDATE ledger_entry SET idx = :a WHERE idx = :b"), {"a": first, "b": second}
    )
    session.execute(text("UPDATE ledger_entry SET idx = :b WHERE idx = -1"), {"b": second})
    _fails_at(session, verifiers, first, "chain")


@pytest.mark.parametrize(("level", "node_index"), [(1, 0), (3, 5), (6, 0), (2, 24)])
def test_altered_node_is_found(
    ledger: tuple[Session, list[NoteVerifier]], level: int, node_index: int
) -> None:
    session, verifiers = ledger
    session.execute(
        text("UPDATE ledger_node SET hash = :h WHERE level = :l AND idx = :i"),
        {"h": bytes(32), "l": level, "i": node_index},
    )
    _fails_at(session, verifiers, node_index << level, "node")


def test_extra_node_is_found(ledger: tuple[Session, list[NoteVerifier]]) -> None:
    session, verifiers = ledger
    session.add(LedgerNode(level=9, idx=0, hash=bytes(32)))
    session.flush()
    _fails_at(session, verifiers, SIZE, "extra-nodes")


def test_altered_checkpoint_signature_is_found(
    ledger: tuple[Session, list[NoteVerifier]],
) -> None:
    session, verifiers = ledger
    note = session.scalar(text("SELECT note FROM ledger_checkpoint WHERE size = 70"))
    body, _, signature = note.partition("\n\n")
    forged = body.replace("\n70\n", "\n71\n") + "\n\n" + signature
    session.execute(text("UPDATE ledger_checkpoint SET note = :n WHERE size = 70"), {"n": forged})
    _fails_at(session, verifiers, 40, "checkpoint-signature")


def test_altered_checkpoint_root_column_is_found(
    ledger: tuple[Session, list[NoteVerifier]],
) -> None:
    session, verifiers = ledger
    session.execute(
        text("UPDATE ledger_checkpoint SET root_hash = :r WHERE size = 40"), {"r": bytes(32)}
    )
    _fails_at(session, verifiers, 0, "checkpoint-row")


def test_checkpoint_from_an_unknown_key_is_refused(
    ledger: tuple[Session, list[NoteVerifier]],
) -> None:
    session, _ = ledger
    _fails_at(session, signer()[1], 0, "checkpoint-signature")


def test_consistent_rewrite_is_caught_by_the_signed_checkpoint(
    ledger: tuple[Session, list[NoteVerifier]],
) -> None:
    """An operator rewrites entry 50 and recomputes every hash, node and the head: only the
    signed checkpoints can tell, and the audit names the range the checkpoint vouched for."""
    session, verifiers = ledger
    rows = list(session.execute(select(LedgerEntry.idx, LedgerEntry.content).order_by("idx")))
    contents = [c for _, c in rows]
    contents[50] = contents[50].replace(b'"n":50', b'"n":5000')
    leaves = [merkle.leaf_hash(c) for c in contents]
    chain = bytes(32)
    session.execute(text("DELETE FROM ledger_node"))
    for index, (content, leaf) in enumerate(zip(contents, leaves, strict=True)):
        chain = hashlib.sha256(chain + leaf).digest()
        session.execute(
            text(
                "UPDATE ledger_entry SET content = :c, leaf_hash = :l, chain_hash = :h"
                " WHERE idx = :i"
            ),
            {"c": content, "l": leaf, "h": chain, "i": index},
        )
    grown = merkle.append_leaves(0, [], leaves)
    for (level, idx), digest in grown.nodes:
        if level > 0:
            session.add(LedgerNode(level=level, idx=idx, hash=digest))
    session.execute(
        text("UPDATE ledger_head SET root_hash = :r, chain_hash = :c"),
        {"r": grown.root, "c": chain},
    )
    session.flush()
    error = _fails_at(session, verifiers, 40, "checkpoint-root")
    assert "#40..#69" in str(error)


def test_tampered_head_is_found(ledger: tuple[Session, list[NoteVerifier]]) -> None:
    session, verifiers = ledger
    session.execute(text("UPDATE ledger_head SET chain_hash = :c"), {"c": bytes(32)})
    _fails_at(session, verifiers, SIZE - 1, "head")


@pytest.mark.parametrize(
    ("column", "index", "problem"),
    [("content", 30, "leaf"), ("leaf_hash", 30, "leaf"), ("chain_hash", 30, "chain")],
)
def test_forged_value_of_another_type_is_found_or_refused(
    ledger: tuple[Session, list[NoteVerifier]], column: str, index: int, problem: str
) -> None:
    """SQLite keeps a value of any type in any column: a forged integer is a finding like any
    other, not a crash. PostgreSQL refuses to store it at all."""
    session, verifiers = ledger
    forge = text(f"UPDATE ledger_entry SET {column} = 12345 WHERE idx = :i")  # noqa: S608 - fixed names
    if session.get_bind().dialect.name != "sqlite":
        with pytest.raises(DBAPIError, match="bytea"):
            session.execute(forge, {"i": index})
        return
    session.execute(forge, {"i": index})
    error = _fails_at(session, verifiers, index, problem)
    assert "is not a byte string" in str(error) or "a value of type int" in str(error)


def test_forged_node_of_another_type_is_found_or_refused(
    ledger: tuple[Session, list[NoteVerifier]],
) -> None:
    session, verifiers = ledger
    forge = text("UPDATE ledger_node SET hash = 12345 WHERE level = 1 AND idx = 20")
    if session.get_bind().dialect.name != "sqlite":
        with pytest.raises(DBAPIError, match="bytea"):
            session.execute(forge)
        return
    session.execute(forge)
    error = _fails_at(session, verifiers, 40, "node")
    assert "is a value of type int" in str(error)
