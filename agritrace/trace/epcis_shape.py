"""The shape an EPCIS 2.0 JSON document must have before :mod:`agritrace.trace.epcis_import`
reads it: every member agritrace uses is of the JSON type it expects (or absent), so reading
a document never fails on a list where an object belongs. What the values mean (known
locations, lots, steps, times) is the importer's to check; this is only their shape.

Pure: no web, no database. :func:`check_document` returns nothing or raises
InvalidInputError naming the event's position (``event``, 1-based) and the ``field``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from agritrace.errors import InvalidInputError

__all__ = ["check_document"]

_TEXT = (str,)
_NUMBER = (int, Decimal, str)  # a quantity or a reading: a JSON number, or text of one
_OBJECT = (dict,)
_LIST = (list,)

#: Members of an event, by name: the JSON types allowed (absent or null is always allowed).
_EVENT: Mapping[str, tuple[type, ...]] = {
    "type": _TEXT, "eventID": _TEXT, "eventTime": _TEXT, "eventTimeZoneOffset": _TEXT,
    "action": _TEXT, "bizStep": _TEXT, "disposition": _TEXT, "agt:step": _TEXT,
    "agt:note": _TEXT, "readPoint": _OBJECT, "bizLocation": _OBJECT, "ilmd": _OBJECT,
    "errorDeclaration": _OBJECT, "quantityList": _LIST, "inputQuantityList": _LIST,
    "outputQuantityList": _LIST, "destinationList": _LIST, "sourceList": _LIST,
    "sensorElementList": _LIST,
}  # fmt: skip
_QUANTITY = {"epcClass": _TEXT, "quantity": _NUMBER, "uom": _TEXT}
#: Members of the objects an event holds, by the event member that holds them.
_INSIDE: Mapping[str, Mapping[str, tuple[type, ...]]] = {
    "readPoint": {"id": _TEXT},
    "bizLocation": {"id": _TEXT},
    "errorDeclaration": {"reason": _TEXT, "agt:reason": _TEXT, "declarationTime": _TEXT},
    "quantityList": _QUANTITY,
    "inputQuantityList": _QUANTITY,
    "outputQuantityList": _QUANTITY,
    "destinationList": {"type": _TEXT, "destination": _TEXT},
    "sourceList": {"type": _TEXT, "source": _TEXT},
    "sensorElementList": {"sensorReport": _LIST},
}
_REPORT = {"type": _TEXT, "value": _NUMBER, "uom": _TEXT}
#: JSON's own names for its types (RFC 8259), the same in every language.
_NAMES = {dict: "object", list: "array", str: "string", int: "number", Decimal: "number"}


def _expect(value: object, kinds: tuple[type, ...], field: str, event: int | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, kinds):
        wanted = " or ".join(dict.fromkeys(_NAMES[kind] for kind in kinds))
        if event is None:
            raise InvalidInputError(key="epcis.shape", field=field, wanted=wanted)
        raise InvalidInputError(key="epcis.shape_event", field=field, wanted=wanted, event=event)


def _object(value: object, field: str, event: int | None) -> dict[str, Any]:
    """``value`` if it is an object; raises (null too) otherwise."""
    _expect(value, _OBJECT, field, event)
    if not isinstance(value, dict):
        _expect([], _OBJECT, field, event)  # null where an object must be: the same message
        raise TypeError("unreachable: _expect raised")  # pragma: no cover
    return value


def _members(
    item: Mapping[str, Any], spec: Mapping[str, tuple[type, ...]], prefix: str, event: int | None
) -> None:
    for name, kinds in spec.items():
        _expect(item.get(name), kinds, f"{prefix}{name}", event)


def _event(item: object, position: int) -> None:
    item = _object(item, "eventList", position)
    _members(item, _EVENT, "", position)
    for name, spec in _INSIDE.items():
        inner = item.get(name)
        for element in inner if isinstance(inner, list) else [inner] if inner else []:
            _members(_object(element, name, position), spec, f"{name}.", position)
    for sensor in item.get("sensorElementList") or []:
        for report in sensor.get("sensorReport") or []:
            _members(_object(report, "sensorReport", position), _REPORT, "sensorReport.", position)


def _master_data(document: Mapping[str, Any]) -> None:
    header = document.get("epcisHeader")
    _expect(header, _OBJECT, "epcisHeader", None)
    master = (header or {}).get("epcisMasterData")
    _expect(master, _OBJECT, "epcisMasterData", None)
    vocabularies = (master or {}).get("vocabularyList")
    _expect(vocabularies, _LIST, "vocabularyList", None)
    for vocabulary in vocabularies or []:
        elements = _object(vocabulary, "vocabularyList", None).get("vocabularyElementList")
        _expect(elements, _LIST, "vocabularyElementList", None)
        for element in elements or []:
            attributes = _object(element, "vocabularyElementList", None).get("attributes")
            _expect(attributes, _LIST, "attributes", None)
            for attribute in attributes or []:
                value = _object(attribute, "attributes", None).get("attribute")
                kinds = (
                    _LIST
                    if attribute.get("id") in {"certificates", "agt:certificates"}
                    else _NUMBER
                )
                _expect(value, kinds, f"attributes.{attribute.get('id')}", None)


def check_document(document: object) -> None:
    """Raise InvalidInputError unless ``document`` (parsed JSON) has the shape of an EPCIS
    2.0 document as far as agritrace reads it: an object, with an ``epcisBody`` object whose
    ``eventList`` is a list of event objects, each member of the expected JSON type."""
    document = _object(document, "document", None)
    _expect(document.get("type"), _TEXT, "type", None)
    _expect(document.get("schemaVersion"), _NUMBER, "schemaVersion", None)
    body = document.get("epcisBody")
    _expect(body, _OBJECT, "epcisBody", None)
    _expect((body or {}).get("eventList"), _LIST, "eventList", None)
    _master_data(document)
    for position, item in enumerate((body or {}).get("eventList") or [], 1):
        _event(item, position)
