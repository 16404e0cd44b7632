"""What a consumer's scan finds: the verdict on a stamp, and the record of its scans.

:func:`check_stamp` judges a scanned code or URL and gathers what the scan page shows;
:func:`record_scan` counts a scan (and a coarse place the visitor chose to share);
:func:`scan_stamp` does both in the order the scan page needs. No web framework here.

Verdict rules, first match wins for the verdict (every reason that applies is reported):

1. **not_genuine** when the code is ``malformed`` (or longer than :data:`MAX_INPUT_CHARS`),
   names another issuer's address (``wrong-issuer``), a key the issuer never published
   (``unknown-key``), carries a signature that does not match (``bad-signature``), is signed
   correctly for a serial that was never issued (``unknown-serial``), or for a serial whose
   batch was issued under another key (``wrong-key``: only a leaked old key makes that).
2. **recalled** when the stamp's lot has status ``recalled`` (``lot-recalled``); suspicious
   signals are still reported as further reasons.
3. **suspicious** only on strong evidence: a reviewer (an inspector, or an operator of the
   lot's facility) confirmed a flag (``review-confirmed``, with the reviewer's reason), or
   the stamp's claim code was entered correctly by a second client after the first claim
   (``claimed-twice``: one of the two items is a clone), unless a reviewer cleared it since.
4. **genuine** otherwise.

Signals that one client could fake are **notes**, shown but never turning the verdict red
(ADR 0009): ``many-scans`` when more than :data:`MAX_PLAUSIBLE_SCANS` distinct clients
scanned the stamp (each client counts once per stamp per day,
:mod:`agritrace.trace.scan_signals`), ``distant-places`` when places more than
:data:`DISTANT_KM` apart were each reported by at least :data:`PLACE_MIN_CLIENTS` distinct
clients within :data:`DISTANT_WINDOW_H` hours. A note flags the stamp for review.

A suspended facility, or a lot whose facility held no valid certificate on the harvest date,
does not change the verdict (the stamp is real and the produce was made before): it is a
*caution* shown beside it.

Privacy: nothing that identifies a visitor is stored, ever: no IP address, no user agent. A
scan by a client not seen on this stamp today adds one to a per-stamp count (a row exists
only for stamps that were scanned), remembering only the client's keyed hash for this stamp
and day (pruned once the day is over); a shared
place is rounded to :data:`PLACE_DECIMALS` decimal (about 11 km) before it reaches the
database, and the list of recent places per stamp is kept only as long as the distant-places
rule needs it (at most :data:`RECENT_PLACES_KEPT`, none older than its window).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import threading
from bisect import bisect_right
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import (
    BigInteger,
    Engine,
    Integer,
    Select,
    bindparam,
    delete,
    func,
    select,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from agritrace.db import DirectStatements, UTCDateTime, begin_write, driver_rows, is_sqlite
from agritrace.errors import InvalidInputError, NotFoundError
from agritrace.ledger.store import LedgerHead, LedgerSubject, head
from agritrace.stamps.codec import (
    MalformedStampError,
    Stamp,
    StampVerificationError,
    parse,
    short_code,
    verify_stamp,
)
from agritrace.trace import scan_signals
from agritrace.trace.issuance import batch_for_serial
from agritrace.trace.models import (
    Certificate,
    CertificateStatus,
    Facility,
    FacilityStatus,
    Lot,
    LotStatus,
    Product,
    StampScanClient,
    StampScanPlace,
    StampScanState,
)
from agritrace.trace.provenance import JourneyStep, lot_journey
from agritrace.trace.registry import lot_subject, valid_certificate

__all__ = [
    "DISTANT_KM",
    "DISTANT_WINDOW_H",
    "MAX_INPUT_CHARS",
    "MAX_PLAUSIBLE_SCANS",
    "NEAR_KM",
    "PLACE_DECIMALS",
    "PLACE_MIN_CLIENTS",
    "RECENT_PLACES_KEPT",
    "BatchInfo",
    "Caution",
    "CertificateInfo",
    "FacilityInfo",
    "LotInfo",
    "Note",
    "Place",
    "ProductInfo",
    "Reason",
    "Review",
    "ScanCache",
    "ScanStats",
    "StampCheck",
    "Verdict",
    "check_stamp",
    "coarse_place",
    "distance_km",
    "distant_evidence",
    "ensure_state",
    "parse_place",
    "record_scan",
    "scan_stamp",
]

#: Longest scanned text that is even looked at (a stamp URL is under 160 characters).
MAX_INPUT_CHARS = 1024
#: A stamp scanned by more distinct clients (per day) than this gets the many-scans note:
#: one unit of produce is not scanned by twenty different people; a copied stamp on many
#: units may be.
MAX_PLAUSIBLE_SCANS = 20
#: Distinct clients that must report places near each other before that place is evidence.
PLACE_MIN_CLIENTS = 2
#: Places closer than this count as the same place when clients' reports are grouped.
NEAR_KM = 150.0
#: Two scans further apart than this ...
DISTANT_KM = 300.0
#: ... within this many hours of each other mean the stamp exists twice.
DISTANT_WINDOW_H = 6
#: Most recent places kept per stamp for the distant-places rule.
RECENT_PLACES_KEPT = 20
#: Decimals a shared place is rounded to (0.1 degree of latitude is about 11 km).
PLACE_DECIMALS = 1
#: Mean Earth radius (IUGG), for the haversine distance.
EARTH_RADIUS_KM = 6371.0088

_QUANTUM = Decimal(1).scaleb(-PLACE_DECIMALS)
_COORDINATE = re.compile(r"[+-]?[0-9]{1,3}(?:\.[0-9]{1,12})?", re.ASCII)
_RECALL_STEP = "recalled"

#: A coarse place: (latitude, longitude) in degrees, rounded to :data:`PLACE_DECIMALS`.
Place = tuple[Decimal, Decimal]


class Verdict(StrEnum):
    """What the consumer is told first."""

    GENUINE = "genuine"
    RECALLED = "recalled"
    SUSPICIOUS = "suspicious"
    NOT_GENUINE = "not_genuine"


class Reason(StrEnum):
    """Why a stamp is not simply genuine (stable slugs, shown translated)."""

    MALFORMED = "malformed"
    WRONG_ISSUER = "wrong-issuer"
    UNKNOWN_KEY = "unknown-key"
    BAD_SIGNATURE = "bad-signature"
    UNKNOWN_SERIAL = "unknown-serial"
    WRONG_KEY = "wrong-key"
    LOT_RECALLED = "lot-recalled"
    REVIEW_CONFIRMED = "review-confirmed"
    CLAIMED_TWICE = "claimed-twice"


class Note(StrEnum):
    """Signals any client could make up: shown, and flagging the stamp for review, but
    never changing the verdict."""

    MANY_SCANS = "many-scans"
    DISTANT_PLACES = "distant-places"


class Review(StrEnum):
    """A reviewer's decision on a flagged stamp."""

    CONFIRMED = "confirmed"
    CLEARED = "cleared"


