"""The checkpoint folder and a verifier's state file (agritrace/ledger/mirror.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agritrace.errors import InvalidInputError
from agritrace.ledger import mirror
from agritrace.ledger.checkpoint import sign_note
from tests.ledger.ledgerutil import signer
from tests.ledger.test_trust import _checkpoint

KEY, VERIFIERS = signer()


def _note(size: int) -> str:
    body = _checkpoint(size).to_body()
    return sign_note(body, name=_checkpoint(size).origin, private_key=KEY).decode("utf-8")


def test_publish_writes_the_size_file_and_latest(tmp_path: Path) -> None:
    folder = tmp_path / "checkpoints"
    mirror.publish(folder, size=5, note=_note(5))
    mirror.publish(folder, size=9, note=_note(9))
    assert (folder / "5").read_text(encoding="utf-8") == _note(5)
    assert (folder / "9").read_text(encoding="utf-8") == _note(9)
    assert mirror.read_note(folder) == _note(9).encode("utf-8")
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == [
        "5",
        "9",
        "latest",
    ]


def test_latest_never_moves_back(tmp_path: Path) -> None:
    mirror.publish(tmp_path, size=9, note=_note(9))
    mirror.publish(tmp_path, size=5, note=_note(5))
    assert mirror.read_note(tmp_path / "latest") == _note(9).encode("utf-8")
    assert (tmp_path / "5").exists()


def test_a_size_file_is_never_rewritten(tmp_path: Path) -> None:
    mirror.publish(tmp_path, size=5, note=_note(5))
    mirror.publish(tmp_path, size=5, note="something else")
    assert (tmp_path / "5").read_text(encoding="utf-8") == _note(5)


def test_remember_keeps_the_note(tmp_path: Path) -> None:
    state = tmp_path / "deep" / "verified-checkpoint"
    mirror.remember(state, _note(7))
    assert mirror.read_note(state) == _note(7).encode("utf-8")


def test_read_note_refuses_missing_and_oversize_files(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="cannot read"):
        mirror.read_note(tmp_path / "none")
    big = tmp_path / "big"
    big.write_bytes(b"x" * (mirror.MAX_NOTE_BYTES + 1))
    with pytest.raises(InvalidInputError, match="larger than"):
        mirror.read_note(big)
