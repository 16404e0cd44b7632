"""The business invariants, replayed from the ledger's entries alone.

The services check these rules inside a lock on what they consume (``locks.py``); this
module checks, after the fact and from the ledger only, that every entry kept them, so an
inspector does not have to trust the operator's database: ``agritrace ledger verify
--rules``. Pure: it takes entries as values and imports no database and no web framework.

Input: an iterable of ``(index, entry)`` in ledger order, each entry the parsed JSON body
of one ledger entry. :func:`replay` returns nothing when every rule holds and raises
:class:`RuleBrokenError` at the first entry that breaks one, naming its index, the rule
(a :class:`Rule`) and the lot or facility concerned.

Rules (each as the services enforce it, docs/adr/0011-invariants-under-concurrency.md):

- ``stamps-within-units``: the stamps issued for a lot never exceed its declared units;
- ``mass-balance``: processing consumes no more of a lot than remains of it (in the lot's
  unit, kg/g/t converted), and its outputs weigh no more than its inputs;
- ``custody``: only the facility holding a lot records its events (harvest: its owner;
  receiving: the destination of its open shipment; processing outputs: lots of the
  processor); a shipment moves custody of the whole lot, so a lot in transit cannot be
  shipped again;
- ``recalled-lot``: after a lot's recall entry, no stamps and no events but inspections;
- ``suspended-facility``: after a facility's suspension entry, it registers no lot, is
  issued no stamps and records no event;
- ``known-records``: every lot and facility an entry names was registered before it.

Corrections (``type: correction``) void the event they name: custody and consumption are
replayed as if it had not happened, as the services do. Entry types this module does not
know (checkpoint notes, certificates, test entries) are skipped.

Every field is read through :func:`entry_field`, the one accessor: entries whose private
fields are committed by salted hashes are handed over revealed, and only that accessor
follows a change of entry shape.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from agritrace.errors import VerificationError

__all__ = ["Rule", "RuleBrokenError", "entry_field", "replay"]


class Rule(StrEnum):
    STAMPS_WITHIN_UNITS = "stamps-within-units"
    MASS_BALANCE = "mass-balance"
    CUSTODY = "custody"
    RECALLED_LOT = "recalled-lot"
    SUSPENDED_FACILITY = "suspended-facility"
    KNOWN_RECORDS = "known-records"
    PRIVATE_FIELDS_OPENED = "private-fields-opened"


class RuleBrokenError(VerificationError):
    """Ledger entry ``index`` breaks ``rule`` about ``subject`` (a lot or facility code)."""

    index: int
    rule: str
    subject: str

    def __init__(self, index: int, rule: Rule, subject: str, detail: str) -> None:
        super().__init__(
            f"ledger entry #{index} breaks rule {rule.value} ({subject}): {detail}",
            index=index,
            rule=rule.value,
            subject=subject,
        )
        # Typed facts, declared above and set here (the same values are in ``facts``).
        self.index = index
        self.rule = rule.value
        self.subject = subject


def entry_field(entry: Mapping[str, Any], *path: str | int) -> Any:
    """The value at ``path`` inside ``entry`` (keys and list positions), None if absent."""
    value: Any = entry
    for step in path:
        if isinstance(step, int) and isinstance(value, list) and -len(value) <= step < len(value):
            value = value[step]
        elif isinstance(step, str) and isinstance(value, Mapping):
            value = value.get(step)
        else:
            return None
    return value


#: UN/CEFACT units EPCIS uses (as events.py writes them), and their weight in kg.
_UOM_CODES = {"kg": "KGM", "g": "GRM", "t": "TNE", "l": "LTR", "box": "XBX", "bag": "XBG"}
_KG_PER = {"KGM": Decimal(1), "GRM": Decimal("0.001"), "TNE": Decimal(1000)}


@dataclass(slots=True)
class _Lot:
    ref: str
    owner: str
    units: int
    quantity: Decimal
    uom: str
    uris: tuple[str, ...]
    issued: int = 0
    recalled_at: int | None = None
    harvested: bool = False
    #: Live custody moves (index, step, actor, other), in ledger order.
    moves: list[tuple[int, str, str, str | None]] = field(default_factory=list)
    #: Live consumption by processing, by event index, in the lot's unit.
    consumed: dict[int, Decimal] = field(default_factory=dict)
    holder: str | None = None
    in_transit_to: str | None = None
    shipper: str | None = None

    def follow(self) -> None:
        """Custody from the owner through the live moves."""
        self.holder, self.in_transit_to, self.shipper = self.owner, None, None
        for _, step, actor, other in self.moves:
            if step == "shipping":
                self.holder, self.in_transit_to, self.shipper = None, other, actor
            elif step == "receiving":
                self.holder, self.in_transit_to, self.shipper = actor, None, None

    def left(self) -> Decimal:
        return self.quantity - sum(self.consumed.values(), Decimal(0))


@dataclass(slots=True)
class _State:
    lots: dict[str, _Lot] = field(default_factory=dict)
    lots_by_uri: dict[str, _Lot] = field(default_factory=dict)
    suspended_at: dict[str, int] = field(default_factory=dict)
    facilities: set[str] = field(default_factory=set)
    facilities_by_uri: dict[str, str] = field(default_factory=dict)
    #: Events replayed so far, by index: (step, lot refs), for corrections.
    events: dict[int, tuple[str, tuple[str, ...]]] = field(default_factory=dict)


def replay(entries: Iterable[tuple[int, Mapping[str, Any]]]) -> None:
    """Replay ``entries`` in order; raises RuleBrokenError at the first broken rule."""
    state = _State()
    handlers = {
        "facility": _facility,
        "facility-suspension": _suspension,
        "lot": _lot,
        "stamp-batch": _stamps,
        "event": _event,
        "correction": _correction,
        "recall": _recall,
    }
    for index, entry in entries:
        if entry_field(entry, "private") is not None:  # sealed, and not every field opened
            raise RuleBrokenError(
                index,
                Rule.PRIVATE_FIELDS_OPENED,
                _text(entry, "facility"),
                "the entry's private fields have no stored openings, so no rule can be checked",
            )
        handler = handlers.get(str(entry_field(entry, "type")))
        if handler is not None:
            handler(state, index, entry)


def _text(entry: Mapping[str, Any], *path: str | int) -> str:
    value = entry_field(entry, *path)
    return value if isinstance(value, str) else ""


def _decimal(value: Any) -> Decimal | None:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def _facility(state: _State, index: int, entry: Mapping[str, Any]) -> None:
    code = _text(entry, "facility")
    state.facilities.add(code)
    state.facilities_by_uri[f"urn:agritrace:facility:{code}"] = code
    gln = _text(entry, "gln")
    if gln:
        state.facilities_by_uri[f"https://id.gs1.org/414/{gln}"] = code


def _suspension(state: _State, index: int, entry: Mapping[str, Any]) -> None:
    state.suspended_at.setdefault(_text(entry, "facility"), index)


def _active(state: _State, index: int, code: str) -> None:
    """The facility ``code`` is registered and not suspended."""
    if code not in state.facilities:
        raise RuleBrokenError(index, Rule.KNOWN_RECORDS, code, "facility never registered")
    suspended = state.suspended_at.get(code)
    if suspended is not None:
        raise RuleBrokenError(
            index, Rule.SUSPENDED_FACILITY, code, f"facility suspended at entry #{suspended}"
        )


def _lot(state: _State, index: int, entry: Mapping[str, Any]) -> None:
    ref, owner = _text(entry, "lot"), _text(entry, "facility")
    _active(state, index, owner)
    units = entry_field(entry, "units")
    quantity = _decimal(entry_field(entry, "quantity"))
    unit = _text(entry, "quantity_unit")
    code = ref.partition("/")[2]
    gtin = _text(entry, "gtin")
    uris: tuple[str, ...] = (f"urn:agritrace:lot:{owner}:{code}",)
    if gtin:
        uris += (f"https://id.gs1.org/01/{gtin}/10/{code}",)
    lot = _Lot(
        ref=ref,
        owner=owner,
        units=units if isinstance(units, int) else 0,
        quantity=quantity if quantity is not None else Decimal(0),
        uom=_UOM_CODES.get(unit.lower(), unit),
        uris=uris,
    )
    lot.follow()
    state.lots[ref] = lot
    state.lots_by_uri.update((uri, lot) for uri in uris)


def _known_lot(state: _State, index: int, ref: str) -> _Lot:
    lot = state.lots.get(ref)
    if lot is None:
        raise RuleBrokenError(index, Rule.KNOWN_RECORDS, ref or "?", "lot never registered")
    return lot


def _not_recalled(index: int, lot: _Lot) -> None:
    if lot.recalled_at is not None:
        raise RuleBrokenError(
            index, Rule.RECALLED_LOT, lot.ref, f"lot recalled at entry #{lot.recalled_at}"
        )


def _stamps(state: _State, index: int, entry: Mapping[str, Any]) -> None:
    lot = _known_lot(state, index, _text(entry, "lot"))
    _active(state, index, lot.owner)
    _not_recalled(index, lot)
    count = entry_field(entry, "count")
    if not isinstance(count, int) or count <= 0 or lot.issued + count > lot.units:
        raise RuleBrokenError(
            index,
            Rule.STAMPS_WITHIN_UNITS,
            lot.ref,
            f"{count} stamps after {lot.issued} exceed the lot's {lot.units} units",
        )
    lot.issued += count


def _recall(state: _State, index: int, entry: Mapping[str, Any]) -> None:
    cascade = entry_field(entry, "cascade")
    refs = [_text(entry, "lot"), *(cascade if isinstance(cascade, list) else [])]
    for ref in refs:
        lot = _known_lot(state, index, str(ref))
        if lot.recalled_at is None:
            lot.recalled_at = index


def _event(state: _State, index: int, entry: Mapping[str, Any]) -> None:
    step, actor = _text(entry, "step"), _text(entry, "facility")
    _active(state, index, actor)
    if step == "processing":
        refs = _transformation(state, index, entry, actor)
    else:
        refs = (_object_event(state, index, entry, step, actor),)
    state.events[index] = (step, refs)


def _object_event(
    state: _State, index: int, entry: Mapping[str, Any], step: str, actor: str
) -> str:
    lot = _known_lot(state, index, _text(entry, "lots", 0))
    if step != "inspecting":
        _not_recalled(index, lot)
    other: str | None = None
    if step == "receiving":
        if lot.in_transit_to != actor:
            raise _custody(index, lot, actor, "receives a lot not shipped to it")
        other = lot.shipper
    elif lot.holder != actor:
        raise _custody(index, lot, actor, "records an event on a lot it does not hold")
    if step == "harvest" and (lot.owner != actor or lot.harvested):
        raise _custody(index, lot, actor, "harvest by another facility or a second harvest")
    if step == "shipping":
        uri = _text(entry, "epcis", "destinationList", 0, "destination")
        other = state.facilities_by_uri.get(uri)
        if other is None or other == actor:
            raise RuleBrokenError(index, Rule.KNOWN_RECORDS, uri or "?", "unknown destination")
    lot.harvested = lot.harvested or step == "harvest"
    if step in ("shipping", "receiving"):
        lot.moves.append((index, step, actor, other))
        lot.follow()
    return lot.ref


def _custody(index: int, lot: _Lot, actor: str, detail: str) -> RuleBrokenError:
    where = f"in transit to {lot.in_transit_to}" if lot.in_transit_to else f"held by {lot.holder}"
    return RuleBrokenError(index, Rule.CUSTODY, lot.ref, f"{actor} {detail} ({where})")


def _amounts(
    state: _State, index: int, entry: Mapping[str, Any], key: str
) -> list[tuple[_Lot, Decimal, str]]:
    items = entry_field(entry, "epcis", key)
    found = []
    for item in items if isinstance(items, list) else []:
        uri = _text(item, "epcClass")
        lot = state.lots_by_uri.get(uri)
        amount = _decimal(entry_field(item, "quantity"))
        if lot is None:
            raise RuleBrokenError(index, Rule.KNOWN_RECORDS, uri or "?", "lot never registered")
        if amount is None or amount < 0:
            raise RuleBrokenError(index, Rule.MASS_BALANCE, lot.ref, "no valid quantity")
        found.append((lot, amount, _text(item, "uom")))
    return found


def _in_lot_unit(index: int, lot: _Lot, amount: Decimal, uom: str) -> Decimal:
    if uom == lot.uom:
        return amount
    per_lot, per_given = _KG_PER.get(lot.uom), _KG_PER.get(uom)
    if per_lot is None or per_given is None:
        raise RuleBrokenError(index, Rule.MASS_BALANCE, lot.ref, f"{uom} is not {lot.uom}")
    return amount * per_given / per_lot


def _kg(index: int, lot: _Lot, amount: Decimal, uom: str) -> Decimal:
    per = _KG_PER.get(uom)
    if per is None:
        raise RuleBrokenError(index, Rule.MASS_BALANCE, lot.ref, f"{uom} is not a weight")
    return amount * per


def _transformation(
    state: _State, index: int, entry: Mapping[str, Any], actor: str
) -> tuple[str, ...]:
    inputs = _amounts(state, index, entry, "inputQuantityList")
    outputs = _amounts(state, index, entry, "outputQuantityList")
    input_kg = output_kg = Decimal(0)
    for lot, amount, uom in inputs:
        _not_recalled(index, lot)
        if lot.holder != actor:
            raise _custody(index, lot, actor, "processes a lot it does not hold")
        used = _in_lot_unit(index, lot, amount, uom)
        if used > lot.left():
            raise RuleBrokenError(
                index,
                Rule.MASS_BALANCE,
                lot.ref,
                f"consumes {used} {lot.uom} of {lot.left()} {lot.uom} left",
            )
        lot.consumed[index] = used
        input_kg += _kg(index, lot, amount, uom)
    for lot, amount, uom in outputs:
        if lot.owner != actor:
            raise _custody(index, lot, actor, "makes a lot of another facility")
        output_kg += _kg(index, lot, amount, uom)
    if output_kg > input_kg:
        subject = outputs[0][0].ref if outputs else actor
        raise RuleBrokenError(
            index, Rule.MASS_BALANCE, subject, f"outputs {output_kg} kg from {input_kg} kg"
        )
    return tuple(lot.ref for lot, _, _ in (*inputs, *outputs))


def _correction(state: _State, index: int, entry: Mapping[str, Any]) -> None:
    index_of = entry_field(entry, "corrects")
    event = state.events.pop(index_of, None) if isinstance(index_of, int) else None
    if event is None:
        return
    step, refs = event
    for ref in refs:
        lot = state.lots[ref]
        lot.harvested = lot.harvested and step != "harvest"
        lot.consumed.pop(index_of, None)
        lot.moves = [move for move in lot.moves if move[0] != index_of]
        lot.follow()
