"""Ledger benchmark: ``python -m bench ledger [--entries N] [--pg-url URL] [--quick]``.

Measures the persistent ledger (``agritrace.ledger.store``) on SQLite (a file in a temporary
directory) and on PostgreSQL (a throw-away schema in the database at ``--pg-url``), and runs
pymerkle 7 on the same entries in the same run as the baseline:

- batched appends (one transaction per batch) while building an N-entry log;
- single-entry commits (one transaction per entry) on top of that log;
- a full :func:`agritrace.ledger.audit.audit` of the N-entry log (with one signed checkpoint);
- inclusion proofs through :func:`store.inclusion_proof` for the same random indices;
- offline verification of a one-entry proof bundle over a signed checkpoint.

Like is compared with like: our SQLite store with pymerkle's ``SqliteTree`` (both one SQLite
file), our pure tree (``merkle.append_leaves`` plus in-memory node lists) with pymerkle's
``InmemoryTree``. PostgreSQL has no pymerkle counterpart; its ratios are against
``SqliteTree`` and say so. Our store's appends also canonicalize (RFC 8785), chain, check
idempotency and store interior nodes, which pymerkle's trees do not. ``SqliteTree`` is
measured twice: ``append_entries`` alone (it stores two columns and computes no tree), and
``append_entries`` followed by ``get_root()`` after every batch (the tree head a log must
publish after each batch, which our append computes and stores in the same transaction).

Prints one table and the machine line on stdout, progress on stderr. Exit status 0 when the
measurements ran (met or missed goals alike), 1 when a cross-check of roots or proofs fails.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pymerkle import InmemoryTree, SqliteTree
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from agritrace.db import make_engine, make_sessionmaker
from agritrace.errors import AgritraceError
from agritrace.ledger import merkle, store
from agritrace.ledger.audit import audit
from agritrace.ledger.bundle import BundleEntry, make_bundle, verify_bundle
from agritrace.ledger.canonical import to_canonical_bytes
from agritrace.ledger.checkpoint import NoteVerifier
from agritrace.ledger.store import NewEntry
from agritrace.migrations import upgrade
from bench.table import machine, print_table

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/agritrace_bench"
ORIGIN = "bench.agritrace.example/ledger"
SEED = 20261125

FULL_ENTRIES = 1_000_000
BATCH_ENTRIES = 1_000
PROOFS = 2_000
SINGLES = 1_000
BUNDLES = 5_000
QUICK = {"entries": 20_000, "proofs": 200, "singles": 100, "bundles": 1_000}

APPEND_GOAL_PER_S = 10_000
SINGLE_GOAL_PER_S = 500
AUDIT_GOAL_S_PER_MILLION = 5.0
PROOF_GOAL_MS = 2.0
BUNDLE_GOAL_PER_S = 10_000
RATIO_GOAL = 5.0

HEADERS = ("metric", "backend", "measured", "goal", "met?", "speed vs pymerkle (goal >= 5x)")


class CrossCheckError(Exception):
    """Two implementations disagree on a root or a proof: the figures cannot be trusted."""


# --- workload ---------------------------------------------------------------------------------


def event_body(n: int) -> dict[str, Any]:
    """An EPCIS-like shipping event, about 250 bytes as canonical JSON, distinct for every n."""
    return {
        "type": "epcis.ObjectEvent",
        "eventID": f"urn:uuid:6f1c{n:08x}-2b7e-4c1a-9d3e-5a{n:010x}",
        "eventTime": f"2026-11-20T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}.000Z",
        "bizStep": "shipping",
        "disposition": "in_transit",
        "epcList": [f"urn:epc:id:sgtin:8938505.01234.{n}"],
        "lot": f"HD-VAI-01/L{n % 997}",
    }


def _new_entries(start: int, count: int) -> list[NewEntry]:
    return [NewEntry(body=event_body(n)) for n in range(start, start + count)]


# --- reporting helpers ------------------------------------------------------------------------


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class _Progress:
    """Prints ``label done/total (rate)`` to stderr about every tenth of the way."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total = label, total
        self.step = max(total // 10, 1)
        self.next = self.step
        self.started = time.perf_counter()

    def __call__(self, done: int) -> None:
        if done < self.next and done < self.total:
            return
        self.next = (done // self.step + 1) * self.step
        elapsed = time.perf_counter() - self.started
        rate = f", {done / elapsed:,.0f}/s" if elapsed > 0 else ""
        _say(f"  {self.label}: {done:,}/{self.total:,} ({elapsed:.1f} s{rate})")


def _per_s(value: float) -> str:
    return f"{value:,.0f}/s"


def _ms(value: float) -> str:
    return f"{value:.2f} ms"


def _yes(met: bool) -> str:
    return "yes" if met else "no"


def _ratio(ours: float, theirs: float, against: str) -> str:
    """Speed ratio (higher is better for us); ``ours``/``theirs`` are rates, not times."""
    ratio = ours / theirs
    return f"{ratio:,.2f}x vs {against}: {_yes(ratio >= RATIO_GOAL)}"


def _processes(count: int) -> str:
    return "1 process" if count == 1 else f"{count} processes"


def _timings(samples: Sequence[float]) -> tuple[float, float]:
    """Median and 99th percentile, in ms, of samples in seconds."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000


# --- our persistent store ---------------------------------------------------------------------


@dataclass
class StoreFigures:
    append_per_s: float = 0.0
    single_per_s: float = 0.0
    audit_s: float = 0.0
    audit_workers: int = 1
    proof_first_ms: float = 0.0
    proof_median_ms: float = 0.0
    proof_p99_ms: float = 0.0
    root: bytes = b""
    bundle: bytes = b""
    verifiers: list[NoteVerifier] = field(default_factory=list)


def _measure_store(
    name: str, url: str, *, entries: int, batch: int, indices: Sequence[int], singles: int
) -> StoreFigures:
    figures = StoreFigures()
    engine = make_engine(url)
    try:
        upgrade(engine)
        sessions = make_sessionmaker(engine)

        _say(f"[{name}] batched appends: {entries:,} entries, {batch:,} per transaction")
        progress = _Progress(f"[{name}] append", entries)
        busy = 0.0
        for start in range(0, entries, batch):
            chunk = _new_entries(start, min(batch, entries - start))
            began = time.perf_counter()
            with sessions() as session:
                store.append(session, chunk)
                session.commit()
            busy += time.perf_counter() - began
            progress(start + len(chunk))
        figures.append_per_s = entries / busy

        if engine.dialect.name == "postgresql":
            # Production servers run autovacuum, which keeps planner statistics; a freshly
            # filled bench schema has none until analyzed.
            with engine.begin() as conn:
                conn.execute(text("ANALYZE"))

        key = Ed25519PrivateKey.generate()
        figures.verifiers = [NoteVerifier.from_public_key(ORIGIN, key.public_key())]
        with sessions() as session:
            checkpoint = store.sign_checkpoint(session, origin=ORIGIN, private_key=key)

        _say(f"[{name}] full audit of {entries:,} entries")
        gc.collect()
        with sessions() as session:
            began = time.perf_counter()
            report = audit(
                session,
                verifiers=figures.verifiers,
                progress=_Progress(f"[{name}] audit", entries),
            )
            figures.audit_s = time.perf_counter() - began
        figures.audit_workers = report.workers
        if report.size != entries or report.checkpoints != 1:
            raise CrossCheckError(f"[{name}] audit saw {report.size} entries")
        figures.root = report.root_hash

        _say(f"[{name}] {len(indices):,} inclusion proofs at size {entries:,}")
        samples: list[float] = []
        proofs: list[list[bytes]] = []
        with sessions() as session:
            for index in indices:
                began = time.perf_counter()
                proof = store.inclusion_proof(session, index, entries)
                samples.append(time.perf_counter() - began)
                proofs.append(proof)
        figures.proof_first_ms = samples[0] * 1000
        figures.proof_median_ms, figures.proof_p99_ms = _timings(samples)
        _check_proofs(name, indices, proofs, entries, figures.root)

        with sessions() as session:
            index = indices[0]
            content = store.get_entry(session, index).content
            document = make_bundle(
                checkpoint.note,
                [BundleEntry(index=index, content=content, proof=tuple(proofs[0]))],
            )
        figures.bundle = json.dumps(document).encode("utf-8")

        _say(f"[{name}] {singles:,} single-entry commits on top of the log")
        began = time.perf_counter()
        for n in range(entries, entries + singles):
            with sessions() as session:
                store.append(session, [NewEntry(body=event_body(n))])
                session.commit()
        figures.single_per_s = singles / (time.perf_counter() - began)
    finally:
        engine.dispose()
    return figures


def _check_proofs(
    name: str, indices: Sequence[int], proofs: Sequence[list[bytes]], size: int, root: bytes
) -> None:
    for index, proof in zip(indices, proofs, strict=True):
        leaf = merkle.leaf_hash(to_canonical_bytes(event_body(index)))
        try:
            merkle.verify_inclusion(leaf_hash=leaf, index=index, size=size, proof=proof, root=root)
        except AgritraceError as exc:
            raise CrossCheckError(f"[{name}] proof for entry #{index} does not verify") from exc


def _measure_bundles(document: bytes, verifiers: Sequence[NoteVerifier], count: int) -> float:
    verified = verify_bundle(document, verifiers=verifiers)
    if len(verified.entries) != 1:
        raise CrossCheckError("the bundle did not verify to one entry")
    _say(f"[bundle] verifying a {len(document):,}-byte one-entry bundle {count:,} times")
    gc.collect()
    began = time.perf_counter()
    for _ in range(count):
        verify_bundle(document, verifiers=verifiers)
    return count / (time.perf_counter() - began)


# --- databases ---------------------------------------------------------------------------------


def _pg_url_with_schema(url: str, schema: str) -> str:
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    query = dict(parsed.query)
    query["options"] = f"-csearch_path={schema}"
    return parsed.set(query=query).render_as_string(hide_password=False)


def _printable(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except SQLAlchemyError:
        return "the given URL"


def _reachable(url: str) -> str | None:
    """None when PostgreSQL at ``url`` answers, else the reason in one line."""
    try:
        engine = make_engine(url)
    except AgritraceError as exc:
        return str(exc)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    finally:
        engine.dispose()
    return None


@contextmanager
def postgres_schema(url: str) -> Iterator[str | None]:
    """A URL to a fresh schema in the database at ``url`` (dropped afterwards), or None with
    the reason printed on stdout when PostgreSQL cannot be reached."""
    reason = _reachable(url)
    if reason is not None:
        print(
            f"PostgreSQL at {_printable(url)} is unreachable ({reason}); measuring SQLite only. "
            "Create it with: createdb -h 127.0.0.1 -U postgres agritrace_bench"
        )
        yield None
        return
    schema = f"bench_{secrets.token_hex(4)}"
    admin = make_engine(url)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield _pg_url_with_schema(url, schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


# --- pymerkle and our pure tree ----------------------------------------------------------------


@dataclass
class TreeFigures:
    append_per_s: float = 0.0
    append_with_root_per_s: float = 0.0
    single_per_s: float = 0.0
    proof_first_ms: float = 0.0
    proof_median_ms: float = 0.0
    proof_p99_ms: float = 0.0
    root: bytes = b""


def _time_proofs(prove: Callable[[int], object], indices: Sequence[int]) -> list[float]:
    samples: list[float] = []
    for index in indices:
        began = time.perf_counter()
        prove(index)
        samples.append(time.perf_counter() - began)
    return samples


def _measure_pymerkle(
    name: str,
    tree: Any,
    contents: Sequence[bytes],
    *,
    batch: int,
    indices: Sequence[int],
    singles: int,
) -> TreeFigures:
    figures = TreeFigures()
    entries = len(contents)
    _say(f"[{name}] append_entries: {entries:,} entries, {batch:,} per call")
    progress = _Progress(f"[{name}] append", entries)
    began = time.perf_counter()
    for start in range(0, entries, batch):
        tree.append_entries(contents[start : start + batch])
        progress(min(start + batch, entries))
    figures.append_per_s = entries / (time.perf_counter() - began)
    _say(f"[{name}] {len(indices):,} inclusion proofs (the first one fills its subroot cache)")
    # pymerkle counts leaves from one.
    samples = _time_proofs(lambda index: tree.prove_inclusion(index + 1, entries), indices)
    figures.proof_first_ms = samples[0] * 1000
    figures.proof_median_ms, figures.proof_p99_ms = _timings(samples)
    figures.root = tree.get_root(entries)
    if singles:
        _say(f"[{name}] {singles:,} append_entry calls (one transaction each)")
        began = time.perf_counter()
        for n in range(entries, entries + singles):
            tree.append_entry(to_canonical_bytes(event_body(n)))
        figures.single_per_s = singles / (time.perf_counter() - began)
    return figures


def _measure_pymerkle_with_roots(tree: Any, contents: Sequence[bytes], *, batch: int) -> float:
    """``append_entries`` then ``get_root()`` for every batch (``get_state()`` is its deprecated
    alias): appends per second, like for like with our append, which leaves the new root in
    the head row. Cross-checks the last root against our tree."""
    entries = len(contents)
    _say(f"[pymerkle SqliteTree + root] append_entries and get_root per {batch:,}: {entries:,}")
    progress = _Progress("[pymerkle SqliteTree + root] append", entries)
    root = b""
    began = time.perf_counter()
    for start in range(0, entries, batch):
        tree.append_entries(contents[start : start + batch])
        root = tree.get_root()
        progress(min(start + batch, entries))
    per_s = entries / (time.perf_counter() - began)
    if root != merkle.root_from_leaf_hashes(merkle.leaf_hash(c) for c in contents):
        raise CrossCheckError("pymerkle's root after the last batch differs from ours")
    return per_s


def _measure_ours_in_memory(
    contents: Sequence[bytes], *, batch: int, indices: Sequence[int]
) -> tuple[TreeFigures, list[list[bytes]]]:
    """Our pure tree with every node kept in per-level lists, as InmemoryTree keeps its nodes."""
    figures = TreeFigures()
    entries = len(contents)
    _say(f"[ours in-memory] merkle.append_leaves: {entries:,} entries, {batch:,} per call")
    kept: list[bytes] = []
    levels: list[list[bytes]] = []
    size, frontier = 0, ()
    began = time.perf_counter()
    for start in range(0, entries, batch):
        chunk = contents[start : start + batch]
        kept.extend(chunk)
        grown = merkle.append_leaves(size, frontier, [merkle.leaf_hash(c) for c in chunk])
        for run in grown.nodes.runs:
            if run.level == len(levels):
                levels.append([])
            levels[run.level].extend(run.hashes)
        size, frontier = grown.size, grown.frontier
    figures.append_per_s = entries / (time.perf_counter() - began)
    figures.root = merkle.root_from_frontier(size, frontier)

    def fetch(ids: Sequence[merkle.NodeId]) -> list[bytes]:
        return [levels[level][index] for level, index in ids]

    proofs: list[list[bytes]] = []

    def prove(index: int) -> None:
        proofs.append(merkle.inclusion_proof(index, entries, fetch))

    samples = _time_proofs(prove, indices)
    figures.proof_first_ms = samples[0] * 1000
    figures.proof_median_ms, figures.proof_p99_ms = _timings(samples)
    _check_proofs("ours in-memory", indices, proofs, entries, figures.root)
    return figures, proofs


# --- the table --------------------------------------------------------------------------------


def _rows(
    *,
    entries: int,
    batch: int,
    stores: dict[str, StoreFigures],
    ours_mem: TreeFigures,
    pm_sqlite: TreeFigures,
    pm_mem: TreeFigures,
    bundle_per_s: float,
) -> list[list[str]]:
    rows: list[list[str]] = []
    sqlite_tree = "pymerkle SqliteTree"
    memory_tree = "pymerkle InmemoryTree"
    vs_sqlite_tree = {"SQLite": sqlite_tree, "PostgreSQL": f"{sqlite_tree} (no PG twin)"}

    metric = f"batched append ({batch:,}/txn)"
    for name, fig in stores.items():
        rows.append(
            [
                metric,
                f"{name} store",
                _per_s(fig.append_per_s),
                f">= {APPEND_GOAL_PER_S:,}/s",
                _yes(fig.append_per_s >= APPEND_GOAL_PER_S),
                _ratio(fig.append_per_s, pm_sqlite.append_per_s, vs_sqlite_tree[name]),
            ]
        )
    rows.append(
        [
            metric,
            "ours in-memory (merkle.append_leaves)",
            _per_s(ours_mem.append_per_s),
            "-",
            "-",
            _ratio(ours_mem.append_per_s, pm_mem.append_per_s, memory_tree),
        ]
    )
    rows.append([metric, sqlite_tree, _per_s(pm_sqlite.append_per_s), "baseline", "-", "-"])
    rows.append([metric, memory_tree, _per_s(pm_mem.append_per_s), "baseline", "-", "-"])

    # Like for like: the tree head after every batch (ours stores it with the batch).
    metric = f"batched append + tree head per batch ({batch:,}/txn)"
    with_root = f"{sqlite_tree} + get_root()"
    for name, fig in stores.items():
        rows.append(
            [
                metric,
                f"{name} store",
                _per_s(fig.append_per_s),
                "-",
                "-",
                _ratio(
                    fig.append_per_s,
                    pm_sqlite.append_with_root_per_s,
                    with_root if name == "SQLite" else f"{with_root} (no PG twin)",
                ),
            ]
        )
    rows.append([metric, with_root, _per_s(pm_sqlite.append_with_root_per_s), "baseline", "-", "-"])

    metric = "single-entry commits (1/txn)"
    for name, fig in stores.items():
        goal, met = (
            (f">= {SINGLE_GOAL_PER_S:,}/s", _yes(fig.single_per_s >= SINGLE_GOAL_PER_S))
            if name == "SQLite"
            else ("none set", "-")
        )
        rows.append(
            [
                metric,
                f"{name} store",
                _per_s(fig.single_per_s),
                goal,
                met,
                _ratio(fig.single_per_s, pm_sqlite.single_per_s, vs_sqlite_tree[name]),
            ]
        )
    rows.append([metric, sqlite_tree, _per_s(pm_sqlite.single_per_s), "baseline", "-", "-"])

    budget = AUDIT_GOAL_S_PER_MILLION * entries / FULL_ENTRIES
    audit_goal = f"<= {budget:g} s"
    if entries != FULL_ENTRIES:
        audit_goal += f" ({AUDIT_GOAL_S_PER_MILLION:g} s per 1M)"
    for name, fig in stores.items():
        rows.append(
            [
                f"full audit of {entries:,} entries",
                f"{name} store ({_processes(fig.audit_workers)})",
                f"{fig.audit_s:.2f} s",
                audit_goal,
                _yes(fig.audit_s <= budget),
                "- (pymerkle has no audit)",
            ]
        )

    for label, attr in (("median", "proof_median_ms"), ("p99", "proof_p99_ms")):
        metric = f"inclusion proof at {entries:,}, {label}"
        for name, fig in stores.items():
            ours_ms = getattr(fig, attr)
            rows.append(
                [
                    metric,
                    f"{name} store",
                    _ms(ours_ms),
                    f"<= {PROOF_GOAL_MS:g} ms",
                    _yes(ours_ms <= PROOF_GOAL_MS),
                    _ratio(1 / ours_ms, 1 / getattr(pm_sqlite, attr), vs_sqlite_tree[name]),
                ]
            )
        ours_ms = getattr(ours_mem, attr)
        rows.append(
            [
                metric,
                "ours in-memory",
                _ms(ours_ms),
                "-",
                "-",
                _ratio(1 / ours_ms, 1 / getattr(pm_mem, attr), memory_tree),
            ]
        )
        rows.append([metric, sqlite_tree, _ms(getattr(pm_sqlite, attr)), "baseline", "-", "-"])
        rows.append([metric, memory_tree, _ms(getattr(pm_mem, attr)), "baseline", "-", "-"])
    metric = "first proof of the run (cold)"
    for name, fig in stores.items():
        rows.append(
            [
                metric,
                f"{name} store",
                _ms(fig.proof_first_ms),
                "-",
                "-",
                _ratio(1 / fig.proof_first_ms, 1 / pm_sqlite.proof_first_ms, vs_sqlite_tree[name]),
            ]
        )
    rows.append([metric, sqlite_tree, _ms(pm_sqlite.proof_first_ms), "baseline", "-", "-"])

    rows.append(
        [
            "bundle verification (1 entry)",
            "offline, one core",
            _per_s(bundle_per_s),
            f">= {BUNDLE_GOAL_PER_S:,}/s",
            _yes(bundle_per_s >= BUNDLE_GOAL_PER_S),
            "- (pymerkle has no signed checkpoints)",
        ]
    )
    return rows


# --- main -------------------------------------------------------------------------------------


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench ledger", description=__doc__)
    parser.add_argument("--entries", type=int, help=f"log size (default {FULL_ENTRIES:,})")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("AGRITRACE_BENCH_PG_URL") or DEFAULT_PG_URL,
        help="PostgreSQL database to use (a throw-away schema is created and dropped); "
        "default $AGRITRACE_BENCH_PG_URL, else the local agritrace_bench database",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a smoke run: {QUICK['entries']:,} entries, {QUICK['proofs']} proofs, "
        f"{QUICK['singles']} single commits, {QUICK['bundles']:,} bundle verifications",
    )
    parser.add_argument("--batch", type=int, default=BATCH_ENTRIES, help="entries per batch")
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else {}
    args.proofs = defaults.get("proofs", PROOFS)
    args.singles = defaults.get("singles", SINGLES)
    args.bundles = defaults.get("bundles", BUNDLES)
    if args.entries is None:
        args.entries = defaults.get("entries", FULL_ENTRIES)
    if args.entries < 2 or args.batch < 1:
        parser.error("--entries must be at least 2 and --batch at least 1")
    return args


def main(argv: list[str]) -> int:
    args = _parse(argv)
    entries, batch = args.entries, args.batch
    rng = random.Random(SEED)
    indices = [rng.randrange(entries) for _ in range(args.proofs)]
    started = time.perf_counter()
    _say(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    stores: dict[str, StoreFigures] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="agritrace-bench-") as folder:
            stores["SQLite"] = _measure_store(
                "SQLite",
                f"sqlite:///{Path(folder) / 'ledger.db'}",
                entries=entries,
                batch=batch,
                indices=indices,
                singles=args.singles,
            )
            with postgres_schema(args.pg_url) as pg_url:
                if pg_url is not None:
                    stores["PostgreSQL"] = _measure_store(
                        "PostgreSQL",
                        pg_url,
                        entries=entries,
                        batch=batch,
                        indices=indices,
                        singles=args.singles,
                    )

            _say(f"[pymerkle] canonicalizing the same {entries:,} entries to bytes")
            contents = [to_canonical_bytes(event_body(n)) for n in range(entries)]
            with SqliteTree(str(Path(folder) / "pymerkle.db")) as tree:
                pm_sqlite = _measure_pymerkle(
                    "pymerkle SqliteTree",
                    tree,
                    contents,
                    batch=batch,
                    indices=indices,
                    singles=args.singles,
                )
            with SqliteTree(str(Path(folder) / "pymerkle-roots.db")) as tree:
                pm_sqlite.append_with_root_per_s = _measure_pymerkle_with_roots(
                    tree, contents, batch=batch
                )
        pm_mem = _measure_pymerkle(
            "pymerkle InmemoryTree",
            InmemoryTree(),
            contents,
            batch=batch,
            indices=indices,
            singles=0,
        )
        ours_mem, _ = _measure_ours_in_memory(contents, batch=batch, indices=indices)
        del contents
        roots = {fig.root for fig in (*stores.values(), ours_mem, pm_sqlite, pm_mem)}
        if len(roots) != 1:
            raise CrossCheckError("the stores and pymerkle disagree on the root")
        sqlite = stores["SQLite"]
        bundle_per_s = _measure_bundles(sqlite.bundle, sqlite.verifiers, args.bundles)
    except CrossCheckError as exc:
        print(f"bench ledger: {exc}", file=sys.stderr)
        return 1
    _say(
        f"done in {time.perf_counter() - started:.0f} s; load average at end: "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print_table(
        HEADERS,
        _rows(
            entries=entries,
            batch=batch,
            stores=stores,
            ours_mem=ours_mem,
            pm_sqlite=pm_sqlite,
            pm_mem=pm_mem,
            bundle_per_s=bundle_per_s,
        ),
    )
    print(machine())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
