"""Stamp throughput without a database: signing, CSV, PDF sheets per QR encoder, verification.

``python -m bench stamps [--sign N] [--pdf N] [--verify N] [--repeat R]`` prints one
Markdown table. Every figure comes from the same run on the same machine, with the raw
Ed25519 speed of libsodium (what the codec signs and verifies with, ``stamps/sodium.py``)
and of ``cryptography`` (the baseline it replaced) beside the codec's, so the ratios show
what the codec itself costs and what libsodium gains. Each fast measurement is the best of
``R`` rounds (other processes on a shared machine only ever slow a round down); the
pure-Python QR encoders run once.

Goals: >= 40,000 codes signed per second on all cores, >= 1,000 stamps per second into PDF
sheets (10,000 stamps), >= 10,000 offline verifications per second on one core.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agritrace.stamps import sodium
from agritrace.stamps.codec import verify_code
from agritrace.stamps.printing import PrintItem, render_pdf, write_csv
from agritrace.stamps.qr import DEFAULT_ENCODER, ENCODERS
from agritrace.stamps.signing import make_print_items
from bench.table import machine, print_table

__all__ = ["HEADERS", "main", "run"]

HEADERS = ("measurement", "n", "seconds", "per second", "goal", "note")
PREFIX = "HTTPS://TRACE.EXAMPLE.VN/S/"
CSV_TARGET = 1_700_000
PER_PAGE = 48  # labels per page in the default layout
_HEAD = b"agritrace-stamp-v1\x00" + PREFIX.encode() + b"\x00\x11\x00"

Row = tuple[str, int, str, str, str, str]


def _best(action: Callable[[], object], repeat: int) -> float:
    """The fastest of ``repeat`` timed runs of ``action``, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def _row(name: str, n: int, seconds: float, goal: float | None = None, note: str = "") -> Row:
    rate = n / seconds
    verdict = "met" if goal is not None and rate >= goal else "MISSED"
    goal_text = "" if goal is None else f">= {goal:,.0f}/s {verdict}"
    return (name, n, f"{seconds:.2f}", f"{rate:,.0f}", goal_text, note)


LIBRARIES = ("libsodium", "cryptography")


def _raw_sign(count: int, library: str) -> float:
    """Seconds to sign ``count`` stamp-shaped messages with one fresh key of ``library``."""
    key = Ed25519PrivateKey.generate()
    sign = sodium.signer(key) if library == "libsodium" else key.sign
    start = time.perf_counter()
    for serial in range(1, count + 1):
        sign(_HEAD + serial.to_bytes(6, "big"))
    return time.perf_counter() - start


