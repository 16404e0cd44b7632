"""The inspector's views of the ledger (trace/overview.py): proofs checked step by step."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from agritrace.errors import NotFoundError
from agritrace.ledger import store
from agritrace.ledger.checkpoint import NoteVerifier
from agritrace.trace import overview
from tests.ledger.ledgerutil import ORIGIN, entries, signer


def _ledger(session: Session) -> tuple[int, int, list[NoteVerifier]]:
    key, verifiers = signer()
    store.append(session, entries(0, 5))
    session.commit()
    old = store.sign_checkpoint(session, origin=ORIGIN, private_key=key).size
    store.append(session, entries(5, 6))
    session.commit()
    new = store.sign_checkpoint(session, origin=ORIGIN, private_key=key).size
    return old, new, verifiers


def test_inclusion_check_walks_to_the_signed_root(session: Session) -> None:
    old, new, verifiers = _ledger(session)
    for index in (0, old - 1, new - 1):
        check = overview.check_inclusion(session, index=index, size=new, verifiers=verifiers)
        assert check.ok, check.error
        assert check.signers == (ORIGIN,)
        assert check.origin == ORIGIN
        last = check.steps[-1].result if check.steps else check.leaf_hash
        assert last == check.root


def test_inclusion_check_with_unknown_keys_fails_with_a_reason(session: Session) -> None:
    _, new, _ = _ledger(session)
    _, strangers = signer()
    check = overview.check_inclusion(session, index=1, size=new, verifiers=strangers)
    assert not check.ok
    assert check.error
    assert check.signers == ()


def test_consistency_check_between_two_signed_checkpoints(session: Session) -> None:
    old, new, verifiers = _ledger(session)
    check = overview.check_consistency(session, old=old, new=new, verifiers=verifiers)
    assert check.ok, check.error
    assert (check.old_size, check.new_size) == (old, new)
    assert check.proof


def test_check_entry_has_no_check_until_a_checkpoint_covers_it(session: Session) -> None:
    _, new, verifiers = _ledger(session)
    store.append(session, entries(50, 1))
    session.commit()
    entry, check = overview.check_entry(session, new, verifiers=verifiers)
    assert entry.idx == new
    assert check is None
    _, covered = overview.check_entry(session, 0, verifiers=verifiers)
    assert covered is not None
    assert covered.ok
    with pytest.raises(NotFoundError):
        overview.check_entry(session, new + 10, verifiers=verifiers)


def test_entry_pages_and_checkpoint_sizes(session: Session) -> None:
    old, new, _ = _ledger(session)
    page = overview.entries_page(session, before=None, limit=3)
    assert [e.idx for e in page] == [new - 1, new - 2, new - 3]
    assert [e.idx for e in overview.entries_page(session, before=2, limit=5)] == [1, 0]
    assert overview.checkpoint_sizes(session)[:2] in ([new, old], [old, new])
