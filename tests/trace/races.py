"""Three races on one lot, for the concurrency tests (issue 12's attacks).

A farm ``RC-FARM`` holds lot ``RC-FARM/L1``: 100 units, 100 kg, harvested 2026-06-10. Each
racer makes one attempt at consuming the whole lot, or a quarter of its stamps:

- ``stamps``: issue 25 stamps (4 of 9 racers may succeed: 100 units);
- ``process``: turn all 100 kg into its own output lot ``RC-FARM/O<i>`` (1 may succeed);
- ``ship``: ship the lot to its own destination ``RC-DEST-<i>`` (1 may succeed);
- ``recall``: racer 0 recalls the lot, the others record a cooling of it (any may succeed
  before the recall, none after it).

:func:`race_process` runs one attempt in a process of its own (its own engine and
connection); :func:`api_request` is the same attempt as a JSON API request.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from agritrace.db import make_engine, make_sessionmaker
from agritrace.errors import AgritraceError
from agritrace.trace import events, issuance, recalls, registry
from agritrace.trace.events import LotAmount

FARM = "RC-FARM"
LOT = f"{FARM}/L1"
PREFIX = "HTTPS://TRACE.EXAMPLE.VN/S/"
SCENARIOS = ("stamps", "process", "ship")
#: Racers per scenario, and how many of them may succeed.
RACERS = {"stamps": 9, "process": 6, "ship": 6, "recall": 6}
ALLOWED = {"stamps": 4, "process": 1, "ship": 1}
STAMPS_EACH = 25
EVENT_TIME = dt.datetime(2026, 6, 12, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))
RECORDED = dt.datetime(2026, 11, 20, 3, 0, tzinfo=dt.UTC)


def _facility(session: Session, code: str) -> None:
    registry.add_facility(session, code=code, name=f"Cơ sở {code}", province="Hà Nội", address="x")
    registry.certify(
        session,
        facility_code=code,
        scheme="vietgap",
        number=f"VG-{code}",
        issuer="NAFIQAD",
        valid_from="2026-01-01",
        valid_to="2027-12-31",
        scope="vải",
        now=RECORDED,
    )


def _lot(session: Session, code: str, *, units: int, quantity: str) -> None:
    registry.create_lot(
        session,
        facility_code=FARM,
        product_code="VAI",
        code=code,
        units=units,
        quantity=quantity,
        quantity_unit="kg",
        harvest_date="2026-06-10",
        origin_area="Thanh Hà",
        now=RECORDED,
    )


def prepare(session: Session, scenario: str) -> None:
    """The farm, its lot, and what each racer of ``scenario`` needs (committed)."""
    _facility(session, FARM)
    registry.add_product(session, code="VAI", name="Vải thiều", category="fruit", unit="box")
    _lot(session, "L1", units=100, quantity="100")
    for i in range(RACERS[scenario]):
        if scenario == "process":
            _lot(session, f"O{i}", units=10, quantity="50")
        if scenario == "ship":
            _facility(session, f"RC-DEST-{i}")


def attempt(session: Session, scenario: str, i: int) -> None:
    """Racer ``i``'s one attempt, through the service (commits or raises)."""
    if scenario == "stamps":
        issuance.issue_batch(session, lot_ref=LOT, count=STAMPS_EACH, key_id=0, prefix=PREFIX)
    elif scenario == "process":
        events.record_transformation(
            session,
            facility_code=FARM,
            event_time=EVENT_TIME,
            inputs=[LotAmount(LOT, "100", "kg")],
            outputs=[LotAmount(f"{FARM}/O{i}", "50", "kg")],
        )
    elif scenario == "recall":
        _recall_or_cool(session, i)
    else:
        events.record_event(
            session,
            step="shipping",
            lot_ref=LOT,
            facility_code=FARM,
            event_time=EVENT_TIME,
            destination=f"RC-DEST-{i}",
        )


def _recall_or_cool(session: Session, i: int) -> None:
    if i == 0:
        signer = (0, Ed25519PrivateKey.generate())
        recalls.recall_lot(session, lot_ref=LOT, reason="residue", signer=signer)
        return
    events.record_event(
        session,
        step="cooling",
        lot_ref=LOT,
        facility_code=FARM,
        event_time=EVENT_TIME + dt.timedelta(minutes=i),
        temperature_c="4",
    )


def api_request(scenario: str, i: int) -> tuple[str, dict[str, Any]]:
    """Racer ``i``'s attempt as a JSON API request: (path, body)."""
    if scenario == "stamps":
        return "/api/v1/batches", {"lot": LOT, "count": str(STAMPS_EACH)}
    when = EVENT_TIME.isoformat()
    if scenario == "process":
        return "/api/v1/events", {
            "step": "processing",
            "event_time": when,
            "inputs": [{"lot": LOT, "quantity": "100", "unit": "kg"}],
            "outputs": [{"lot": f"{FARM}/O{i}", "quantity": "50", "unit": "kg"}],
        }
    return "/api/v1/events", {
        "step": "shipping",
        "lot": LOT,
        "event_time": when,
        "destination": f"RC-DEST-{i}",
    }


def race_process(url: str, scenario: str, i: int, barrier: Any, results: Any) -> None:
    """Run in a process of its own: connect, wait for every racer, attempt, report.

    Puts ``(i, "ok")`` or ``(i, <error key or class name>)`` on ``results``.
    """
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    with engine.connect():
        pass  # the connection is open (pooled) before the race starts
    try:
        with sessions() as session:
            barrier.wait(timeout=120)
            try:
                attempt(session, scenario, i)
                results.put((i, "ok"))
            except AgritraceError as exc:
                results.put((i, exc.key or type(exc).__name__))
            except Exception as exc:
                results.put((i, f"crash: {type(exc).__name__}: {exc}"))
    finally:
        engine.dispose()
