"""Stamp issuance: a batch is a contiguous serial range for one lot, one row and one ledger
entry whatever its size.

Rules (checked before anything is written): the count is a positive whole number; the lot
exists and is not recalled; its facility is active and holds a certificate valid today; the
stamps issued for the lot never exceed its declared units (mass balance). The lot row is
locked before any of that is read (:mod:`agritrace.trace.locks`), and its maintained
``units_issued`` count is checked and raised under that lock (the database's CHECK
``units_issued <= units`` backs it), so concurrent requests never issue more than the
units. Serials come from one global counter locked for the transaction, so concurrent
issuance never hands out a serial twice; the batch row, the counter, the lot's count and
the ledger entry commit together.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from agritrace.db import begin_write, utcnow
from agritrace.errors import ConflictError, InvalidInputError, NotFoundError
from agritrace.ledger import store
from agritrace.ledger.store import NewEntry
from agritrace.stamps import claims
from agritrace.stamps.codec import MAX_SERIAL, sign_serials
from agritrace.stamps.printing import PrintItem
from agritrace.stamps.signing import make_print_items
from agritrace.trace.locks import lock_lot, share_facilities
from agritrace.trace.models import (
    FacilityStatus,
    Lot,
    LotStatus,
    SerialCounter,
    StampBatch,
)
from agritrace.trace.registry import get_lot, lot_subject, valid_certificate
from agritrace.trace.validation import parse_positive_int

__all__ = [
    "MAX_BATCH",
    "batch_for_serial",
    "batch_record",
    "check_printable",
    "get_batch",
    "issue_batch",
    "issued_for_lot",
    "list_batches",
    "print_items",
]

#: Largest batch in one request (a province issued 1.7 million stamps in a year, in total).
MAX_BATCH = 2_000_000


def issued_for_lot(session: Session, lot: Lot) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(StampBatch.count), 0)).where(StampBatch.lot_id == lot.id)
    )
    return int(total or 0)


def issue_batch(
    session: Session,
    *,
    lot_ref: str,
    count: str | int,
    key_id: int,
    prefix: str,
    now: dt.datetime | None = None,
    claim_codes: bool = False,
) -> StampBatch:
    """Issue ``count`` stamps for the lot ``FACILITY/LOT`` under stamp key ``key_id``.

    ``prefix`` is the issuer's stamp URL prefix (``HTTPS://HOST/S/``), recorded with the
    batch so that reprints give identical codes. ``claim_codes`` gives the batch a random
    claim key, so that each stamp has a claim code to print under a scratch-off layer
    (:mod:`agritrace.stamps.claims`; the ledger entry says the batch has them). Raises
    InvalidInputError, NotFoundError or ConflictError (writing nothing) when a rule is
    broken. Commits.
    """
    amount = parse_positive_int(count, field="count", maximum=MAX_BATCH)
    moment = now or utcnow()
    begin_write(session)
    lot = lock_lot(session, lot_ref)
    share_facilities(session, [lot.facility.code])
    ref = lot.ref
    if lot.status is LotStatus.RECALLED:
        raise ConflictError(key="stamps.lot_recalled", lot=ref)
    if lot.facility.status is not FacilityStatus.ACTIVE:
        raise ConflictError(key="facility.suspended", facility=lot.facility.code, lot=ref)
    certificate = valid_certificate(lot.facility, moment.date())
    already = lot.units_issued
    if already + amount > lot.units:
        raise InvalidInputError(
            key="stamps.exceed_units",
            field="count",
            count=amount,
            lot=ref,
            units=lot.units,
            issued=already,
            left=lot.units - already,
        )
    counter = session.scalars(
        select(SerialCounter).where(SerialCounter.id == 1).with_for_update()
    ).one_or_none()
    if counter is None:
        raise NotFoundError(key="stamps.no_counter")
    first = counter.next_serial
    if first + amount - 1 > MAX_SERIAL:
        raise ConflictError(key="stamps.serials_exhausted")
    counter.next_serial = first + amount
    lot.units_issued = already + amount
    body: dict[str, Any] = {
        "type": "stamp-batch",
        "lot": ref,
        "facility": lot.facility.code,
        "first_serial": first,
        "count": amount,
        "key_id": key_id,
        "prefix": prefix,
        "certificate": certificate.number,
        "issued_at": moment.astimezone(dt.UTC).isoformat(timespec="seconds"),
    }
    if claim_codes:
        body["claim_codes"] = True
    [entry] = store.append(session, [NewEntry(body=body, subjects=(lot_subject(lot),))])
    batch = StampBatch(
        lot=lot,
        first_serial=first,
        count=amount,
        key_id=key_id,
        prefix=prefix,
        ledger_index=entry.index,
        created_at=moment,
        claim_key=claims.new_claim_key().hex() if claim_codes else None,
    )
    session.add(batch)
    session.commit()
    return batch


def get_batch(session: Session, batch_id: int | str) -> StampBatch:
    number = parse_positive_int(batch_id, field="batch", maximum=2**31 - 1)
    batch = session.get(StampBatch, number)
    if batch is None:
        raise NotFoundError(key="stamps.batch_unknown", batch=number)
    return batch


def batch_for_serial(session: Session, serial: int) -> StampBatch | None:
    """The batch whose range holds ``serial``, if any (one indexed lookup)."""
    batch = session.scalars(
        select(StampBatch)
        .where(StampBatch.first_serial <= serial)
        .order_by(StampBatch.first_serial.desc())
        .limit(1)
    ).first()
    if batch is None or serial > batch.last_serial:
        return None
    return batch


def list_batches(session: Session, *, lot_ref: str | None = None) -> list[StampBatch]:
    query = select(StampBatch).order_by(StampBatch.first_serial)
    if lot_ref:
        query = query.where(StampBatch.lot_id == get_lot(session, lot_ref).id)
    return list(session.scalars(query))


def print_items(
    batch: StampBatch, *, private_key: Ed25519PrivateKey, parallel: bool = True
) -> Iterator[PrintItem]:
    """The batch's stamps, signed again (identically) for printing, in serial order, each
    with its claim code when the batch has them."""
    items = _signed_items(batch, private_key=private_key, parallel=parallel)
    if batch.claim_key is None:
        return items
    key = bytes.fromhex(batch.claim_key)
    return (
        dataclasses.replace(item, claim=claims.to_text(claims.claim_code(key, item.serial)))
        for item in items
    )


def _signed_items(
    batch: StampBatch, *, private_key: Ed25519PrivateKey, parallel: bool
) -> Iterator[PrintItem]:
    if parallel:
        return make_print_items(
            batch.first_serial,
            batch.count,
            key_id=batch.key_id,
            private_key=private_key,
            prefix=batch.prefix,
        )
    stamps = sign_serials(
        batch.first_serial,
        batch.count,
        key_id=batch.key_id,
        private_key=private_key,
        prefix=batch.prefix,
    )
    return (PrintItem.from_stamp(stamp, batch.prefix) for stamp in stamps)


def batch_record(batch: StampBatch) -> dict[str, Any]:
    return {
        "id": batch.id,
        "lot": batch.lot.ref,
        "first_serial": batch.first_serial,
        "last_serial": batch.last_serial,
        "count": batch.count,
        "key_id": batch.key_id,
        "prefix": batch.prefix,
        "ledger_index": batch.ledger_index,
        "created_at": batch.created_at.isoformat(),
        "claim_codes": batch.claim_key is not None,
    }


def check_printable(batch: StampBatch) -> None:
    """Raise ConflictError unless ``batch`` may be downloaded or reprinted now: never for a
    suspended facility (a suspension must stop new labels reaching goods, not only new
    batches) nor for a recalled lot (its goods are being withdrawn; the stamps already on
    them keep verifying, and say "recalled")."""
    lot = batch.lot
    ref = lot.ref
    if lot.facility.status is not FacilityStatus.ACTIVE:
        raise ConflictError(key="stamps.print_suspended", facility=lot.facility.code, lot=ref)
    if lot.status is LotStatus.RECALLED:
        raise ConflictError(key="stamps.print_recalled", lot=ref, batch=batch.id)
