"""The journal: every checkpoint signed with the ring's active key, published, and reused."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from agritrace.errors import NotFoundError
from agritrace.key_seal import UNSAFE_TEST_KDF
from agritrace.keys import KeyPurpose, KeyRing, read_public_keys
from agritrace.ledger import store
from agritrace.ledger.checkpoint import open_note
from agritrace.ledger.mirror import LATEST
from agritrace.trace import journal
from tests.ledger.ledgerutil import ORIGIN, entries

PASSPHRASE = b"journal test passphrase"


@pytest.fixture
def ring(tmp_path: Path) -> KeyRing:
    return KeyRing.create(tmp_path / "keys", PASSPHRASE, kdf=UNSAFE_TEST_KDF)


def test_sign_checkpoint_signs_with_the_ring_and_publishes_it(
    session: Session, ring: KeyRing, tmp_path: Path
) -> None:
    store.append(session, entries(0, 3))
    session.commit()
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    signed = journal.sign_checkpoint(session, origin=ORIGIN, ring=ring, publish_to=folder)
    assert signed.size == store.head(session).size
    verifiers = journal.verifiers(ORIGIN, read_public_keys(tmp_path / "keys"))
    _, signers = open_note(signed.note.encode(), verifiers=verifiers)
    assert signers == [ORIGIN]
    assert (folder / str(signed.size)).read_text() == signed.note
    assert (folder / LATEST).read_text() == signed.note


def test_checkpoint_covering_reuses_a_covering_one_and_signs_only_when_needed(
    session: Session, ring: KeyRing
) -> None:
    store.append(session, entries(100, 2))
    session.commit()
    size = store.head(session).size
    first = journal.checkpoint_covering(session, size, origin=ORIGIN, ring=ring)
    again = journal.checkpoint_covering(session, size, origin=ORIGIN, ring=None)
    assert (again.size, again.note) == (first.size, first.note)
    store.append(session, entries(200, 1))
    session.commit()
    with pytest.raises(NotFoundError):
        journal.checkpoint_covering(session, size + 1, origin=ORIGIN, ring=None)
    grown = journal.checkpoint_covering(session, size + 1, origin=ORIGIN, ring=ring)
    assert grown.size == size + 1


def test_verifiers_are_the_checkpoint_keys_only(ring: KeyRing, tmp_path: Path) -> None:
    keys = read_public_keys(tmp_path / "keys")
    found = journal.verifiers(ORIGIN, keys)
    checkpoint_keys = [k for k in keys if k.purpose is KeyPurpose.CHECKPOINT]
    assert len(found) == len(checkpoint_keys) >= 1
    assert {v.public_key for v in found} == {k.public_raw for k in checkpoint_keys}