def _raw_sign_cores(count: int, cores: int, repeat: int, library: str) -> float:
    """Wall time for ``cores`` processes to sign ``count`` messages between them; the pool
    is started before timing, so only signing is measured."""
    with ProcessPoolExecutor(cores) as pool:
        list(pool.map(_raw_sign, [10] * cores, [library] * cores))
        return _best(
            lambda: list(pool.map(_raw_sign, [count // cores] * cores, [library] * cores)),
            repeat,
        )


def _signing_rows(n_sign: int, key: Ed25519PrivateKey, repeat: int) -> list[Row]:
    cores = os.cpu_count() or 1
    raw_1 = {lib: _best(lambda lib=lib: _raw_sign(n_sign, lib), repeat) for lib in LIBRARIES}
    raw_all = {lib: _raw_sign_cores(n_sign, cores, repeat, lib) for lib in LIBRARIES}

    def consume(workers: int) -> Callable[[], object]:
        def action() -> int:
            items = make_print_items(
                1, n_sign, key_id=0, private_key=key, prefix=PREFIX, workers=workers
            )
            return sum(1 for _ in items)

        return action

    one = _best(consume(1), repeat)
    every = _best(consume(cores), repeat)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "stamps.csv"
        csv_s = _best(
            lambda: write_csv(
                make_print_items(1, n_sign, key_id=0, private_key=key, prefix=PREFIX), out
            ),
            repeat,
        )
        csv_mb = out.stat().st_size / 1e6
    csv_rate = n_sign / csv_s
    sodium_1, sodium_all = raw_1["libsodium"], raw_all["libsodium"]
    openssl_1, openssl_all = raw_1["cryptography"], raw_all["cryptography"]
    return [
        *(_row(f"raw Ed25519 sign ({lib}), 1 core", n_sign, raw_1[lib]) for lib in LIBRARIES),
        *(
            _row(f"raw Ed25519 sign ({lib}), {cores} cores", n_sign, raw_all[lib])
            for lib in LIBRARIES
        ),
        _row(
            "codes signed (serial -> URL + short code), 1 core",
            n_sign,
            one,
            note=f"{sodium_1 / one:.0%} of raw libsodium, {openssl_1 / one:.2f}x raw cryptography",
        ),
        _row(
            f"codes signed (serial -> URL + short code), {cores} cores",
            n_sign,
            every,
            goal=40_000,
            note=f"{sodium_all / every:.0%} of raw libsodium, {openssl_all / every:.2f}x raw "
            f"cryptography, {cores} cores (pool start included)",
        ),
        _row(f"CSV written, {cores} cores (measured)", n_sign, csv_s, note=f"{csv_mb:.1f} MB"),
        (
            f"CSV of {CSV_TARGET:,} codes (extrapolated)",
            CSV_TARGET,
            f"{CSV_TARGET / csv_rate:.1f}",
            f"{csv_rate:,.0f}",
            "",
            f"~{csv_mb * CSV_TARGET / n_sign:.0f} MB, at the measured CSV rate",
        ),
    ]


def _pdf_rows(n_pdf: int, items: Sequence[PrintItem], repeat: int) -> list[Row]:
    cores = os.cpu_count() or 1
    pages = -(-n_pdf // PER_PAGE)
    rows: list[Row] = []
    for encoder in sorted(ENCODERS, key=lambda name: name != DEFAULT_ENCODER):
        out = io.BytesIO()

        def job(encoder: str = encoder, out: io.BytesIO = out) -> None:
            out.seek(0)
            out.truncate()
            render_pdf(items, out, encoder=encoder)

        rounds = repeat if encoder == DEFAULT_ENCODER else 1
        label = f"{encoder} (default)" if encoder == DEFAULT_ENCODER else encoder
        rows.append(
            _row(
                f"PDF sheets, {label}, {cores} cores",
                n_pdf,
                _best(job, rounds),
                goal=1_000,
                note=f"{out.tell() / 1e6:.1f} MB, {pages} pages",
            )
        )
    seconds = _best(lambda: render_pdf(items, io.BytesIO(), workers=1), repeat)
    rows.append(
        _row(f"PDF sheets, {DEFAULT_ENCODER}, 1 core", n_pdf, seconds, note="no process pool")
    )
    return rows


def _verify_rows(n_verify: int, key: Ed25519PrivateKey, repeat: int) -> list[Row]:
    items = make_print_items(1, n_verify, key_id=0, private_key=key, prefix=PREFIX)
    urls = [item.url for item in items]
    keys = {0: key.public_key()}
    public = key.public_key()
    message = _HEAD + (1).to_bytes(6, "big")
    signature = key.sign(message)
    raw_sodium = _best(
        lambda: [sodium.verify(public, signature, message) for _ in range(n_verify)], repeat
    )
    raw_openssl = _best(
        lambda: [public.verify(signature, message) for _ in range(n_verify)], repeat
    )
    codec = _best(lambda: [verify_code(u, prefix=PREFIX, public_keys=keys) for u in urls], repeat)
    return [
        _row("raw Ed25519 verify (libsodium), 1 core", n_verify, raw_sodium),
        _row("raw Ed25519 verify (cryptography), 1 core", n_verify, raw_openssl),
        _row(
            "offline verification (parse + verify URL), 1 core",
            n_verify,
            codec,
            goal=10_000,
            note=f"{raw_sodium / codec:.0%} of raw libsodium, {raw_openssl / codec:.2f}x raw "
            "cryptography",
        ),
    ]


def run(n_sign: int, n_pdf: int, n_verify: int, *, repeat: int = 3) -> list[Row]:
    """Measure everything once; return table rows matching :data:`HEADERS`."""
    key = Ed25519PrivateKey.generate()
    rows = _signing_rows(n_sign, key, repeat)
    items = list(make_print_items(1, n_pdf, key_id=0, private_key=key, prefix=PREFIX))
    rows += _pdf_rows(n_pdf, items, repeat)
    rows += _verify_rows(n_verify, key, repeat)
    return rows


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench stamps", description=__doc__)
    parser.add_argument("--sign", type=int, default=100_000, help="codes to sign (and CSV)")
    parser.add_argument("--pdf", type=int, default=10_000, help="stamps per PDF run")
    parser.add_argument("--verify", type=int, default=20_000, help="codes to verify")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best one counts")
    args = parser.parse_args(list(argv))
    print(f"stamps (pure), {machine()}")
    print()
    print_table(HEADERS, run(args.sign, args.pdf, args.verify, repeat=args.repeat))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