class Caution(StrEnum):
    """Facts worth a warning that do not change the verdict."""

    FACILITY_SUSPENDED = "facility-suspended"
    NO_VALID_CERTIFICATE = "no-valid-certificate"


_NOT_GENUINE = frozenset(
    {
        Reason.MALFORMED,
        Reason.WRONG_ISSUER,
        Reason.UNKNOWN_KEY,
        Reason.BAD_SIGNATURE,
        Reason.UNKNOWN_SERIAL,
        Reason.WRONG_KEY,
    }
)


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(dt.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class ScanStats:
    """What is known about a stamp's scans: ``count`` distinct clients (each once per day;
    0 means never scanned, or not a real stamp), its claim and the latest review."""

    count: int = 0
    first_scan_at: dt.datetime | None = None
    last_scan_at: dt.datetime | None = None
    distant_places_at: dt.datetime | None = None
    claimed_at: dt.datetime | None = None
    claim_province: str | None = None
    clone_at: dt.datetime | None = None
    review: Review | None = None
    review_reason: str | None = None
    reviewed_at: dt.datetime | None = None

    @property
    def clone(self) -> bool:
        """A second client claimed the stamp, and no review cleared that since."""
        if self.clone_at is None:
            return False
        cleared = self.review is Review.CLEARED and self.reviewed_at is not None
        return not (cleared and self.reviewed_at >= self.clone_at)  # type: ignore[operator]

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "first_scan_at": _iso(self.first_scan_at),
            "last_scan_at": _iso(self.last_scan_at),
        }


@dataclass(frozen=True, slots=True)
class BatchInfo:
    id: int
    first_serial: int
    count: int
    key_id: int
    ledger_index: int
    issued_at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "first_serial": self.first_serial,
            "last_serial": self.first_serial + self.count - 1,
            "count": self.count,
            "key_id": self.key_id,
            "ledger_index": self.ledger_index,
            "issued_at": _iso(self.issued_at),
        }


@dataclass(frozen=True, slots=True)
class ProductInfo:
    code: str
    name: str
    category: str
    unit: str
    gtin: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "category": self.category,
            "unit": self.unit,
            "gtin": self.gtin,
        }


@dataclass(frozen=True, slots=True)
class LotInfo:
    ref: str
    code: str
    units: int
    quantity: str
    quantity_unit: str
    harvest_date: dt.date
    pack_date: dt.date | None
    origin_area: str
    recalled: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "code": self.code,
            "units": self.units,
            "quantity": self.quantity,
            "quantity_unit": self.quantity_unit,
            "harvest_date": self.harvest_date.isoformat(),
            "pack_date": self.pack_date.isoformat() if self.pack_date else None,
            "origin_area": self.origin_area,
            "status": LotStatus.RECALLED.value if self.recalled else LotStatus.ACTIVE.value,
        }


