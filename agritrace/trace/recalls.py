"""Recalls: an inspector recalls a lot; every lot made from it is recalled with it.

A recall is one ledger entry naming the lot, the reason and every downstream lot it
reaches through transformations; each affected lot is marked recalled, so all of its stamps
verify as recalled. After each recall the signed revocation list of recalled serial ranges
is re-signed and stored, for offline verifiers and ``/.well-known/agritrace/revocations.json``.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from agritrace.db import begin_write, utcnow
from agritrace.errors import ConflictError
from agritrace.ledger import store
from agritrace.ledger.store import NewEntry
from agritrace.stamps.revocations import sign_revocations
from agritrace.trace.event_models import LotInput, Recall, RevocationList
from agritrace.trace.locks import lock_lots
from agritrace.trace.models import Lot, LotStatus, StampBatch
from agritrace.trace.registry import facility_subject, get_lot, lot_subject
from agritrace.trace.validation import check_text

__all__ = [
    "downstream_lots",
    "latest_revocations",
    "recall_lot",
    "recall_record",
    "revocation_payload",
    "sign_revocation_list",
]


def downstream_lots(session: Session, lot: Lot) -> list[Lot]:
    """Every lot made, directly or through other lots, from ``lot`` (breadth first)."""
    found: dict[int, Lot] = {}
    frontier = [lot.id]
    while frontier:
        made = list(
            session.scalars(
                select(Lot)
                .join(LotInput, LotInput.output_lot_id == Lot.id)
                .where(LotInput.input_lot_id.in_(frontier))
                .order_by(Lot.id)
            )
        )
        frontier = [m.id for m in made if m.id not in found and m.id != lot.id]
        found.update((m.id, m) for m in made if m.id != lot.id)
    return list(found.values())


def _ref(lot: Lot) -> str:
    return lot.ref


def _lock_with_downstream(session: Session, lot_ref: str) -> Lot:
    """Lock the lot and every lot made from it, all in id order (locks.py), so that no event
    on any of them commits between the recall's check and its entry; repeats if a new lot
    was made from it meanwhile."""
    lot = get_lot(session, lot_ref)
    locked: set[int] = set()
    while True:
        family = [lot, *downstream_lots(session, lot)]
        if {member.id for member in family} <= locked:
            return lot
        refs = [_ref(member) for member in family]
        locked = set(lock_lots(session, refs))


def recall_lot(
    session: Session,
    *,
    lot_ref: str,
    reason: str,
    signer: tuple[int, Ed25519PrivateKey],
    now: dt.datetime | None = None,
) -> list[Recall]:
    """Recall the lot and everything made from it; re-sign the revocation list. Commits.

    ``signer`` is the active stamp key (id, private key) that signs the revocation list.
    Raises ConflictError if the lot is already recalled.
    """
    why = check_text(reason, field="reason", max_len=500)
    moment = now or utcnow()
    begin_write(session)
    lot = _lock_with_downstream(session, lot_ref)
    if lot.status is LotStatus.RECALLED:
        raise ConflictError(key="lot.already_recalled", lot=_ref(lot))
    affected = [lot] + [
        d for d in downstream_lots(session, lot) if d.status is not LotStatus.RECALLED
    ]
    batches = list(
        session.scalars(
            select(StampBatch)
            .where(StampBatch.lot_id.in_([a.id for a in affected]))
            .order_by(StampBatch.first_serial)
        )
    )
    body: dict[str, Any] = {
        "type": "recall",
        "step": "recalled",
        "lot": _ref(lot),
        "facility": lot.facility.code,
        "facility_name": lot.facility.name,
        "reason": why,
        "recalled_at": moment.astimezone(dt.UTC).isoformat(timespec="seconds"),
        "cascade": [_ref(a) for a in affected[1:]],
        "serial_ranges": [[b.first_serial, b.last_serial] for b in batches],
        "display": {"reason": why},
    }
    subjects = [lot_subject(a) for a in affected] + [facility_subject(lot.facility)]
    [entry] = store.append(session, [NewEntry(body=body, subjects=subjects)])
    recalls = []
    for item in affected:
        item.status = LotStatus.RECALLED
        recall = Recall(
            lot=item, root_lot=lot, ledger_index=entry.index, reason=why, recalled_at=moment
        )
        session.add(recall)
        recalls.append(recall)
    session.flush()
    _store_revocations(session, signer=signer, now=moment)
    session.commit()
    return recalls


def revocation_payload(session: Session, *, now: dt.datetime) -> dict[str, Any]:
    rows = session.execute(
        select(StampBatch, Recall)
        .join(Recall, Recall.lot_id == StampBatch.lot_id)
        .order_by(StampBatch.first_serial)
    )
    ranges = [
        {
            "first": batch.first_serial,
            "last": batch.last_serial,
            "lot": _ref(recall.lot),
            "reason": recall.reason,
            "recalled_at": recall.recalled_at.isoformat(timespec="seconds"),
            "ledger_index": recall.ledger_index,
        }
        for batch, recall in rows
    ]
    return {
        "issued_at": now.astimezone(dt.UTC).isoformat(timespec="seconds"),
        "ledger_size": store.head(session).size,
        "ranges": ranges,
    }


def _store_revocations(
    session: Session, *, signer: tuple[int, Ed25519PrivateKey], now: dt.datetime
) -> RevocationList:
    key_id, private_key = signer
    document = sign_revocations(
        revocation_payload(session, now=now), key_id=key_id, private_key=private_key
    )
    stored = RevocationList(issued_at=now, document=json.dumps(document, ensure_ascii=False))
    session.add(stored)
    return stored


def sign_revocation_list(
    session: Session, *, signer: tuple[int, Ed25519PrivateKey], now: dt.datetime | None = None
) -> RevocationList:
    """Re-sign and store the current list (also run by ``agritrace init``). Commits."""
    begin_write(session)
    stored = _store_revocations(session, signer=signer, now=now or utcnow())
    session.commit()
    return stored


def latest_revocations(session: Session) -> dict[str, Any] | None:
    """The newest signed revocation list document, if any was signed."""
    stored = session.scalars(
        select(RevocationList).order_by(RevocationList.id.desc()).limit(1)
    ).first()
    return None if stored is None else dict(json.loads(stored.document))


def recall_record(recall: Recall) -> dict[str, Any]:
    return {
        "lot": _ref(recall.lot),
        "recalled_because_of": _ref(recall.root_lot),
        "reason": recall.reason,
        "recalled_at": recall.recalled_at.isoformat(),
        "ledger_index": recall.ledger_index,
    }
