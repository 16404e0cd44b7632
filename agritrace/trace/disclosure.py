"""What the public ledger reveals, and to whom the rest is opened.

A ledger entry is public: anyone can read ``/ledger/entries/<n>``. Entries that carry a
facility's commercial details (its trading partners, quantities, temperatures, notes) are
appended *sealed* (:mod:`agritrace.ledger.commitment`): each private field is replaced by a
salted commitment, and its opening (salt and value) is kept in ``entry_opening``, a table
apart from the ledger that is never published. ``docs/adr/0013-what-the-ledger-reveals.md``
says which fields are private and why.

Openings are shown only to those :func:`may_reveal` allows: administrators and inspectors,
and operators of a facility the entry is about (the recording facility, the trading partner
named by a shipment or receipt, the owner of a lot it concerns). Every opening read back is
verified against the public entry's commitment before use, so a changed opening row cannot
pass for what was recorded.

Entries recorded before sealing existed (version 1) stay as they are: their fields were
published when they were appended and cannot be unpublished without breaking every proof.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, LargeBinary, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from agritrace.db import Base
from agritrace.ledger import store
from agritrace.ledger.canonical import to_canonical_bytes
from agritrace.ledger.commitment import PRIVATE_MEMBER, Opening, is_sealed, reveal, seal
from agritrace.ledger.store import Appended, LedgerEntry, LedgerSubject, NewEntry
from agritrace.trace.models import Lot, Role, User

__all__ = [
    "PRIVATE_FIELDS",
    "Disclosure",
    "EntryOpening",
    "append_sealed",
    "bundle_openings",
    "disclose",
    "keep_openings",
    "may_reveal",
    "openings_for",
    "revealed_body",
    "revealed_entries",
    "revealed_entry",
    "seal_entry",
]

#: The private fields of each entry kind (see ADR 0013). An entry of a kind not named here,
#: or whose body has none of these fields, is appended as it is.
_EVENT_FIELDS = (
    "epcis.eventID",
    "epcis.quantityList",
    "epcis.inputQuantityList",
    "epcis.outputQuantityList",
    "epcis.destinationList",
    "epcis.sourceList",
    "epcis.sensorElementList",
    "epcis.agt:note",
    "display.quantity",
    "display.inputs",
    "display.outputs",
    "display.to",
    "display.from",
    "display.temperature",
    "display.note",
)
PRIVATE_FIELDS: Mapping[str, tuple[str, ...]] = {
    "event": _EVENT_FIELDS,
    "correction": _EVENT_FIELDS,
}


class EntryOpening(Base):
    """The opening of one private field of one sealed ledger entry (never published)."""

    __tablename__ = "entry_opening"

    idx: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("ledger_entry.idx"), primary_key=True, autoincrement=False
    )
    field: Mapped[str] = mapped_column(String(140), primary_key=True)
    salt: Mapped[bytes] = mapped_column(LargeBinary(32))
    value: Mapped[str] = mapped_column(Text)
    """The field's value as RFC 8785 canonical JSON text."""


def seal_entry(body: Mapping[str, Any]) -> tuple[dict[str, Any], tuple[Opening, ...]]:
    """The public form of ``body`` (sealed if its kind has private fields) and the openings
    to keep with :func:`keep_openings` once it has an index."""
    return seal(body, PRIVATE_FIELDS.get(str(body.get("type")), ()))


def append_sealed(session: Session, entries: Sequence[NewEntry]) -> list[Appended]:
    """:func:`agritrace.ledger.store.append` of ``entries`` sealed, keeping their openings in
    the same transaction (no commit). A sealed entry is never a duplicate of another (its
    salts are fresh), so callers that refuse duplicates check their own keys first."""
    sealed = [seal_entry(entry.body) for entry in entries]
    appended = store.append(
        session,
        [
            NewEntry(body=public, subjects=e.subjects)
            for (public, _), e in zip(sealed, entries, strict=True)
        ],
    )
    for result, (_, openings) in zip(appended, sealed, strict=True):
        if result.new:
            keep_openings(session, result.index, openings)
    return appended


def keep_openings(session: Session, index: int, openings: Iterable[Opening]) -> None:
    """Store the openings of entry ``index`` in the caller's transaction (no commit)."""
    session.add_all(
        EntryOpening(
            idx=index,
            field=o.field,
            salt=o.salt,
            value=to_canonical_bytes(o.value).decode("utf-8"),
        )
        for o in openings
    )


def openings_for(session: Session, index: int) -> list[Opening]:
    """The stored openings of entry ``index`` (none for a plain entry), not yet verified."""
    rows = session.scalars(
        select(EntryOpening).where(EntryOpening.idx == index).order_by(EntryOpening.field)
    )
    return [Opening(row.field, bytes(row.salt), json.loads(row.value)) for row in rows]