@dataclass(frozen=True, slots=True)
class FacilityInfo:
    code: str
    name: str
    province: str
    address: str
    suspended: bool
    status_reason: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "province": self.province,
            "address": self.address,
            "status": (FacilityStatus.SUSPENDED if self.suspended else FacilityStatus.ACTIVE).value,
            "status_reason": self.status_reason,
        }


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    """The facility's certificate that matters for the lot: the one valid on the harvest
    date if any (``valid_at_harvest``), else the one nearest to it, for display."""

    scheme: str
    scheme_label: str
    number: str
    issuer: str
    valid_from: dt.date
    valid_to: dt.date
    scope: str
    suspended: bool
    valid_at_harvest: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "scheme": self.scheme,
            "scheme_label": self.scheme_label,
            "number": self.number,
            "issuer": self.issuer,
            "valid_from": self.valid_from.isoformat(),
            "valid_to": self.valid_to.isoformat(),
            "scope": self.scope,
            "status": (
                CertificateStatus.SUSPENDED if self.suspended else CertificateStatus.ACTIVE
            ).value,
            "valid_at_harvest": self.valid_at_harvest,
        }


def _step_json(step: JourneyStep) -> dict[str, Any]:
    has_time = step.time.year > 1
    return {
        "ledger_index": step.ledger_index,
        "kind": step.kind,
        "step": step.step,
        "time": _iso(step.time) if has_time else None,
        "facility": step.facility_code or None,
        "facility_name": step.facility_name or None,
        "details": dict(step.details),
        "corrected": step.corrected,
        "correction_reason": step.correction_reason,
    }


@dataclass(frozen=True, slots=True)
class StampCheck:
    """Everything a scan of one code found, ready to show or serialise.

    ``reason`` is the reason behind the verdict (None when genuine); ``reasons`` lists every
    reason that applies, ``reason`` first. For a not-genuine code only ``verdict``,
    ``reason(s)``, ``serial`` (when the code was readable) and ``checked_at`` are set.
    ``recorded`` says whether this call counted a scan. ``notes`` are signals that do not
    change the verdict; ``claimable`` says the stamp has a claim code (scratch-off).
    """

    verdict: Verdict
    reason: Reason | None
    checked_at: dt.datetime
    reasons: tuple[Reason, ...] = ()
    cautions: tuple[Caution, ...] = ()
    notes: tuple[Note, ...] = ()
    claimable: bool = False
    serial: int | None = None
    batch: BatchInfo | None = None
    lot: LotInfo | None = None
    facility: FacilityInfo | None = None
    product: ProductInfo | None = None
    certificate: CertificateInfo | None = None
    scans: ScanStats = field(default_factory=ScanStats)
    journey: tuple[JourneyStep, ...] = ()
    recall: JourneyStep | None = None
    recorded: bool = False

    @property
    def short_code(self) -> str | None:
        """The human-readable code printed under the QR (for a readable serial)."""
        return short_code(self.serial) if self.serial is not None else None

    @property
    def certificate_valid_at_harvest(self) -> bool:
        return self.certificate is not None and self.certificate.valid_at_harvest

    def to_json(self) -> dict[str, Any]:
        """The API's representation (JSON-ready: strings, numbers, lists, objects)."""
        return {
            "verdict": self.verdict.value,
            "reason": self.reason.value if self.reason else None,
            "reasons": [r.value for r in self.reasons],
            "cautions": [c.value for c in self.cautions],
            "notes": [n.value for n in self.notes],
            "checked_at": _iso(self.checked_at),
            "serial": self.serial,
            "short_code": self.short_code,
            "batch": self.batch.to_json() if self.batch else None,
            "product": self.product.to_json() if self.product else None,
            "lot": self.lot.to_json() if self.lot else None,
            "facility": self.facility.to_json() if self.facility else None,
            "certificate": self.certificate.to_json() if self.certificate else None,
            "scans": self.scans.to_json(),
            "claim": self._claim_json(),
            "review": self._review_json(),
            "journey": [_step_json(step) for step in self.journey],
            "recall": _step_json(self.recall) if self.recall else None,
        }

    def _claim_json(self) -> dict[str, Any] | None:
        if not self.claimable:
            return None
        stats = self.scans
        return {
            "claimed": stats.claimed_at is not None,
            "claimed_on": stats.claimed_at.date().isoformat() if stats.claimed_at else None,
            "province": stats.claim_province,
            "claimed_twice": stats.clone,
        }

    def _review_json(self) -> dict[str, Any] | None:
        stats = self.scans
        if stats.review is None:
            return None
        return {
            "decision": stats.review.value,
            "reason": stats.review_reason,
            "reviewed_at": _iso(stats.reviewed_at),
        }


# -- places ---------------------------------------------------------------------------------


def coarse_place(lat: Decimal, lon: Decimal) -> Place:
    """Round a place to :data:`PLACE_DECIMALS` decimal; raises InvalidInputError if it is not
    a place on Earth (latitude -90..90, longitude -180..180)."""
    if not (lat.is_finite() and lon.is_finite()):
        raise InvalidInputError(key="place.not_finite", field="place")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InvalidInputError(key="place.out_of_range", field="place")
    return (
        lat.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN) + 0,  # + 0 turns -0.0 into 0.0
        lon.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN) + 0,
    )


def _coordinate(raw: str, name: str) -> Decimal:
    text = raw.strip().replace(",", ".")  # Vietnamese writes a decimal comma
    if not _COORDINATE.fullmatch(text):
        raise InvalidInputError(key="place.coordinate", field=name)
    return Decimal(text)


