"""Event recording and provenance speed, through the service layer, on SQLite.

``python -m bench events [--events N] [--pg-url URL]`` prints one table:

- events recorded per second through the service layer, each with its own ledger entry,
  committed with ``synchronous=FULL``: in batches (``trace.events.record_events``, one
  transaction per 200 events, as a gateway or an EPCIS capture would send them) and one
  transaction per event (``record_event``, as the CLI and a form do);
- provenance of a stamp whose lot has 50 events and 3 upstream lots, every step with its
  inclusion proof against the latest checkpoint: median and p99 latency (goal <= 20 ms).

Goal for recording: >= 2,000 events/s on SQLite.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from agritrace.db import make_engine, make_sessionmaker
from agritrace.ledger import store
from agritrace.migrations import upgrade
from agritrace.stamps.codec import sign_stamp
from agritrace.trace import events, issuance, provenance, registry
from agritrace.trace.events import LotAmount
from bench.table import machine, print_table

VN = dt.timezone(dt.timedelta(hours=7))
NOW = dt.datetime(2026, 11, 20, 3, 0, tzinfo=dt.UTC)
PREFIX = "HTTPS://TRACE.EXAMPLE.VN/S/"
ORIGIN = "trace.example.vn/agritrace/ledger"


def _setup(session: Session, facilities: int) -> None:
    for n in range(facilities):
        code = f"F{n:02d}"
        registry.add_facility(
            session, code=code, name=f"Facility {n}", province="Hà Nội", address="x"
        )
        registry.certify(
            session,
            facility_code=code,
            scheme="vietgap",
            number=f"VG-{code}",
            issuer="x",
            valid_from="2026-01-01",
            valid_to="2027-12-31",
            scope="x",
            now=NOW,
        )
    registry.add_product(session, code="P", name="Vải", category="fruit", unit="box")


def _lot(session: Session, facility: str, code: str, quantity: str = "10000") -> None:
    registry.create_lot(
        session,
        facility_code=facility,
        product_code="P",
        code=code,
        units=100000,
        quantity=quantity,
        quantity_unit="kg",
        harvest_date="2026-01-02",
        origin_area="x",
        now=NOW,
    )


def bench_recording(engine: Engine, count: int, *, batch: int) -> float:
    """Events per second, ``batch`` events per transaction (1: one commit per event)."""
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        _setup(session, 1)
        _lot(session, "F00", "REC")
    start = dt.datetime(2026, 1, 3, tzinfo=VN)
    specs = [
        events.EventSpec(
            step="storing",
            lot_ref="F00/REC",
            facility_code="F00",
            event_time=start + dt.timedelta(seconds=n),
            temperature_c="4",
        )
        for n in range(count)
    ]
    began = time.perf_counter()
    for first in range(0, count, batch):
        with sessions() as session:
            events.record_events(session, specs[first : first + batch], now=NOW)
    return count / (time.perf_counter() - began)


def bench_provenance(engine: Engine, queries: int) -> tuple[float, float, int]:
    """A lot with 50 events made from 3 upstream lots; returns median, p99 ms and steps."""
    sessions = make_sessionmaker(engine)
    key = Ed25519PrivateKey.generate()
    with sessions() as session:
        _setup(session, 4)
        t0 = dt.datetime(2026, 1, 3, tzinfo=VN)
        for n in range(1, 4):
            _lot(session, f"F{n:02d}", f"UP{n}")
            events.record_event(
                session,
                step="harvest",
                lot_ref=f"F{n:02d}/UP{n}",
                facility_code=f"F{n:02d}",
                event_time=t0,
                now=NOW,
            )
            events.record_event(
                session,
                step="shipping",
                lot_ref=f"F{n:02d}/UP{n}",
                facility_code=f"F{n:02d}",
                event_time=t0 + dt.timedelta(hours=1),
                destination="F00",
                now=NOW,
            )
            events.record_event(
                session,
                step="receiving",
                lot_ref=f"F{n:02d}/UP{n}",
                facility_code="F00",
                event_time=t0 + dt.timedelta(hours=5),
                now=NOW,
            )
        _lot(session, "F00", "MIX", quantity="3000")
        events.record_transformation(
            session,
            facility_code="F00",
            event_time=t0 + dt.timedelta(hours=8),
            inputs=[LotAmount(f"F{n:02d}/UP{n}", "1000", "kg") for n in range(1, 4)],
            outputs=[LotAmount("F00/MIX", "3000", "kg")],
            now=NOW,
        )
        for n in range(49):
            events.record_event(
                session,
                step="storing",
                lot_ref="F00/MIX",
                facility_code="F00",
                event_time=t0 + dt.timedelta(hours=9, minutes=n),
                temperature_c="4",
                now=NOW,
            )
        batch = issuance.issue_batch(
            session, lot_ref="F00/MIX", count=100, key_id=0, prefix=PREFIX, now=NOW
        )
        store.sign_checkpoint(session, origin=ORIGIN, private_key=key)
        code = sign_stamp(batch.first_serial + 7, key_id=0, private_key=key, prefix=PREFIX).to_url(
            PREFIX
        )
    timings = []
    steps = 0
    with sessions() as session:
        for _ in range(queries):
            began = time.perf_counter()
            from agritrace.stamps.codec import parse

            serial = parse(code).stamp.serial
            lot = issuance.batch_for_serial(session, serial).lot  # type: ignore[union-attr]
            checkpoint = store.latest_checkpoint(session)
            assert checkpoint is not None
            tree = provenance.lot_provenance(session, lot)
            nodes = [tree, *tree.inputs]
            indices = [step.ledger_index for node in nodes for step in node.steps]
            proofs = store.inclusion_proofs(session, indices, checkpoint.size)
            steps = len(indices)
            assert len(proofs) == len(set(indices))
            timings.append((time.perf_counter() - began) * 1000)
            session.expire_all()
    timings.sort()
    return statistics.median(timings), timings[int(len(timings) * 0.99) - 1], steps


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench events")
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        rates = {}
        for batch in (200, 1):
            rec_engine = make_engine(f"sqlite:///{Path(folder) / f'rec{batch}.db'}")
            upgrade(rec_engine)
            count = args.events if batch > 1 else min(args.events, 1000)
            print(f"recording {count} events, {batch} per transaction ...", file=sys.stderr)
            rates[batch] = bench_recording(rec_engine, count, batch=batch)
            rec_engine.dispose()
        prov_engine = make_engine(f"sqlite:///{Path(folder) / 'prov.db'}")
        upgrade(prov_engine)
        print(f"provenance x{args.queries} ...", file=sys.stderr)
        median, p99, steps = bench_provenance(prov_engine, args.queries)
    print(f"machine: {machine()}")
    print_table(
        ("measurement", "backend", "value", "goal", "met"),
        [
            (
                "events recorded, 200 per transaction",
                "sqlite",
                f"{rates[200]:,.0f} /s",
                ">= 2,000 /s",
                "yes" if rates[200] >= 2000 else "no",
            ),
            (
                "events recorded, one transaction each",
                "sqlite",
                f"{rates[1]:,.0f} /s",
                "",
                "",
            ),
            (
                f"stamp provenance, {steps} steps with proofs, median",
                "sqlite",
                f"{median:.1f} ms",
                "<= 20 ms",
                "yes" if median <= 20 else "no",
            ),
            ("stamp provenance, p99", "sqlite", f"{p99:.1f} ms", "", ""),
        ],
    )
    return 0
