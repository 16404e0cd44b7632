"""Scan-page load: gunicorn on both cores with PostgreSQL, driven by wrk on loopback.

``python -m bench scan [--pg-url URL] [--duration S] [--connections N] [--workers W]
[--worker-class sync|gthread] [--threads T]``

Seeds a fresh PostgreSQL database (the demo chain plus a batch of ``--stamps`` stamps),
starts gunicorn with ``W`` workers (sync by default, as the README deploys it), then runs
wrk (a second process) twice for the same duration and connections: against ``/healthz``
(a static "hello" route on the same server, the baseline) and against ``/S/<code>`` for
random stamps of the batch, each request a real scan (signature check, lookups, journey,
and the scan counted in the database). Prints requests/s, p50 and p99 latency, errors, and
the ratio of scans to hello.

Goal: >= 1,000 scans/s with p99 <= 50 ms and no errors. Needs wrk (Debian: apt-get install
wrk) and a PostgreSQL server; nothing here touches any address but 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from agritrace.db import make_engine, make_sessionmaker, utcnow
from agritrace.keys import KeyPurpose, KeyRing
from agritrace.migrations import upgrade
from agritrace.stamps.codec import sign_serials, stamp_prefix
from agritrace.trace import demo, issuance, registry
from bench.table import machine, print_table

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/agritrace_bench_scan"
PASSPHRASE = "bench passphrase, not secret"  # noqa: S105 - a throw-away bench ring


@dataclass(frozen=True)
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value.strip()).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _wrk(url: str, *, duration: int, connections: int, script: Path | None) -> WrkResult:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "5s"]
    if script is not None:
        command += ["-s", str(script)]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = 0
    if found := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out):
        errors += int(found.group(1))
    if found := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    ):
        errors += sum(int(n) for n in found.groups())
    return WrkResult(rate, p50, p99, errors, total)


def _fresh_database(url: str) -> None:
    parsed = make_url(url)
    admin = make_engine(
        parsed.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def _seed(folder: Path, url: str, base_url: str, stamps: int) -> list[str]:
    ring = KeyRing.create(folder / "keys", PASSPHRASE.encode())
    engine = make_engine(url)
    upgrade(engine)
    prefix = stamp_prefix(base_url, allow_long=True)
    key_id, key = ring.active_signer(KeyPurpose.STAMP)
    origin = f"{base_url.split('://', 1)[1]}/agritrace/ledger"
    now = utcnow()
    with make_sessionmaker(engine)() as session:
        demo.seed(
            session,
            prefix=prefix,
            stamp_signer=(key_id, key),
            ring=ring,
            origin=origin,
            now=now,
        )
        registry.create_lot(
            session,
            facility_code=demo.DRYER,
            product_code="VAI-SAY",
            code="BENCH",
            units=stamps,
            quantity="5000",
            quantity_unit="kg",
            harvest_date=now.date(),
            origin_area="bench",
            now=now,
        )
        batch = issuance.issue_batch(
            session,
            lot_ref=f"{demo.DRYER}/BENCH",
            count=stamps,
            key_id=key_id,
            prefix=prefix,
            now=now,
        )
        first = batch.first_serial
    engine.dispose()
    codes = sign_serials(first, stamps, key_id=key_id, private_key=key, prefix=prefix)
    return ["/S/" + stamp.to_text() for stamp in codes]


def _lua(paths: Sequence[str], target: Path) -> None:
    body = ",\n".join(f'"{p}"' for p in paths)
    target.write_text(
        f"local paths = {{\n{body}\n}}\n"
        "math.randomseed(20261125)\n"
        "request = function()\n"
        "  return wrk.format('GET', paths[math.random(#paths)])\n"
        "end\n"
    )


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench scan", description=__doc__)
    parser.add_argument("--pg-url", default=os.environ.get("AGRITRACE_BENCH_PG_URL", DEFAULT_PG))
    parser.add_argument("--duration", type=int, default=20, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--worker-class", choices=("sync", "gthread"), default="sync")
    parser.add_argument("--threads", type=int, default=1, help="threads per gthread worker")
    parser.add_argument("--stamps", type=int, default=20_000)
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("bench scan needs wrk: apt-get install wrk", file=sys.stderr)
        return 2
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print("seeding PostgreSQL ...", file=sys.stderr)
        _fresh_database(args.pg_url)
        paths = _seed(folder, args.pg_url, base_url, args.stamps)
        script = folder / "scan.lua"
        _lua(paths, script)
        env = {
            **os.environ,
            "AGRITRACE_INSTANCE": str(folder),
            "AGRITRACE_DATABASE_URL": args.pg_url,
            "AGRITRACE_BASE_URL": base_url,
            "AGRITRACE_SECRET_KEY": secrets.token_urlsafe(32),
            "AGRITRACE_RATE_LIMITS": "stamp=0,public=0",  # one client here stands for many
        }
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-w",
                str(args.workers),
                "-k",
                args.worker_class,
                "--threads",
                str(args.threads),
                "-b",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
                "agritrace.web.wsgi:app",
            ],
            env=env,
        )
        try:
            for _ in range(100):
                try:
                    with urllib.request.urlopen(f"{base_url}/healthz", timeout=1):  # noqa: S310 - loopback
                        break
                except OSError:
                    time.sleep(0.2)
            for path in paths[:50]:  # warm every worker's caches and pools
                with urllib.request.urlopen(base_url + path, timeout=5):  # noqa: S310 - loopback
                    pass
            print(f"wrk /healthz for {args.duration}s ...", file=sys.stderr)
            hello = _wrk(
                f"{base_url}/healthz",
                duration=args.duration,
                connections=args.connections,
                script=None,
            )
            print(f"wrk /S/<code> for {args.duration}s ...", file=sys.stderr)
            scan = _wrk(
                base_url, duration=args.duration, connections=args.connections, script=script
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(
        f"machine: {machine()}; gunicorn {args.workers} {args.worker_class} workers"
        f"{f' x {args.threads} threads' if args.worker_class == 'gthread' else ''}, PostgreSQL, "
        f"wrk 2 threads x {args.connections} connections, {args.duration}s each"
    )
    met = scan.requests_per_s >= 1000 and scan.p99_ms <= 50 and scan.errors == 0
    print_table(
        ("route", "requests/s", "p50", "p99", "errors", "goal", "met", "vs hello"),
        [
            (
                "/healthz (static hello)",
                f"{hello.requests_per_s:,.0f}",
                f"{hello.p50_ms:.1f} ms",
                f"{hello.p99_ms:.1f} ms",
                hello.errors,
                "",
                "",
                "1.00",
            ),
            (
                "/S/<code> (scan page)",
                f"{scan.requests_per_s:,.0f}",
                f"{scan.p50_ms:.1f} ms",
                f"{scan.p99_ms:.1f} ms",
                scan.errors,
                ">= 1,000/s, p99 <= 50 ms, 0 errors",
                "yes" if met else "no",
                f"{scan.requests_per_s / hello.requests_per_s:.2f}",
            ),
        ],
    )
    return 0