def parse_place(lat: str, lon: str) -> Place:
    """A place typed or sent by a visitor, as text (``"21.03"``, ``"105,85"``), rounded.

    Raises InvalidInputError for anything that is not a pair of coordinates on Earth.
    """
    return coarse_place(_coordinate(lat, "latitude"), _coordinate(lon, "longitude"))


def distance_km(a: Place, b: Place) -> float:
    """Great-circle (haversine) distance between two places, in kilometres."""
    lat1, lon1, lat2, lon2 = (math.radians(float(v)) for v in (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def distant_evidence(reports: Collection[tuple[Place, str]]) -> bool:
    """Whether ``reports`` (place, client key) show the stamp in two places more than
    :data:`DISTANT_KM` apart, each backed by at least :data:`PLACE_MIN_CLIENTS` distinct
    clients (reports within :data:`NEAR_KM` of a place back it). One client, or a few
    clients all on one side, never make evidence."""

    def backers(place: Place) -> set[str]:
        return {client for other, client in reports if distance_km(place, other) <= NEAR_KM}

    places = {place for place, _ in reports}
    strong = [p for p in places if len(backers(p)) >= PLACE_MIN_CLIENTS]
    return any(distance_km(a, b) > DISTANT_KM for a in strong for b in strong)


# -- recording ------------------------------------------------------------------------------


def _new_client(session: Session, serial: int, client: str, now: dt.datetime) -> int:
    """1 if ``client`` had not scanned ``serial`` in this period (and remember that it has
    now), else 0; forgets the stamp's clients of past periods."""
    current = scan_signals.period(now)
    insert = sqlite_insert if is_sqlite(session) else pg_insert
    session.execute(
        delete(StampScanClient)
        .where(StampScanClient.serial == serial, StampScanClient.period < current)
        .execution_options(synchronize_session=False)
    )
    fresh = session.execute(
        insert(StampScanClient)
        .values(serial=serial, period=current, client=client)
        .on_conflict_do_nothing()
        .returning(StampScanClient.serial)
    ).first()
    return 0 if fresh is None else 1


def _upsert(session: Session, serial: int, now: dt.datetime, *, increment: int) -> StampScanState:
    """Create the stamp's row or add ``increment`` (0 or 1) to its count, atomically, and
    return the row as it now is (one statement: INSERT .. ON CONFLICT .. RETURNING). An
    increment of 0 still makes the row exist and locks it like a counted scan would."""
    insert = sqlite_insert if is_sqlite(session) else pg_insert
    statement = insert(StampScanState).values(
        serial=serial, scan_count=increment, first_scan_at=now, last_scan_at=now
    )
    changes: dict[str, Any] = (
        {"scan_count": StampScanState.scan_count + 1, "last_scan_at": now}
        if increment
        else {"scan_count": StampScanState.scan_count}
    )
    upsert = statement.on_conflict_do_update(index_elements=["serial"], set_=changes)
    return session.scalars(
        upsert.returning(StampScanState), execution_options={"populate_existing": True}
    ).one()


def ensure_state(session: Session, serial: int, now: dt.datetime) -> StampScanState:
    """The stamp's scan state row, created (uncounted) if missing and locked for this
    transaction (for claims and reviews, inside the caller's write transaction)."""
    return _upsert(session, serial, now, increment=0)


def _state(session: Session, serial: int) -> StampScanState | None:
    return session.scalars(
        select(StampScanState)
        .where(StampScanState.serial == serial)
        .execution_options(populate_existing=True)
    ).one_or_none()


def _stats(state: StampScanState | None) -> ScanStats:
    if state is None:
        return ScanStats()
    return _stats_of(
        state.scan_count,
        state.first_scan_at,
        state.last_scan_at,
        *(getattr(state, name) for name in _STATS_COLUMNS),
    )


#: The state's columns a verdict needs besides the count and scan times, in this order.
_STATS_COLUMNS = (
    "distant_places_at",
    "claimed_at",
    "claim_province",
    "clone_at",
    "review",
    "review_reason",
    "reviewed_at",
)


def _stats_of(*row: Any) -> ScanStats:
    count, first, last, distant, claimed, province, clone, review, reason, reviewed = row
    return ScanStats(
        count=count,
        first_scan_at=_utc(first),
        last_scan_at=_utc(last),
        distant_places_at=_utc(distant),
        claimed_at=_utc(claimed),
        claim_province=province,
        clone_at=_utc(clone),
        review=Review(review) if review else None,
        review_reason=reason,
        reviewed_at=_utc(reviewed),
    )


def _record_place(
    session: Session, state: StampScanState, place: Place, now: dt.datetime, client: str
) -> None:
    """Keep ``client``'s place for the stamp (its first one in the window only: a client
    reports one place per stamp) and set ``distant_places_at`` when the recent places of
    distinct clients are evidence (:func:`distant_evidence`)."""
    window = dt.timedelta(hours=DISTANT_WINDOW_H)
    recent = session.execute(
        select(StampScanPlace.lat, StampScanPlace.lon, StampScanPlace.client)
        .where(StampScanPlace.serial == state.serial, StampScanPlace.at >= now - window)
        .order_by(StampScanPlace.at.desc(), StampScanPlace.id.desc())
        .limit(RECENT_PLACES_KEPT)
    ).all()
    reports = [((lat, lon), who or "") for lat, lon, who in recent]
    if any(who == client for _, who in reports):
        return
    reports.append((place, client))
    session.add(
        StampScanPlace(serial=state.serial, lat=place[0], lon=place[1], at=now, client=client)
    )
    state.last_place_lat, state.last_place_lon = place
    state.last_place_at = now
    if state.distant_places_at is None and distant_evidence(reports):
        state.distant_places_at = now
    session.flush()
    # Keep the table bounded: only places the rule can still use, at most RECENT_PLACES_KEPT.
    keep = (
        select(StampScanPlace.id)
        .where(StampScanPlace.serial == state.serial)
        .order_by(StampScanPlace.at.desc(), StampScanPlace.id.desc())
        .limit(RECENT_PLACES_KEPT)
        .scalar_subquery()
    )
    session.execute(
        delete(StampScanPlace)
        .where(StampScanPlace.serial == state.serial)
        .where((StampScanPlace.at < now - window) | StampScanPlace.id.not_in(keep))
        .execution_options(synchronize_session=False)
    )


def _begin_count(session: Session) -> None:
    """Start counting as a writer. On SQLite, first end the read transaction the lookups
    before may have opened: upgrading a read snapshot that another writer has since moved
    past fails at once with "database is locked", whereas ``BEGIN IMMEDIATE`` waits its turn.
    The reads were cache fills; nothing here depends on them staying in one transaction."""
    if is_sqlite(session) and session.in_transaction():
        session.commit()
    begin_write(session)


def record_scan(
    session: Session,
    serial: int,
    *,
    client: str,
    place: Place | None,
    now: dt.datetime,
    count: bool = True,
) -> ScanStats:
    """Count one scan of ``serial`` at ``now`` by ``client`` (its key for this stamp and
    day, :func:`~agritrace.trace.scan_signals.client_key`: a client counts once per stamp
    per day) and, if given, the coarse ``place`` it was made at (one per client); return
    the stamp's updated stats. Commits.

    ``count=False`` records only the place (the visitor's scan was counted already). The
    place is rounded again here, so nothing finer than :data:`PLACE_DECIMALS` is ever stored.
    The caller must have checked that ``serial`` is a genuine, issued stamp. Concurrent
    scans of one stamp serialize on its row; none is lost.
    """
    if now.tzinfo is None:
        raise InvalidInputError("record_scan needs an aware time")
    coarse = coarse_place(*place) if place is not None else None
    _begin_count(session)
    if not is_sqlite(session):
        # Scan counts are statistics, not records: a crash may lose the last fraction of a
        # second of them, which saves a WAL flush per scan. Ledger writes keep full
        # durability (this applies to this transaction only).
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))
    increment = _new_client(session, serial, client, now) if count else 0
    state = _upsert(session, serial, now, increment=increment)
    if coarse is not None:
        _record_place(session, state, coarse, now, client)
    stats = _stats(state)
    session.commit()
    return stats


