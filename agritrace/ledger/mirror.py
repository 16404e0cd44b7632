"""Checkpoints kept outside the database: the folder a mirror copies, and a verifier's memory.

Checkpoint folder (``AGRITRACE_CHECKPOINT_DIR``, default ``<instance>/checkpoints``), written
after every signed checkpoint:

* ``<size>``: the signed note of the checkpoint over ``size`` entries (decimal, no padding),
  exactly as the log signed it; written once and never changed;
* ``latest``: a copy of the newest of them; never replaced by a smaller one.

Any static host or ``rsync`` can mirror the folder; a copy taken before an attack keeps the
checkpoints the attacker would need to take back. Each file is one C2SP signed note, the
same format as a verifier's state file (:func:`remember`) and ``--trusted``.

Every write goes to a temporary file in the same folder that is fsynced and renamed into
place, under an exclusive lock on the folder, so a reader never sees half a file and two
writers never move ``latest`` backwards. Raises
:class:`~agritrace.errors.StorageUnavailableError` when the disk refuses,
:class:`~agritrace.errors.InvalidInputError` for a file that cannot be read.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from agritrace import files
from agritrace.errors import AgritraceError, InvalidInputError, StorageUnavailableError
from agritrace.ledger.checkpoint import Checkpoint

__all__ = ["LATEST", "MAX_NOTE_BYTES", "publish", "read_note", "remember"]

#: Name of the file that holds the newest checkpoint in a checkpoint folder.
LATEST = "latest"
#: Largest checkpoint file read (a note with many cosignatures is a few kilobytes).
MAX_NOTE_BYTES = 64 * 1024

_LOCK_FILE = ".lock"


def _write_atomic(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        files.write_atomic(path, data, mode=0o644)
    except OSError as exc:
        raise _unwritable(path, exc) from exc


def _unwritable(path: Path, exc: OSError) -> StorageUnavailableError:
    return StorageUnavailableError(
        f"cannot write the checkpoint file {path}: {exc.strerror or exc}", path=str(path)
    )


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with files.locked(folder / _LOCK_FILE, mode=0o644):
            yield
    except OSError as exc:
        raise _unwritable(folder / _LOCK_FILE, exc) from exc


def _size_of(note: bytes) -> int | None:
    """The tree size a note's checkpoint body states, or None if it is not one."""
    end = note.find(b"\n\n")
    if end < 0:
        return None
    try:
        return Checkpoint.from_body(note[: end + 1]).size
    except AgritraceError:
        return None


def publish(folder: Path, *, size: int, note: str) -> None:
    """Write the signed checkpoint ``note`` over ``size`` entries into ``folder``: its own
    ``<size>`` file (kept if present) and ``latest`` unless that already holds a larger one."""
    data = note.encode("utf-8")
    with _locked(folder):
        own = folder / str(size)
        if not own.exists():
            _write_atomic(own, data)
        latest = folder / LATEST
        try:
            current = _size_of(latest.read_bytes()[:MAX_NOTE_BYTES])
        except FileNotFoundError:
            current = None
        except OSError as exc:
            raise _unwritable(latest, exc) from exc
        if current is None or current <= size:
            _write_atomic(latest, data)


def read_note(path: Path) -> bytes:
    """The checkpoint note in ``path``: a file, or a checkpoint folder (its ``latest``).

    Raises InvalidInputError when it cannot be read or exceeds :data:`MAX_NOTE_BYTES`.
    """
    target = path / LATEST if path.is_dir() else path
    try:
        with target.open("rb") as source:
            data = source.read(MAX_NOTE_BYTES + 1)
    except OSError as exc:
        raise InvalidInputError(
            f"cannot read the checkpoint file {target}: {exc.strerror or exc}", path=str(target)
        ) from exc
    if len(data) > MAX_NOTE_BYTES:
        raise InvalidInputError(
            f"the checkpoint file {target} is larger than {MAX_NOTE_BYTES} bytes",
            path=str(target),
        )
    return data


def remember(path: Path, note: str) -> None:
    """Keep ``note`` as a verifier's trusted checkpoint in the state file ``path``."""
    _write_atomic(path, note.encode("utf-8"))
