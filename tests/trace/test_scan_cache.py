"""The per-process scan cache stays exact: every change a scan shows is a ledger entry about
the lot or its facility, and the cache drops exactly those views when the ledger grows."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from agritrace.stamps.codec import sign_stamp
from agritrace.trace import events, issuance, recalls, registry, scans
from tests.trace.chain import NOW, at, three_stages

PREFIX = "HTTPS://TRACE.EXAMPLE.VN/S/"


@pytest.fixture
def stamped(session: Session) -> tuple[Session, str, dict[int, object], Ed25519PrivateKey]:
    three_stages(session)
    key = Ed25519PrivateKey.generate()
    batch = issuance.issue_batch(
        session, lot_ref="HN-PACK-02/D1", count=10, key_id=0, prefix=PREFIX, now=NOW
    )
    url = sign_stamp(batch.first_serial, key_id=0, private_key=key, prefix=PREFIX).to_url(PREFIX)
    return session, url, {0: key.public_key()}, key


def _check(
    session: Session, url: str, keys: dict[int, object], cache: scans.ScanCache
) -> scans.StampCheck:
    return scans.check_stamp(session, url, prefix=PREFIX, public_keys=keys, now=NOW, cache=cache)  # type: ignore[arg-type]


def test_cached_view_follows_a_recall(
    stamped: tuple[Session, str, dict[int, object], Ed25519PrivateKey],
) -> None:
    session, url, keys, key = stamped
    cache = scans.ScanCache()
    assert _check(session, url, keys, cache).verdict is scans.Verdict.GENUINE
    recalls.recall_lot(session, lot_ref="HD-VAI-01/L1", reason="residue", signer=(0, key), now=NOW)
    assert _check(session, url, keys, cache).verdict is scans.Verdict.RECALLED


def test_cached_view_follows_a_suspension_and_a_new_event(
    stamped: tuple[Session, str, dict[int, object], Ed25519PrivateKey],
) -> None:
    session, url, keys, _ = stamped
    cache = scans.ScanCache()
    before = _check(session, url, keys, cache)
    assert scans.Caution.FACILITY_SUSPENDED not in before.cautions
    registry.suspend_facility(session, "HN-PACK-02", reason="audit failed")
    after = _check(session, url, keys, cache)
    assert scans.Caution.FACILITY_SUSPENDED in after.cautions
    events.record_event(
        session,
        step="storing",
        lot_ref="HN-PACK-02/D1",
        facility_code="HN-SHOP-03",
        event_time=at(15),
        temperature_c="20",
        now=NOW,
    )
    latest = _check(session, url, keys, cache)
    assert len(latest.journey) == len(after.journey) + 1


def test_unissued_serials_are_not_remembered(
    stamped: tuple[Session, str, dict[int, object], Ed25519PrivateKey],
) -> None:
    session, _, keys, key = stamped
    cache = scans.ScanCache()
    future = sign_stamp(11, key_id=0, private_key=key, prefix=PREFIX).to_url(PREFIX)
    assert _check(session, future, keys, cache).reason is scans.Reason.UNKNOWN_SERIAL
    issuance.issue_batch(
        session, lot_ref="HN-PACK-02/D1", count=5, key_id=0, prefix=PREFIX, now=NOW
    )
    assert _check(session, future, keys, cache).verdict is scans.Verdict.GENUINE