@functools.cache
def _count_statement() -> Select[Any]:
    """PostgreSQL: count a scan if its client is new to the stamp today (forgetting the
    clients of past days), relax this transaction's durability and read the ledger size, as
    one statement (built once: building it costs more than running it)."""
    now = bindparam("now", type_=UTCDateTime())
    serial, period = bindparam("serial", type_=BigInteger()), bindparam("period", type_=Integer())
    fresh = (
        pg_insert(StampScanClient)
        .values(serial=serial, period=period, client=bindparam("client"))
        .on_conflict_do_nothing()
        .returning(StampScanClient.serial)
        .cte("fresh")
    )
    pruned = (
        delete(StampScanClient)
        .where(StampScanClient.serial == serial, StampScanClient.period < period)
        .returning(StampScanClient.serial)
        .cte("pruned")
    )
    increment = select(func.count()).select_from(fresh).scalar_subquery()
    insert = pg_insert(StampScanState).values(
        serial=serial, scan_count=increment, first_scan_at=now, last_scan_at=now
    )
    counted = (
        insert.on_conflict_do_update(
            index_elements=["serial"],
            set_={
                "scan_count": StampScanState.scan_count + insert.excluded.scan_count,
                "last_scan_at": now,
            },
        )
        .returning(
            StampScanState.scan_count,
            StampScanState.first_scan_at,
            StampScanState.last_scan_at,
            *(getattr(StampScanState, name) for name in _STATS_COLUMNS),
        )
        .cte("counted")
    )
    # A SELECT in a WITH runs only if the query uses it: the cross join makes sure it does.
    # The data-modifying ``pruned`` always runs; add_cte renders it though nothing reads it.
    relaxed = select(func.set_config("synchronous_commit", "off", true()).label("setting")).cte(
        "relaxed"
    )
    size = select(LedgerHead.size).where(LedgerHead.id == 1).scalar_subquery()
    return select(counted, size.label("ledger_size")).join(relaxed, true()).add_cte(pruned)


