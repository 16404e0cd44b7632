"""Strong evidence about a stamp: claims of its scratch-off claim code, and reviewers'
decisions on flagged stamps (ADR 0009).

:func:`claim_stamp` records the first buyer's claim (when, and the coarse province they
chose; the client only as a keyed hash for this stamp), tells a returning claimant it is
theirs, and exposes a clone when a second client enters the right code. Wrong codes cost
one of the stamp's :data:`~agritrace.stamps.claims.MAX_CLAIM_FAILURES` attempts per day;
typos the check digit catches cost none. :func:`review_stamp` records an inspector's or
the lot's operator's decision (``confirmed`` or ``cleared``, with a reason) as a ledger
entry and on the stamp's scan state. Services take a session and commit; no web framework.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from agritrace.db import begin_write, is_sqlite
from agritrace.errors import AgritraceError, InvalidInputError, NotFoundError
from agritrace.ledger import store
from agritrace.ledger.store import NewEntry
from agritrace.stamps import claims
from agritrace.stamps.codec import MAX_SERIAL, short_code
from agritrace.trace import scan_signals
from agritrace.trace.access import check_facility
from agritrace.trace.issuance import batch_for_serial
from agritrace.trace.models import StampScanState, User
from agritrace.trace.scans import Review, ensure_state
from agritrace.trace.validation import check_text

__all__ = [
    "PROVINCES",
    "ClaimLockedError",
    "ClaimOutcome",
    "claim_stamp",
    "review_stamp",
    "stamp_subject",
]

#: Vietnam's 34 province-level units (since 1 July 2025): the only places a claim records.
PROVINCES = (
    "Hà Nội",
    "Hải Phòng",
    "Huế",
    "Đà Nẵng",
    "Thành phố Hồ Chí Minh",
    "Cần Thơ",
    "An Giang",
    "Bắc Ninh",
    "Cà Mau",
    "Cao Bằng",
    "Đắk Lắk",
    "Điện Biên",
    "Đồng Nai",
    "Đồng Tháp",
    "Gia Lai",
    "Hà Tĩnh",
    "Hưng Yên",
    "Khánh Hòa",
    "Lai Châu",
    "Lâm Đồng",
    "Lạng Sơn",
    "Lào Cai",
    "Nghệ An",
    "Ninh Bình",
    "Phú Thọ",
    "Quảng Ngãi",
    "Quảng Ninh",
    "Quảng Trị",
    "Sơn La",
    "Tây Ninh",
    "Thái Nguyên",
    "Thanh Hóa",
    "Tuyên Quang",
    "Vĩnh Long",
)


class ClaimOutcome(StrEnum):
    CLAIMED = "claimed"  # this client is the first to claim the item
    YOURS = "yours"  # the client that claimed it entered the code again
    CLONE = "clone"  # the right code from a second client: one of the items is a copy


class ClaimLockedError(AgritraceError):
    """Too many wrong claim codes for this stamp today (429). Fact: ``limit``."""

    http_status = 429
    slug = "claim-locked"


def stamp_subject(serial: int) -> str:
    """The ledger subject of entries about one stamp."""
    return f"stamp:{serial}"


def _begin(session: Session) -> None:
    """Start the write (on SQLite, ending a read transaction the caller's lookups opened
    first: a read snapshot cannot be upgraded once another writer moved past it, whereas
    ``BEGIN IMMEDIATE`` waits its turn). Everything the write depends on is read after."""
    if is_sqlite(session) and session.in_transaction():
        session.commit()
    begin_write(session)


def _province(raw: str | None) -> str | None:
    if not raw:
        return None
    if raw not in PROVINCES:
        raise InvalidInputError(key="claim.province", field="province")
    return raw


def _count_failure(session: Session, state: StampScanState, period: int) -> int:
    """Record one wrong code; return how many attempts are left today. Commits."""
    failures = (state.claim_failures or 0) if state.claim_failures_period == period else 0
    state.claim_failures, state.claim_failures_period = failures + 1, period
    session.commit()
    return claims.MAX_CLAIM_FAILURES - failures - 1


def claim_stamp(
    session: Session,
    *,
    serial: int,
    text: str,
    client: str,
    province: str | None,
    now: dt.datetime,
    mine: bool = False,
) -> ClaimOutcome:
    """Claim genuine, issued stamp ``serial`` with the claim code typed as ``text``.

    ``client`` is the claimant's key for this stamp
    (:func:`~agritrace.trace.scan_signals.claim_client_key`); ``mine`` says the claimant
    showed this stamp's claim receipt (a cookie the scan page gave the first claimant).
    Raises MalformedClaimError for text that is not a claim code (no attempt counted),
    InvalidInputError ``claim.unavailable`` for a stamp without claim codes or ``claim.wrong``
    for a wrong code (one attempt counted), ClaimLockedError once the day's attempts are
    spent (even for the right code). Commits.
    """
    digits = claims.from_text(text)
    chosen = _province(province)
    _begin(session)
    batch = batch_for_serial(session, serial)
    if batch is None or batch.claim_key is None:
        raise InvalidInputError(key="claim.unavailable", field="claim")
    key = bytes.fromhex(batch.claim_key)
    period = scan_signals.period(now)
    state = ensure_state(session, serial, now)
    if state.claim_failures_period == period and (
        (state.claim_failures or 0) >= claims.MAX_CLAIM_FAILURES
    ):
        session.commit()
        raise ClaimLockedError(key="claim.locked", limit=claims.MAX_CLAIM_FAILURES)
    if not claims.matches(claims.claim_code(key, serial), digits):
        left = _count_failure(session, state, period)
        raise InvalidInputError(key="claim.wrong", field="claim", left=max(left, 0))
    if state.claimed_at is None:
        state.claimed_at, state.claim_province, state.claim_client = now, chosen, client
        outcome = ClaimOutcome.CLAIMED
    elif mine or state.claim_client == client:
        outcome = ClaimOutcome.YOURS
    else:
        cleared = state.review == Review.CLEARED.value and state.reviewed_at is not None
        if state.clone_at is None or (cleared and state.reviewed_at >= state.clone_at):  # type: ignore[operator]
            state.clone_at = now
        outcome = ClaimOutcome.CLONE
    session.commit()
    return outcome


def review_stamp(
    session: Session,
    *,
    serial: int,
    decision: str,
    reason: str,
    user: User,
    now: dt.datetime,
) -> int:
    """Record ``user``'s decision on stamp ``serial``: ``confirmed`` (the stamp is shown
    suspicious, with ``reason``) or ``cleared`` (its notes and an earlier second claim no
    longer count against it). Inspectors and administrators review any stamp, an operator
    only its own facility's (PermissionDeniedError otherwise). Appends one ledger entry and
    returns its index; the caller signs a checkpoint after, as for every write. Commits.
    """
    try:
        verdict = Review(decision)
    except ValueError:
        raise InvalidInputError(key="review.decision", field="decision") from None
    why = check_text(reason, field="reason", max_len=500)
    _begin(session)
    batch = batch_for_serial(session, serial) if 0 <= serial <= MAX_SERIAL else None
    if batch is None:
        raise NotFoundError(key="review.unknown_stamp", serial=serial)
    lot = batch.lot
    check_facility(user, lot.facility)
    body: dict[str, Any] = {
        "type": "stamp-review",
        "serial": serial,
        "short_code": short_code(serial),
        "lot": lot.ref,
        "facility": lot.facility.code,
        "decision": verdict.value,
        "reason": why,
        "reviewer_role": user.role.value,
        "reviewed_at": now.astimezone(dt.UTC).isoformat(timespec="seconds"),
    }
    [entry] = store.append(session, [NewEntry(body=body, subjects=(stamp_subject(serial),))])
    state = ensure_state(session, serial, now)
    state.review, state.review_reason, state.reviewed_at = verdict.value, why, now
    state.review_ledger_index = entry.index
    session.commit()
    return entry.index
