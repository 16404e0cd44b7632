"""The database keeps the rules it can on its own (migration 0011): stamps issued within a
lot's units, no negative quantity; and issuance keeps the lot's count of stamps issued."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from agritrace.trace import events, issuance
from agritrace.trace.event_models import EventLot
from tests.trace import chain
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