#: The count statement compiled for each dialect the process has met: SQL text for the
#: driver and the constant parameters SQLAlchemy gave it.
_COUNT_SQL: dict[type[Dialect], tuple[str, dict[str, Any]]] = {}


def _count_sql(dialect: Dialect) -> tuple[str, dict[str, Any]]:
    compiled = _COUNT_SQL.get(type(dialect))
    if compiled is None:
        statement = _count_statement().compile(dialect=dialect)
        compiled = _COUNT_SQL[type(dialect)] = (str(statement), dict(statement.params))
    return compiled


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    # As UTCDateTime reads a value (the driver gives aware times in the session's zone).
    return None if moment is None else moment.astimezone(dt.UTC)


def _count_scan(
    session: Session,
    serial: int,
    client: str,
    now: dt.datetime,
    direct: DirectStatements | None = None,
) -> tuple[ScanStats, int]:
    """Count one scan of ``serial`` by ``client`` (no place) and read the ledger size;
    commits.

    The scan page's hot path. On PostgreSQL the client's key, the count, the ledger-head
    read and the per-transaction ``synchronous_commit = off`` (as in :func:`record_scan`) go
    to the server as one statement, in autocommit when the session has not begun a
    transaction yet, so it is one round trip. It runs through the driver, on ``direct``'s
    connection when given (no pool checkout, session or autocommit switch per scan), else on
    the session's (:func:`~agritrace.db.driver_rows`). SQLite is in-process, so there it is
    the same steps one by one.
    """
    if is_sqlite(session):
        _begin_count(session)
        increment = _new_client(session, serial, client, now)
        stats = _stats(_upsert(session, serial, now, increment=increment))
        size = head(session).size
        session.commit()
        return stats, size
    values = {
        "serial": serial,
        "now": now.astimezone(dt.UTC),
        "client": client,
        "period": scan_signals.period(now),
    }
    if direct is not None:
        sql, constants = _count_sql(direct.dialect)
        rows = direct.rows(sql, {**constants, **values})
    else:
        if isinstance(session.get_bind(), Engine) and not session.in_transaction():
            # A single statement needs no BEGIN and COMMIT round trips: run it in autocommit.
            conn = session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        else:  # within a transaction already (a cache miss read something first)
            conn = session.connection()
        sql, constants = _count_sql(conn.dialect)
        rows = driver_rows(conn, sql, {**constants, **values})
        session.commit()
    if not rows or rows[0][-1] is None:
        raise NotFoundError("the ledger head row is missing: run 'agritrace init'")
    return _stats_of(*rows[0][:-1]), rows[0][-1]


# -- judging --------------------------------------------------------------------------------


def _identify(
    session: Session,
    code_or_url: str,
    prefix: str,
    public_keys: Mapping[int, Ed25519PublicKey],
    cache: ScanCache,
) -> tuple[Stamp | None, _CachedBatch | None, Reason | None]:
    """The verified stamp and its batch, or the reason it is not genuine."""
    if len(code_or_url) > MAX_INPUT_CHARS:
        return None, None, Reason.MALFORMED
    try:
        parsed = parse(code_or_url)
    except MalformedStampError:
        return None, None, Reason.MALFORMED
    stamp = parsed.stamp
    try:
        verify_stamp(stamp, prefix=prefix, public_keys=public_keys, scanned_prefix=parsed.prefix)
    except MalformedStampError:
        return stamp, None, Reason.MALFORMED
    except StampVerificationError as exc:
        return stamp, None, Reason(exc.reason)
    batch = cache.batch(session, stamp.serial)
    if batch is None:
        return stamp, None, Reason.UNKNOWN_SERIAL
    if batch.key_id != stamp.key_id:
        return stamp, None, Reason.WRONG_KEY
    return stamp, batch, None


def _certificate(facility: Facility, day: dt.date) -> CertificateInfo | None:
    try:
        chosen: Certificate = valid_certificate(facility, day)
        valid = True
    except InvalidInputError:
        certificates = list(facility.certificates)
        if not certificates:
            return None
        covering = [c for c in certificates if c.valid_from <= day <= c.valid_to]
        chosen = covering[0] if covering else max(certificates, key=lambda c: c.valid_to)
        valid = False
    return CertificateInfo(
        scheme=chosen.scheme.value,
        scheme_label=chosen.scheme.label,
        number=chosen.number,
        issuer=chosen.issuer,
        valid_from=chosen.valid_from,
        valid_to=chosen.valid_to,
        scope=chosen.scope,
        suspended=chosen.status is CertificateStatus.SUSPENDED,
        valid_at_harvest=valid,
    )


def _lot_info(lot: Lot) -> LotInfo:
    return LotInfo(
        ref=lot.ref,
        code=lot.code,
        units=lot.units,
        quantity=format(lot.quantity, "f"),
        quantity_unit=lot.quantity_unit,
        harvest_date=lot.harvest_date,
        pack_date=lot.pack_date,
        origin_area=lot.origin_area,
        recalled=lot.status is LotStatus.RECALLED,
    )


