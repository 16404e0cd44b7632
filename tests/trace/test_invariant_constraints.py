"""The database keeps the rules it can on its own (migration 0011): stamps issued within a
lot's units, no negative quantity; and issuance keeps the lot's count of stamps issued."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from agritrace.db import make_engine
from agritrace.migrations import upgrade
from agritrace.trace import events, issuance
from agritrace.trace.event_models import EventLot
from tests.support import fresh_database
from tests.trace import chain
from tests.trace.chain import NOW
from tests.trace.factories import certified_lot

PREFIX = "HTTPS://TRACE.EXAMPLE.VN/S/"


def _write(session: Session, change: Callable[[], None]) -> None:
    """Make ``change`` and flush it inside a savepoint (rolled back if refused)."""
    with session.begin_nested():
        change()
        session.flush()


def test_issuance_keeps_the_lots_count_of_stamps_issued(session: Session, now: dt.datetime) -> None:
    lot = certified_lot(session, now, units=100)
    for count in (30, 70):
        issuance.issue_batch(
            session, lot_ref="HD-VAI-01/L1", count=count, key_id=0, prefix=PREFIX, now=now
        )
    session.refresh(lot)
    assert lot.units_issued == 100 == issuance.issued_for_lot(session, lot)


@pytest.mark.parametrize("issued", [101, -1])
def test_the_database_refuses_stamps_beyond_the_units(
    session: Session, now: dt.datetime, issued: int
) -> None:
    lot = certified_lot(session, now, units=100)
    with pytest.raises(IntegrityError, match="units_issued"):
        _write(session, lambda: setattr(lot, "units_issued", issued))


def test_the_database_refuses_a_negative_lot_quantity(session: Session, now: dt.datetime) -> None:
    lot = certified_lot(session, now, units=100)
    with pytest.raises(IntegrityError, match="quantity_not_negative"):
        _write(session, lambda: setattr(lot, "quantity", Decimal("-0.5")))


def test_the_database_refuses_a_negative_event_quantity(session: Session) -> None:
    chain.three_stages(session)
    row = session.query(EventLot).first()
    assert row is not None
    with pytest.raises(IntegrityError, match="quantity_not_negative"):
        _write(session, lambda: setattr(row, "quantity", Decimal(-2000)))
    assert events.remaining_quantity(session, row.lot) >= 0


_ROWS = [
    "INSERT INTO facility (id, code, name, province, address, status, created_at) "
    "VALUES (1, 'F1', 'F', 'P', 'A', 'active', :at)",
    "INSERT INTO product (id, code, name, category, unit, created_at) "
    "VALUES (1, 'P1', 'P', 'fruit', 'box', :at)",
    "INSERT INTO lot (id, facility_id, product_id, code, units, quantity, quantity_unit, "
    "harvest_date, origin_area, status, created_at) "
    "VALUES (1, 1, 1, 'L1', 100, '50', 'kg', :day, 'x', 'active', :at)",
]
_BATCH = (
    "INSERT INTO stamp_batch (id, lot_id, first_serial, count, key_id, prefix, ledger_index, "
    "created_at) VALUES (:id, 1, :first, :count, 0, 'P', :id, :at)"
)


def _at_0008(engine: Engine, counts: list[int]) -> None:
    """A database at revision 0008 holding lot F1/L1 (100 units) and batches of ``counts``."""
    upgrade(engine, "0008")
    when = {"at": NOW, "day": NOW.date()}
    with engine.begin() as conn:
        for row in _ROWS:
            conn.execute(text(row), when)
        first = 1
        for number, count in enumerate(counts, start=1):
            conn.execute(text(_BATCH), {"id": number, "first": first, "count": count, "at": NOW})
            first += count


def test_migration_0011_counts_the_stamps_already_issued(backend: str, tmp_path: Path) -> None:
    with fresh_database(backend, tmp_path) as url:
        engine = make_engine(url)
        _at_0008(engine, [30, 70])
        upgrade(engine)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT units_issued FROM lot")).scalar_one() == 100
        engine.dispose()


def test_migration_0011_stops_on_a_lot_already_over_issued(backend: str, tmp_path: Path) -> None:
    with fresh_database(backend, tmp_path) as url:
        engine = make_engine(url)
        _at_0008(engine, [100, 100])
        with pytest.raises(RuntimeError, match=r"lot id 1 \(200 stamps for 100 units\)"):
            upgrade(engine)
        engine.dispose()
