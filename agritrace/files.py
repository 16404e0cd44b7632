"""Durable file writes shared by the key ring and the checkpoint mirror.

:func:`write_atomic` replaces a file all at once (a temporary file in the same folder,
fsynced, renamed over the target, then the folder fsynced), so a reader sees the old
content or the new, never a mix; :func:`locked` holds an exclusive ``flock`` on a lock file
for the duration of a write. Both raise ``OSError`` and leave nothing half-written: each
caller turns that into its own error, naming what it was writing. No database, no web.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["locked", "write_atomic"]


def write_atomic(path: Path, data: bytes, *, mode: int) -> None:
    """Write ``data`` to ``path`` with permissions ``mode``, all at once and durably.

    Raises OSError if the disk refuses; ``path`` then still holds its previous content (or
    nothing), and no temporary file is left behind.
    """
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), mode)
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(path)
        folder_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder_fd)
        finally:
            os.close(folder_fd)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def locked(lock_file: Path, *, mode: int) -> Iterator[None]:
    """An exclusive lock on ``lock_file`` (created with ``mode`` if missing) while the
    block runs. Raises OSError if the lock file cannot be opened."""
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, mode)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