def _facility_info(facility: Facility) -> FacilityInfo:
    return FacilityInfo(
        code=facility.code,
        name=facility.name,
        province=facility.province,
        address=facility.address,
        suspended=facility.status is FacilityStatus.SUSPENDED,
        status_reason=facility.status_reason,
    )


def _product_info(product: Product) -> ProductInfo:
    return ProductInfo(
        code=product.code,
        name=product.name,
        category=product.category,
        unit=product.unit,
        gtin=product.gtin,
    )


@dataclass(frozen=True, slots=True)
class _CachedBatch:
    """An issued batch's immutable facts: its serial range, key and lot."""

    id: int
    first_serial: int
    last_serial: int
    key_id: int
    lot_id: int
    facility_id: int
    info: BatchInfo
    claimable: bool = False


@dataclass(frozen=True, slots=True)
class _LotView:
    """Everything a scan shows about a lot that changes only with a ledger entry about the
    lot or its facility."""

    lot: LotInfo
    facility: FacilityInfo
    product: ProductInfo
    certificate: CertificateInfo | None
    journey: tuple[JourneyStep, ...]
    recall: JourneyStep | None
    cautions: tuple[Caution, ...]


class ScanCache:
    """Read-mostly facts for scans, kept per process so a scan costs a few queries.

    Batches never change once issued, so serial ranges are kept for good. Lot views are
    kept until the ledger grows with an entry about their lot or facility: every change a
    scan page shows (recall, suspension, certificate, event, correction) is such an entry,
    so one primary-key read of the ledger head per scan keeps the cache exact. Thread-safe.
    """

    def __init__(self, *, max_lots: int = 20_000) -> None:
        self._lock = threading.Lock()
        self._size: int | None = None
        self._starts: list[int] = []
        self._batches: list[_CachedBatch] = []
        self._views: dict[int, _LotView] = {}
        self._subjects: dict[int, tuple[str, str]] = {}
        self._max_lots = max_lots

    def refresh(self, session: Session, *, size: int | None = None) -> None:
        """Drop lot views made stale by ledger entries appended since the last look
        (``size``: the ledger size just read, if the caller has it)."""
        if size is None:
            size = head(session).size
        with self._lock:
            known = self._size
            if known == size:
                return
            self._size = size
        if known is None or size < known:
            with self._lock:
                self._views.clear()
            return
        subjects = set(
            session.scalars(
                select(LedgerSubject.subject).where(
                    LedgerSubject.idx >= known, LedgerSubject.idx < size
                )
            )
        )
        with self._lock:
            for lot_id in list(self._views):
                view_subjects = self._subjects.get(lot_id, ())
                if any(subject in subjects for subject in view_subjects):
                    del self._views[lot_id]

    def batch(self, session: Session, serial: int) -> _CachedBatch | None:
        with self._lock:
            position = bisect_right(self._starts, serial) - 1
            if position >= 0 and serial <= self._batches[position].last_serial:
                return self._batches[position]
        found = batch_for_serial(session, serial)
        if found is None:
            return None
        cached = _CachedBatch(
            id=found.id,
            first_serial=found.first_serial,
            last_serial=found.last_serial,
            key_id=found.key_id,
            lot_id=found.lot_id,
            facility_id=found.lot.facility_id,
            claimable=found.claim_key is not None,
            info=BatchInfo(
                id=found.id,
                first_serial=found.first_serial,
                count=found.count,
                key_id=found.key_id,
                ledger_index=found.ledger_index,
                issued_at=found.created_at,
            ),
        )
        with self._lock:
            position = bisect_right(self._starts, cached.first_serial)
            if position == 0 or self._batches[position - 1].id != cached.id:
                self._starts.insert(position, cached.first_serial)
                self._batches.insert(position, cached)
        return cached

    def view(self, session: Session, batch: _CachedBatch) -> _LotView:
        with self._lock:
            cached = self._views.get(batch.lot_id)
        if cached is not None:
            return cached
        lot = session.get(Lot, batch.lot_id)
        if lot is None:  # pragma: no cover - a batch always has its lot (foreign key)
            raise NotFoundError(f"lot {batch.lot_id} is missing")
        view = _lot_view(session, lot)
        with self._lock:
            if len(self._views) >= self._max_lots:
                self._views.clear()
                self._subjects.clear()
            self._views[batch.lot_id] = view
            self._subjects[batch.lot_id] = (lot_subject(lot), f"facility:{lot.facility_id}")
        return view


def _lot_view(session: Session, lot: Lot) -> _LotView:
    facility = lot.facility
    journey = tuple(lot_journey(session, lot))
    certificate = _certificate(facility, lot.harvest_date)
    cautions = []
    if facility.status is FacilityStatus.SUSPENDED:
        cautions.append(Caution.FACILITY_SUSPENDED)
    if certificate is None or not certificate.valid_at_harvest:
        cautions.append(Caution.NO_VALID_CERTIFICATE)
    recalls = [step for step in journey if step.step == _RECALL_STEP]
    return _LotView(
        lot=_lot_info(lot),
        facility=_facility_info(facility),
        product=_product_info(lot.product),
        certificate=certificate,
        journey=journey,
        recall=recalls[-1] if recalls else None,
        cautions=tuple(cautions),
    )


