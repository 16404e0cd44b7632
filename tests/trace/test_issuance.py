"""Stamp issuance: serial ranges, mass balance, the ledger entry, and every refusal."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from agritrace.db import make_engine, make_sessionmaker
from agritrace.errors import ConflictError, InvalidInputError, NotFoundError
from agritrace.ledger import store
from agritrace.trace import issuance, registry
from agritrace.trace.models import LotStatus, StampBatch
from tests.trace.factories import certified_lot

PREFIX = "HTTPS://TRACE.EXAMPLE.VN/S/"
ROOT = Path(__file__).resolve().parents[2]


def _issue(
    session: Session, now: dt.datetime, count: object, lot: str = "HD-VAI-01/L1"
) -> StampBatch:
    return issuance.issue_batch(
        session,
        lot_ref=lot,
        count=count,
        key_id=0,
        prefix=PREFIX,
        now=now,  # type: ignore[arg-type]
    )


def _batches(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(StampBatch)) or 0)


def test_batches_take_contiguous_ranges_from_one_counter(
    session: Session, now: dt.datetime
) -> None:
    certified_lot(session, now)
    certified_lot(session, now, lot="L2")
    first = _issue(session, now, 100)
    second = _issue(session, now, "250", lot="HD-VAI-01/L2")
    third = _issue(session, now, 1)
    assert (first.first_serial, first.last_serial) == (1, 100)
    assert (second.first_serial, second.last_serial) == (101, 350)
    assert third.first_serial == 351
    assert issuance.batch_for_serial(session, 100) == first
    assert issuance.batch_for_serial(session, 101) == second
    assert issuance.batch_for_serial(session, 352) is None


def test_batch_is_one_ledger_entry_about_the_lot(session: Session, now: dt.datetime) -> None:
    lot = certified_lot(session, now)
    batch = _issue(session, now, 40)
    entry = store.get_entry(session, batch.ledger_index)
    body = json.loads(entry.content)
    assert body["type"] == "stamp-batch"
    assert (body["lot"], body["first_serial"], body["count"]) == ("HD-VAI-01/L1", 1, 40)
    assert body["key_id"] == 0
    registered, issued = store.indices_for_subject(session, registry.lot_subject(lot))
    assert issued == batch.ledger_index
    assert json.loads(store.get_entry(session, registered).content)["type"] == "lot"


def test_mass_balance_caps_stamps_at_declared_units(session: Session, now: dt.datetime) -> None:
    certified_lot(session, now, units=100)
    _issue(session, now, 60)
    with pytest.raises(
        InvalidInputError,
        match=r"exceed lot HD-VAI-01/L1's 100 declared units \(60 already issued, 40 left\)",
    ):
        _issue(session, now, 41)
    _issue(session, now, 40)
    assert issuance.issued_for_lot(session, registry.get_lot(session, "HD-VAI-01/L1")) == 100


@pytest.mark.parametrize(
    ("count", "error", "message"),
    [
        (0, InvalidInputError, "count must be greater than zero"),
        (-5, InvalidInputError, "count must be greater than zero"),
        ("ten", InvalidInputError, "not a whole number"),
        (issuance.MAX_BATCH + 1, InvalidInputError, "at most"),
    ],
)
def test_bad_count_is_refused_and_writes_nothing(
    session: Session, now: dt.datetime, count: object, error: type[Exception], message: str
) -> None:
    certified_lot(session, now)
    before = store.head(session).size
    with pytest.raises(error, match=message):
        _issue(session, now, count)
    assert _batches(session) == 0
    assert store.head(session).size == before


def test_unknown_lot_is_refused(session: Session, now: dt.datetime) -> None:
    with pytest.raises(NotFoundError, match="unknown lot HD-VAI-01/L9"):
        _issue(session, now, 1, lot="HD-VAI-01/L9")


def test_recalled_lot_gets_no_stamps(session: Session, now: dt.datetime) -> None:
    lot = certified_lot(session, now)
    lot.status = LotStatus.RECALLED
    session.commit()
    with pytest.raises(ConflictError, match="recalled"):
        _issue(session, now, 1)
    assert _batches(session) == 0


def test_suspended_facility_gets_no_stamps(session: Session, now: dt.datetime) -> None:
    certified_lot(session, now)
    registry.suspend_facility(session, "HD-VAI-01", reason="audit")
    before = store.head(session).size
    with pytest.raises(ConflictError, match="suspended"):
        _issue(session, now, 1)
    assert store.head(session).size == before


def test_certificate_must_be_valid_on_the_day_of_issue(session: Session, now: dt.datetime) -> None:
    certified_lot(session, now)
    later = dt.datetime(2028, 2, 1, tzinfo=dt.UTC)
    with pytest.raises(InvalidInputError, match="expired on 2027-12-31"):
        _issue(session, later, 1)
    assert _batches(session) == 0


def test_unknown_batch_is_refused(session: Session) -> None:
    with pytest.raises(NotFoundError, match="unknown stamp batch 7"):
        issuance.get_batch(session, 7)
    with pytest.raises(InvalidInputError):
        issuance.get_batch(session, "x")


@pytest.mark.slow
def test_concurrent_issuance_never_hands_out_a_serial_twice(
    fresh_db_url: str, now: dt.datetime
) -> None:
    engine = make_engine(fresh_db_url)
    with make_sessionmaker(engine)() as session:
        certified_lot(session, now, units=1_000_000)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.trace.issuer",
                fresh_db_url,
                "HD-VAI-01/L1",
                "15",
                str(7 + i),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    with make_sessionmaker(engine)() as session:
        batches = issuance.list_batches(session)
        assert len(batches) == 60
        serials = [s for b in batches for s in range(b.first_serial, b.last_serial + 1)]
        assert len(serials) == len(set(serials))
        assert sorted(serials) == list(range(1, len(serials) + 1))
        assert len({b.ledger_index for b in batches}) == 60
    engine.dispose()