def revealed_body(session: Session, index: int, public: Mapping[str, Any]) -> dict[str, Any]:
    """Entry ``index``'s body (``public``, parsed) with its private fields restored, each
    verified against its commitment; raises CommitmentError if a stored opening does not
    verify. For a plain entry this is ``public`` itself."""
    if not is_sealed(public):
        return dict(public)
    return reveal(public, openings_for(session, index))


def revealed_entry(session: Session, index: int) -> dict[str, Any]:
    """Entry ``index`` as it was recorded, private fields restored and verified.

    For authorised server-side checks (``ledger verify --rules``, exports), never for a
    public answer. Raises NotFoundError for a missing entry, CommitmentError if an opening
    does not verify.
    """
    public = json.loads(store.get_entry(session, index).content)
    return revealed_body(session, index, public)


def revealed_entries(
    session: Session, *, start: int = 0, batch: int = 1000
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Every entry from ``start`` on, in ledger order, as :func:`revealed_entry` gives it
    (``(index, body)``), read ``batch`` entries at a time; for replaying the whole ledger."""
    position = start
    while True:
        rows = session.execute(
            select(LedgerEntry.idx, LedgerEntry.content)
            .where(LedgerEntry.idx >= position)
            .order_by(LedgerEntry.idx)
            .limit(batch)
        ).all()
        if not rows:
            return
        openings: dict[int, list[Opening]] = {}
        for row in session.scalars(
            select(EntryOpening).where(EntryOpening.idx.between(rows[0][0], rows[-1][0]))
        ):
            openings.setdefault(row.idx, []).append(
                Opening(row.field, bytes(row.salt), json.loads(row.value))
            )
        for index, content in rows:
            public = json.loads(content)
            yield index, reveal(public, openings.get(index, ())) if is_sealed(public) else public
        position = rows[-1][0] + 1


def _subjects(session: Session, index: int) -> list[str]:
    return list(session.scalars(select(LedgerSubject.subject).where(LedgerSubject.idx == index)))


def may_reveal(session: Session, user: User | None, index: int) -> bool:
    """Whether ``user`` may see entry ``index``'s private fields (see the module docstring)."""
    if user is None:
        return False
    if user.role in (Role.ADMIN, Role.INSPECTOR):
        return True
    if user.facility_id is None:
        return False
    subjects = _subjects(session, index)
    if f"facility:{user.facility_id}" in subjects:
        return True
    lot_ids = _lot_ids(subjects)
    if lot_ids and user.facility_id in set(
        session.scalars(select(Lot.facility_id).where(Lot.id.in_(lot_ids)))
    ):
        return True
    # A correction repeats the event it corrects: whoever may see that event may see it.
    corrects = json.loads(store.get_entry(session, index).content).get("corrects")
    return (
        isinstance(corrects, int) and 0 <= corrects < index and may_reveal(session, user, corrects)
    )


def _lot_ids(subjects: Sequence[str]) -> list[int]:
    found = []
    for subject in subjects:
        kind, _, raw = subject.partition(":")
        if kind == "lot" and raw.isascii() and raw.isdigit():
            found.append(int(raw))
    return found


@dataclass(frozen=True, slots=True)
class Disclosure:
    """What one reader may see of one entry."""

    body: dict[str, Any]
    """The entry to show: with its private fields restored when the reader may see them,
    else the public entry."""
    committed: dict[str, str]
    """Each private field's base64 commitment (empty for a plain entry)."""
    openings: tuple[Opening, ...]
    """The verified openings this reader may see (empty when none, or not allowed)."""

    @property
    def sealed(self) -> bool:
        return bool(self.committed)

    @property
    def revealed(self) -> bool:
        return bool(self.openings)


def disclose(
    session: Session, user: User | None, index: int, public: Mapping[str, Any]
) -> Disclosure:
    """Entry ``index`` (``public``, parsed) as ``user`` may see it; openings are verified
    against their commitments (CommitmentError if a stored one does not verify)."""
    if not is_sealed(public):
        return Disclosure(dict(public), {}, ())
    committed = {str(k): str(v) for k, v in public[PRIVATE_MEMBER].items()}
    if not may_reveal(session, user, index):
        return Disclosure(dict(public), committed, ())
    openings = tuple(openings_for(session, index))
    return Disclosure(reveal(public, openings), committed, openings)


def bundle_openings(session: Session, indices: Iterable[int]) -> list[dict[str, Any]]:
    """The ``openings`` section of a proof bundle of ``indices`` (each verified before it
    is shared); for the web and CLI to add only when the facility or inspector asks."""
    shared: list[dict[str, Any]] = []
    for index in indices:
        public = json.loads(store.get_entry(session, index).content)
        if not is_sealed(public):
            continue
        openings = openings_for(session, index)
        reveal(public, openings)  # raises if a stored opening does not verify
        shared.extend({"index": index, **o.to_json()} for o in openings)
    return shared