def _judge(
    view: _LotView,
    stamp: Stamp,
    batch: _CachedBatch,
    stats: ScanStats,
    *,
    now: dt.datetime,
    recorded: bool,
) -> StampCheck:
    notes = []
    if stats.count > MAX_PLAUSIBLE_SCANS:
        notes.append(Note.MANY_SCANS)
    if stats.distant_places_at is not None:
        notes.append(Note.DISTANT_PLACES)
    signals = []
    if stats.review is Review.CONFIRMED:
        signals.append(Reason.REVIEW_CONFIRMED)
    if stats.clone:
        signals.append(Reason.CLAIMED_TWICE)
    if view.lot.recalled:
        verdict, reasons = Verdict.RECALLED, (Reason.LOT_RECALLED, *signals)
    elif signals:
        verdict, reasons = Verdict.SUSPICIOUS, tuple(signals)
    else:
        verdict, reasons = Verdict.GENUINE, ()
    return StampCheck(
        verdict=verdict,
        reason=reasons[0] if reasons else None,
        reasons=reasons,
        cautions=view.cautions,
        notes=tuple(notes),
        claimable=batch.claimable,
        checked_at=now,
        serial=stamp.serial,
        batch=batch.info,
        lot=view.lot,
        facility=view.facility,
        product=view.product,
        certificate=view.certificate,
        scans=stats,
        journey=view.journey,
        recall=view.recall,
        recorded=recorded,
    )


def _not_genuine(stamp: Stamp | None, reason: Reason, now: dt.datetime) -> StampCheck:
    return StampCheck(
        verdict=Verdict.NOT_GENUINE,
        reason=reason,
        reasons=(reason,),
        checked_at=now,
        serial=stamp.serial if stamp is not None else None,
    )


def check_stamp(
    session: Session,
    code_or_url: str,
    *,
    prefix: str,
    public_keys: Mapping[int, Ed25519PublicKey],
    now: dt.datetime,
    cache: ScanCache | None = None,
) -> StampCheck:
    """Judge a scanned code or stamp URL (any letter case) without recording anything.

    ``prefix`` is this issuer's stamp prefix (``HTTPS://HOST/S/``) and ``public_keys`` its
    stamp keys by id, active and retired. Never raises for a bad code: a code that is not
    a genuine issued stamp gets verdict ``not_genuine`` with its reason. ``now`` is the time
    the verdict is given for.
    """
    cache = cache or ScanCache()
    cache.refresh(session)
    stamp, batch, reason = _identify(session, code_or_url, prefix, public_keys, cache)
    if reason is not None or stamp is None or batch is None:
        return _not_genuine(stamp, reason or Reason.MALFORMED, now)
    stats = _stats(_state(session, stamp.serial))
    return _judge(cache.view(session, batch), stamp, batch, stats, now=now, recorded=False)


def scan_stamp(
    session: Session,
    code_or_url: str,
    *,
    prefix: str,
    public_keys: Mapping[int, Ed25519PublicKey],
    now: dt.datetime,
    client: Callable[[int], str],
    place: Place | None = None,
    count: bool = True,
    counted: Collection[int] = frozenset(),
    cache: ScanCache | None = None,
    direct: DirectStatements | None = None,
) -> StampCheck:
    """What the scan page does: judge the code and, for a genuine issued stamp, record the
    scan (``count``) and the shared ``place`` first, so the verdict includes this scan.

    ``client`` gives the visitor's key for a serial (a keyed hash of its address for that
    stamp and day, :func:`~agritrace.trace.scan_signals.client_key`): a client counts once
    per stamp per day, and reports one place per stamp.
    ``counted`` are serials whose scans by this visitor were counted already (the browser
    keeps that list, not the server): opening the page again, or switching its language,
    is not a new scan. Codes that are not genuine are never recorded (forgers must not fill
    the table). Commits when it records. Never raises for a bad code (see
    :func:`check_stamp`). ``direct`` (PostgreSQL) runs the plain count on its own
    connection instead of the session's.
    """
    cache = cache or ScanCache()
    stamp, batch, reason = _identify(session, code_or_url, prefix, public_keys, cache)
    if reason is not None or stamp is None or batch is None:
        return _not_genuine(stamp, reason or Reason.MALFORMED, now)
    count = count and stamp.serial not in counted
    if count and place is None:
        # The common case: one round trip counts the scan and says whether the ledger grew.
        stats, size = _count_scan(session, stamp.serial, client(stamp.serial), now, direct)
        cache.refresh(session, size=size)
        recorded = True
    else:
        cache.refresh(session)
        if count or place is not None:
            stats = record_scan(
                session,
                stamp.serial,
                client=client(stamp.serial),
                place=place,
                now=now,
                count=count,
            )
            recorded = count
        else:
            stats, recorded = _stats(_state(session, stamp.serial)), False
    return _judge(cache.view(session, batch), stamp, batch, stats, now=now, recorded=recorded)
