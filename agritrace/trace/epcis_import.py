"""Import an EPCIS 2.0 JSON document of ObjectEvents and TransformationEvents.

Master data in ``epcisHeader.epcisMasterData`` (business locations with ``agt:`` attributes
and their certificates; EPC classes describing lots) creates the facilities, products and
lots that are missing; then every event is recorded through the same services and rules as
events recorded here, in document order. Events carrying an ``errorDeclaration`` become
corrections of the event with the same ``eventID``.

The import is all or nothing: it runs in one outer transaction and the services' commits
become savepoints, so a bad event leaves nothing behind. Errors name the event (position and
eventID) and the field.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from agritrace.errors import AgritraceError, InvalidInputError
from agritrace.trace import events, registry
from agritrace.trace.epcis_shape import check_document
from agritrace.trace.event_models import Step, TraceEvent
from agritrace.trace.models import Facility, Lot, Product
from agritrace.trace.validation import check_json_depth

__all__ = ["EpcisImportError", "ImportReport", "import_epcis"]

_T = TypeVar("_T")
_FROM_UOM = {"KGM": "kg", "GRM": "g", "TNE": "t", "LTR": "l", "XBX": "box", "XBG": "bag"}
_STEP_FOR_BIZSTEP = {
    "packing": Step.PACKING,
    "storing": Step.STORING,
    "shipping": Step.SHIPPING,
    "receiving": Step.RECEIVING,
    "inspecting": Step.INSPECTING,
}
MAX_IMPORT_EVENTS = 100_000


class EpcisImportError(InvalidInputError):
    """An EPCIS document or one of its events cannot be imported. Facts: ``event`` (1-based
    position, when an event is at fault), ``event_id``, ``field``."""


@dataclass(frozen=True, slots=True)
class ImportReport:
    facilities_created: int
    lots_created: int
    events_recorded: int
    corrections: int
    event_ids: tuple[str, ...]


def _short(term: object) -> str:
    """A CBV term in any of its forms (bare, URN, GS1 web URI), as the bare word."""
    text = str(term)
    for marker in ("BizStep-", "Disp-", "urn:epcglobal:cbv:bizstep:", "urn:epcglobal:cbv:disp:"):
        if marker in text:
            return text.rsplit(marker, 1)[1]
    return text


def _attributes(element: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for attribute in element.get("attributes", []) or []:
        if isinstance(attribute, dict) and isinstance(attribute.get("id"), str):
            value = attribute.get("attribute")
            # Numbers become text, as a form would send them (the shape is checked already).
            out[attribute["id"].removeprefix("agt:")] = (
                str(value) if isinstance(value, int | Decimal) else value
            )
    return out


class _Importer:
    def __init__(self, session: Session, now: dt.datetime) -> None:
        self.session = session
        self.now = now
        self.locations: dict[str, dict[str, Any]] = {}
        self.classes: dict[str, dict[str, Any]] = {}
        self.imported: dict[str, int] = {}
        self.facilities_created = 0
        self.lots_created = 0
        self.recorded: list[str] = []
        self.corrections = 0

    # -- master data -----------------------------------------------------------------

    def master_data(self, document: Mapping[str, Any]) -> None:
        header = document.get("epcisHeader") or {}
        vocabularies = (header.get("epcisMasterData") or {}).get("vocabularyList") or []
        if not isinstance(vocabularies, list):
            raise EpcisImportError(
                "epcisMasterData.vocabularyList must be a list", field="vocabularyList"
            )
        for vocabulary in vocabularies:
            if not isinstance(vocabulary, dict):
                continue
            target = {
                "urn:epcglobal:epcis:vtype:BusinessLocation": self.locations,
                "urn:epcglobal:epcis:vtype:EPCClass": self.classes,
            }.get(str(vocabulary.get("type")))
            if target is None:
                continue
            for element in vocabulary.get("vocabularyElementList") or []:
                if isinstance(element, dict) and isinstance(element.get("id"), str):
                    target[element["id"]] = _attributes(element)
        for uri, attrs in self.locations.items():
            self._facility(uri, attrs)
        for uri, attrs in self.classes.items():
            self._lot(uri, attrs)

    def _facility(self, uri: str, attrs: dict[str, Any]) -> None:
        code = attrs.get("code")
        if not isinstance(code, str) or registry.facility_exists(self.session, code):
            return
        where = f"master data {uri}"
        self._wrap(
            where,
            "attributes",
            lambda: registry.add_facility(
                self.session,
                code=code,
                name=str(attrs.get("name", code)),
                province=str(attrs.get("province", "")) or "-",
                address=str(attrs.get("address", "")) or "-",
                gln=attrs.get("gln") or None,
            ),
        )
        self.facilities_created += 1
        for cert in attrs.get("certificates") or []:
            if not isinstance(cert, dict):
                raise EpcisImportError(
                    f"{where}: field 'certificates': each must be an object", field="certificates"
                )
            self._wrap(where, "certificates", partial(self._certify, code, cert))

    def _certify(self, code: str, cert: dict[str, Any]) -> None:
        registry.certify(
            self.session,
            facility_code=code,
            scheme=str(cert.get("scheme", "")),
            number=str(cert.get("number", "")),
            issuer=str(cert.get("issuer", "")),
            valid_from=str(cert.get("valid_from", "")),
            valid_to=str(cert.get("valid_to", "")),
            scope=str(cert.get("scope", "")),
            now=self.now,
            historical=True,
        )

    def _lot(self, uri: str, attrs: dict[str, Any]) -> None:
        facility, code, product = attrs.get("facility"), attrs.get("lot"), attrs.get("product")
        if not all(isinstance(v, str) for v in (facility, code, product)):
            return
        where = f"master data {uri}"
        if not registry.product_exists(self.session, str(product)):
            self._wrap(
                where,
                "product",
                lambda: registry.add_product(
                    self.session,
                    code=str(product),
                    name=str(attrs.get("productName", product)),
                    category=str(attrs.get("category", "")) or "-",
                    unit=str(attrs.get("unit", "")) or "unit",
                    gtin=attrs.get("gtin") or None,
                ),
            )
        exists = self.session.scalar(
            select(Lot.id)
            .join(Facility, Lot.facility_id == Facility.id)
            .where(Facility.code == str(facility).upper(), Lot.code == str(code).upper())
        )
        if exists is not None:
            return
        self._wrap(
            where,
            "lot",
            lambda: registry.create_lot(
                self.session,
                facility_code=str(facility),
                product_code=str(product),
                code=str(code),
                units=str(attrs.get("units", "")),
                quantity=str(attrs.get("quantity", "")),
                quantity_unit=str(attrs.get("quantityUnit", "")),
                harvest_date=str(attrs.get("harvestDate", "")),
                pack_date=attrs.get("packDate") or None,
                origin_area=str(attrs.get("originArea", "")) or "-",
                now=self.now,
            ),
        )
        self.lots_created += 1

    # -- identifiers -----------------------------------------------------------------

    def facility_code(self, uri: object, field: str) -> str:
        if not isinstance(uri, str):
            raise InvalidInputError(f"field {field!r}: a location id is required", field=field)
        attrs = self.locations.get(uri, {})
        if isinstance(attrs.get("code"), str):
            return str(attrs["code"])
        if uri.startswith("urn:agritrace:facility:"):
            return uri.rsplit(":", 1)[1]
        if uri.startswith("https://id.gs1.org/414/"):
            gln = uri.rsplit("/", 1)[1]
            found = self.session.scalar(select(Facility.code).where(Facility.gln == gln))
            if found:
                return found
        raise InvalidInputError(f"field {field!r}: unknown location {uri}", field=field)

    def lot_ref(self, uri: object, field: str) -> str:
        if not isinstance(uri, str):
            raise InvalidInputError(f"field {field!r}: an epcClass is required", field=field)
        attrs = self.classes.get(uri, {})
        if isinstance(attrs.get("facility"), str) and isinstance(attrs.get("lot"), str):
            return f"{attrs['facility']}/{attrs['lot']}"
        if uri.startswith("urn:agritrace:lot:"):
            _, _, _, facility, lot = uri.split(":", 4)
            return f"{facility}/{lot}"
        if uri.startswith("https://id.gs1.org/01/") and "/10/" in uri:
            gtin, lot = uri.removeprefix("https://id.gs1.org/01/").split("/10/", 1)
            rows = list(
                self.session.execute(
                    select(Facility.code, Lot.code)
                    .join(Lot, Lot.facility_id == Facility.id)
                    .join(Product, Lot.product_id == Product.id)
                    .where(Product.gtin == gtin, Lot.code == lot)
                )
            )
            if len(rows) == 1:
                return f"{rows[0][0]}/{rows[0][1]}"
        raise InvalidInputError(f"field {field!r}: unknown lot {uri}", field=field)

    # -- events ------------------------------------------------------------------------

    def _wrap(self, where: str, field: str, action: Callable[[], _T]) -> _T:
        try:
            return action()
        except EpcisImportError:
            raise
        except AgritraceError as exc:
            named = exc.facts.get("field", field)
            raise EpcisImportError(f"{where}: field {named!r}: {exc}", field=named) from exc

    def event(self, position: int, event: object) -> None:
        if not isinstance(event, dict):
            raise EpcisImportError(f"event {position}: not a JSON object", event=position)
        event_id = str(event.get("eventID", "")) or "(no eventID)"
        where = f"event {position} ({event_id})"
        try:
            self._event(event)
        except EpcisImportError:
            raise
        except AgritraceError as exc:
            field = exc.facts.get("field", "")
            named = f" field {field!r}:" if field and not str(exc).startswith("field ") else ""
            raise EpcisImportError(
                f"{where}:{named} {exc}", event=position, event_id=event_id, field=field
            ) from exc

    def _time(self, event: Mapping[str, Any]) -> dt.datetime:
        raw = event.get("eventTime")
        if not isinstance(raw, str):
            raise InvalidInputError("field 'eventTime': missing", field="eventTime")
        moment = events.parse_event_time(raw, zone=dt.UTC)
        if moment.tzinfo is None:  # pragma: no cover - parse_event_time always sets one
            raise InvalidInputError("field 'eventTime': needs an offset", field="eventTime")
        return moment

    def _amount(self, element: object, field: str) -> events.LotAmount:
        if not isinstance(element, dict):
            raise InvalidInputError(f"field {field!r}: each element must be an object", field=field)
        quantity = element.get("quantity")
        uom = element.get("uom")
        return events.LotAmount(
            lot_ref=self.lot_ref(element.get("epcClass"), f"{field}.epcClass"),
            quantity=None if quantity is None else str(quantity),
            unit=None if uom is None else _FROM_UOM.get(str(uom), str(uom)),
        )

    def _event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind not in ("ObjectEvent", "TransformationEvent"):
            raise InvalidInputError(
                "field 'type': only ObjectEvent and TransformationEvent are imported, "
                f"not {kind!r}",
                field="type",
            )
        facility = self.facility_code(
            (event.get("bizLocation") or event.get("readPoint") or {}).get("id"), "bizLocation"
        )
        if "errorDeclaration" in event:
            self._correction(event, facility)
            return
        moment = self._time(event)
        certified = bool(event.get("certificationInfo"))
        note = event.get("agt:note")
        if kind == "TransformationEvent":
            inputs = [
                self._amount(e, "inputQuantityList") for e in event.get("inputQuantityList") or []
            ]
            outputs = [
                self._amount(e, "outputQuantityList") for e in event.get("outputQuantityList") or []
            ]
            recorded = events.record_transformation(
                self.session,
                facility_code=facility,
                event_time=moment,
                inputs=inputs,
                outputs=outputs,
                certified=certified,
                note=note,
                now=self.now,
            )
        else:
            quantities = event.get("quantityList") or []
            if not isinstance(quantities, list) or len(quantities) != 1:
                raise InvalidInputError(
                    "field 'quantityList': exactly one lot per ObjectEvent", field="quantityList"
                )
            amount = self._amount(quantities[0], "quantityList")
            step = self._step(event)
            destination = None
            if step is Step.SHIPPING:
                targets = event.get("destinationList") or [{}]
                destination = self.facility_code(targets[0].get("destination"), "destinationList")
            temperature = None
            for sensor in event.get("sensorElementList") or []:
                for report in (sensor or {}).get("sensorReport") or []:
                    if isinstance(report, dict) and _short(report.get("type")) == "Temperature":
                        temperature = str(report.get("value"))
            recorded = events.record_event(
                self.session,
                step=step,
                lot_ref=amount.lot_ref,
                facility_code=facility,
                event_time=moment,
                quantity=amount.quantity,
                unit=amount.unit,
                destination=destination,
                temperature_c=temperature,
                certified=certified,
                passed=_short(event.get("disposition")) != "non_conformant",
                note=note,
                now=self.now,
            )
        if isinstance(event.get("eventID"), str):
            self.imported[event["eventID"]] = recorded.ledger_index
        self.recorded.append(recorded.event_id)

    def _step(self, event: Mapping[str, Any]) -> Step:
        declared = event.get("agt:step")
        if isinstance(declared, str):
            try:
                return Step(declared)
            except ValueError:
                raise InvalidInputError(
                    f"field 'agt:step': unknown step {declared!r}", field="agt:step"
                ) from None
        biz_step = _short(event.get("bizStep"))
        if biz_step == "commissioning" and event.get("action") == "ADD":
            return Step.HARVEST
        step = _STEP_FOR_BIZSTEP.get(biz_step)
        if step is None:
            raise InvalidInputError(
                f"field 'bizStep': {biz_step!r} is not a step agritrace records", field="bizStep"
            )
        return step

    def _correction(self, event: Mapping[str, Any], facility: str) -> None:
        event_id = event.get("eventID")
        index = self.imported.get(str(event_id))
        if index is None:
            found = self.session.scalar(
                select(TraceEvent.ledger_index).where(TraceEvent.event_id == str(event_id))
            )
            if found is None:
                raise InvalidInputError(
                    f"field 'eventID': the corrected event {event_id} is not known", field="eventID"
                )
            index = found
        declaration = event.get("errorDeclaration") or {}
        reason = str(
            declaration.get("agt:reason")
            or _short(declaration.get("reason", ""))
            or "declared in error"
        )
        events.correct_event(
            self.session, ledger_index=index, facility_code=facility, reason=reason, now=self.now
        )
        self.corrections += 1


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def import_epcis(engine: Engine, data: bytes, *, now: dt.datetime) -> ImportReport:
    """Validate and record an EPCIS 2.0 JSON document, all or nothing."""
    try:
        check_json_depth(data)
        document = json.loads(data, parse_float=Decimal, parse_constant=_not_json)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EpcisImportError(f"the file is not JSON: {exc}") from exc
    except InvalidInputError as exc:
        raise EpcisImportError(f"the file is not usable JSON: {exc}") from exc
    try:
        check_document(document)
    except InvalidInputError as exc:
        raise EpcisImportError(str(exc), **exc.facts) from exc
    if not isinstance(document, dict) or document.get("type") != "EPCISDocument":
        raise EpcisImportError("not an EPCIS document: 'type' must be EPCISDocument", field="type")
    if not str(document.get("schemaVersion", "")).startswith("2."):
        raise EpcisImportError("only EPCIS 2.0 documents are imported", field="schemaVersion")
    event_list = (document.get("epcisBody") or {}).get("eventList")
    if not isinstance(event_list, list):
        raise EpcisImportError("epcisBody.eventList must be a list", field="eventList")
    if len(event_list) > MAX_IMPORT_EVENTS:
        raise EpcisImportError(f"at most {MAX_IMPORT_EVENTS} events per document")
    with engine.connect() as conn:
        outer = conn.execution_options(sqlite_begin="IMMEDIATE").begin()
        session = Session(
            bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            importer = _Importer(session, now)
            importer.master_data(document)
            for position, event in enumerate(event_list, 1):
                importer.event(position, event)
            session.close()
            outer.commit()
        except BaseException:
            session.close()
            outer.rollback()
            raise
    return ImportReport(
        facilities_created=importer.facilities_created,
        lots_created=importer.lots_created,
        events_recorded=len(importer.recorded),
        corrections=importer.corrections,
        event_ids=tuple(importer.recorded),
    )
