"""Business invariants under concurrent writers (issue 12's attacks, reproduced).

Racers start together and each tries to consume the whole lot (or a quarter of its stamps):
as separate processes, each with its own engine and connection, and as threads of one app
through its JSON API. Exactly the allowed number succeed, every other racer gets the rule's
own refusal (never a 5xx, never a crash), and the books agree: stamps issued equal the
units, the lot is consumed once, shipped once. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from agritrace.db import make_engine, make_sessionmaker, utcnow
from agritrace.errors import InvalidInputError
from agritrace.keys import KeyRing
from agritrace.trace import access, events, issuance, registry
from agritrace.trace.event_models import Step, TraceEvent
from agritrace.trace.models import StampBatch
from agritrace.trace.rule_audit import check_rules
from tests.trace import races
from tests.web.conftest import NO_LIMITS, PASSPHRASE, make_settings

#: The refusal each scenario's losers get.
REFUSAL = {
    "stamps": "stamps.exceed_units",
    "process": "transform.input_short",
    "ship": "event.not_holder_in_transit",
}
HTTP_REFUSAL = {"stamps": 422, "process": 422, "ship": 409}


@pytest.fixture
def raced(fresh_db_url: str) -> Iterator[tuple[str, Engine]]:
    engine = make_engine(fresh_db_url)
    try:
        yield fresh_db_url, engine
    finally:
        engine.dispose()


def _prepare(engine: Engine, scenario: str) -> None:
    with make_sessionmaker(engine)() as session:
        races.prepare(session, scenario)


def _check_books(engine: Engine, scenario: str) -> None:
    """The database agrees with the allowed outcome, whatever the racers were told."""
    with make_sessionmaker(engine)() as session:
        lot = registry.get_lot(session, races.LOT)
        issued = session.scalar(
            select(func.coalesce(func.sum(StampBatch.count), 0)).where(StampBatch.lot_id == lot.id)
        )
        moved = session.scalar(
            select(func.count()).select_from(TraceEvent).where(TraceEvent.step == Step.SHIPPING)
        )
        left = events.remaining_quantity(session, lot)
        check_rules(session)  # and the ledger replays without breaking a rule
    if scenario == "stamps":
        assert issued == 100
        assert lot.units_issued == 100
    if scenario == "process":
        assert left == Decimal(0)
    if scenario == "ship":
        assert moved == 1


def _expect(outcomes: list[str], scenario: str, refusal: object) -> None:
    tally = Counter(outcomes)
    assert tally == Counter(
        {"ok": races.ALLOWED[scenario], refusal: len(outcomes) - races.ALLOWED[scenario]}
    ), tally


@pytest.mark.slow
@pytest.mark.parametrize("scenario", races.SCENARIOS)
def test_racing_processes_get_exactly_the_allowed_outcome(
    raced: tuple[str, Engine], scenario: str
) -> None:
    url, engine = raced
    _prepare(engine, scenario)
    outcomes = _race_processes(url, scenario)
    _expect(outcomes, scenario, REFUSAL[scenario])
    _check_books(engine, scenario)


def _race_processes(url: str, scenario: str) -> list[str]:
    context = multiprocessing.get_context("spawn")
    count = races.RACERS[scenario]
    barrier = context.Barrier(count)
    results = context.Queue()
    workers = [
        context.Process(target=races.race_process, args=(url, scenario, i, barrier, results))
        for i in range(count)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=300)[1] for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    return outcomes


@pytest.mark.slow
def test_events_racing_a_recall_never_land_after_it(raced: tuple[str, Engine]) -> None:
    url, engine = raced
    _prepare(engine, "recall")
    outcomes = _race_processes(url, "recall")
    assert outcomes.count("ok") >= 1  # the recall itself
    assert set(outcomes) <= {"ok", "event.lot_recalled"}, outcomes
    with make_sessionmaker(engine)() as session:
        check_rules(session)  # no cooling entry after the recall entry


def _operator_token(engine: Engine) -> str:
    with make_sessionmaker(engine)() as session:
        user = registry.add_user(
            session,
            username="rc-operator",
            password="race operator password",
            role="operator",
            facility_code=races.FARM,
        )
        return access.create_token(session, user=user, name="race", now=utcnow()).secret


@pytest.mark.slow
@pytest.mark.parametrize("scenario", races.SCENARIOS)
def test_racing_threads_of_one_app_get_exactly_the_allowed_outcome(
    raced: tuple[str, Engine], scenario: str, tmp_path: Path
) -> None:
    from agritrace.web import create_app

    url, engine = raced
    _prepare(engine, scenario)
    token = _operator_token(engine)
    settings = make_settings(tmp_path / "instance", url)
    KeyRing.create(settings.keys_dir, PASSPHRASE)
    app = create_app(settings, engine=engine, rate_limits=NO_LIMITS)
    count = races.RACERS[scenario]
    barrier = threading.Barrier(count)
    statuses: list[int] = []

    def racer(i: int) -> None:
        client = app.test_client()
        path, body = races.api_request(scenario, i)
        client.get("/api/v1/lots", headers={"Authorization": f"Bearer {token}"})
        barrier.wait(timeout=60)
        response = client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=racer, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    outcomes = ["ok" if status == 201 else str(status) for status in statuses]
    _expect(outcomes, scenario, str(HTTP_REFUSAL[scenario]))
    _check_books(engine, scenario)


def test_a_writer_that_read_first_checks_what_others_committed_since(
    raced: tuple[str, Engine],
) -> None:
    """A request reads the lot (its page, its user) before it writes: the rule must still
    see the stamps another writer issued in between (SQLite: no stale snapshot, no 'database
    is locked'; both: no stale object)."""
    _url, engine = raced
    _prepare(engine, "stamps")
    sessions = make_sessionmaker(engine)
    with sessions() as early, sessions() as other:
        seen = registry.get_lot(early, races.LOT)
        assert seen.units_issued == 0
        issuance.issue_batch(other, lot_ref=races.LOT, count=60, key_id=0, prefix=races.PREFIX)
        with pytest.raises(InvalidInputError, match="40 left") as refused:
            issuance.issue_batch(early, lot_ref=races.LOT, count=60, key_id=0, prefix=races.PREFIX)
        assert refused.value.key == "stamps.exceed_units"
        early.rollback()
        issuance.issue_batch(early, lot_ref=races.LOT, count=40, key_id=0, prefix=races.PREFIX)
    _check_books(engine, "stamps")
