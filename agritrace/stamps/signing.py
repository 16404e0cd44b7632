"""Signing serial ranges into print items: the step before printing, kept apart from it.

No database and no web. :func:`make_print_items` signs serials ``[first, first + count)``
with a stamp key and yields :class:`~agritrace.stamps.printing.PrintItem` s in serial order;
:mod:`agritrace.stamps.printing` only ever receives codes signed here (or by
:meth:`~agritrace.stamps.printing.PrintItem.from_stamp`), never a key.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agritrace.stamps.codec import short_code, sign_serials
from agritrace.stamps.printing import PrintItem, in_order, processes

__all__ = ["PARALLEL_MIN_SERIALS", "make_print_items"]

#: Ranges longer than this are signed by a process pool (below it, starting one costs more).
PARALLEL_MIN_SERIALS = 2000
_SIGN_CHUNK = 4000  # serials per task when signing in parallel

_worker_signer: tuple[int, Ed25519PrivateKey, str] | None = None


def _init_signer(key_id: int, raw_key: bytes, prefix: str) -> None:
    global _worker_signer  # one signer per worker process, set once by the pool
    _worker_signer = (key_id, Ed25519PrivateKey.from_private_bytes(raw_key), prefix)


def _sign_chunk(first: int, count: int) -> list[tuple[int, str, str]]:
    if _worker_signer is None:  # pragma: no cover - the pool initializer always runs first
        raise RuntimeError("signing worker not initialised")
    key_id, key, prefix = _worker_signer
    stamps = sign_serials(first, count, key_id=key_id, private_key=key, prefix=prefix)
    return [(s.serial, s.to_url(prefix), short_code(s.serial)) for s in stamps]


def make_print_items(
    first: int,
    count: int,
    *,
    key_id: int,
    private_key: Ed25519PrivateKey,
    prefix: str,
    workers: int | None = None,
) -> Iterator[PrintItem]:
    """Sign serials ``[first, first + count)`` and yield their print items in serial order.

    Ranges above :data:`PARALLEL_MIN_SERIALS` are signed by ``workers`` processes (default:
    one per core) in chunks, a bounded number in flight, so memory stays flat whatever the
    count. The private key reaches the workers only through the pool's initializer.
    Arguments are checked at once (InvalidInputError), before anything is signed.
    """
    stamps = sign_serials(first, count, key_id=key_id, private_key=private_key, prefix=prefix)
    procs = processes(workers)
    if count <= PARALLEL_MIN_SERIALS or procs < 2:
        return (PrintItem.from_stamp(stamp, prefix) for stamp in stamps)
    raw = private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    end = first + count
    jobs = (
        (None, (start, min(_SIGN_CHUNK, end - start))) for start in range(first, end, _SIGN_CHUNK)
    )
    return _signed_in_pool(procs, (key_id, raw, prefix), jobs)


def _signed_in_pool(
    procs: int, initargs: tuple[int, bytes, str], jobs: Iterable[tuple[None, tuple[int, int]]]
) -> Iterator[PrintItem]:
    with ProcessPoolExecutor(procs, initializer=_init_signer, initargs=initargs) as pool:
        for _, rows in in_order(pool, _sign_chunk, jobs, ahead=2 * procs):
            for serial, url, label in rows:
                yield PrintItem(serial, url, label)
