"""Every request shape of ``/api/v1``, declared once as pydantic v2 models.

The models validate bodies (:func:`parse_body`) and list or export queries
(:func:`parse_query`); with the answers of ``web/api_answers.py`` they are the
``components/schemas`` of the generated OpenAPI document (``web/openapi.py``).
See docs/adr/0015-api-shapes.md.

Bodies are JSON objects whose values are strings; numbers are accepted where text is meant
(``"units": 5``). A bad value gives the same one-line English message the hand-written checks
gave (``lot is required``, ``certified must be true or false``, ...).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from agritrace.errors import InvalidInputError

__all__ = [
    "MAX_AMOUNTS",
    "MAX_TEXT",
    "ExportQuery",
    "LotAmount",
    "NewBatch",
    "NewEvent",
    "NewLot",
    "NewRecall",
    "PageQuery",
    "cursor_for",
    "parse_body",
    "parse_query",
    "query_parameters",
]

#: Longest text value a body may carry.
MAX_TEXT = 2000
#: Most lot amounts one transformation may list.
MAX_AMOUNTS = 100

_ERROR = "agritrace"


def _fail(message: str) -> PydanticCustomError:
    return PydanticCustomError(_ERROR, message)


def _optional_text(value: object, info: ValidationInfo) -> str | None:
    name = info.field_name
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _fail(f"{name} must be a string")
    text = str(value)
    if "\x00" in text or len(text) > MAX_TEXT:
        raise _fail(f"{name} is not valid text")
    return text


def _required_text(value: object, info: ValidationInfo) -> str:
    text = _optional_text(value, info)
    if text is None:
        raise _fail(f"{info.field_name} is required")
    return text


def _flag(value: object, info: ValidationInfo) -> bool:
    if not isinstance(value, bool):
        raise _fail(f"{info.field_name} must be true or false")
    return value


def _amount_list(value: object, info: ValidationInfo) -> object:
    name = info.field_name
    if not isinstance(value, list) or not value or len(value) > MAX_AMOUNTS:
        raise _fail(f"{name} must be a list of 1 to {MAX_AMOUNTS} lot amounts")
    if not all(isinstance(item, dict) for item in value):
        raise _fail(f"each of {name} must be an object")
    return value


_STRING_OR_INT = WithJsonSchema({"type": ["string", "integer"]})
Text = Annotated[str, BeforeValidator(_required_text)]
OptionalText = Annotated[str | None, BeforeValidator(_optional_text)]
Count = Annotated[str, BeforeValidator(_required_text), _STRING_OR_INT]
Flag = Annotated[bool, BeforeValidator(_flag)]
_DATE = WithJsonSchema({"type": "string", "format": "date"})
Date = Annotated[str, BeforeValidator(_required_text), _DATE]
OptionalDate = Annotated[
    str | None, BeforeValidator(_optional_text), Field(json_schema_extra={"format": "date"})
]


class _Request(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


# -- requests --------------------------------------------------------------------------------


class NewLot(_Request):
    product: Text
    code: Text
    units: Count
    quantity: Text
    quantity_unit: Text
    harvest_date: Date
    origin_area: Text
    pack_date: OptionalDate = None
    latitude: OptionalText = None
    longitude: OptionalText = None


class NewBatch(_Request):
    lot: Text
    count: Count
    claim_codes: Flag = Field(
        default=False,
        description="give each stamp a claim code for a scratch-off layer (printed in the "
        "PDF labels and the CSV's claim_code column)",
    )


class LotAmount(_Request):
    lot: Text
    quantity: Text
    unit: OptionalText = None


Amounts = Annotated[list[LotAmount] | None, BeforeValidator(_amount_list)]
StepName = Literal[
    "harvest", "packing", "cooling", "storing", "shipping", "receiving", "inspecting",
    "processing",
]  # fmt: skip


class NewEvent(_Request):
    """An ObjectEvent for `lot`, or (step processing) a TransformationEvent from `inputs` to
    `outputs`. Always recorded by the token's facility."""

    step: Annotated[Text, WithJsonSchema({"enum": list(StepName.__args__)})]
    event_time: Annotated[Text, WithJsonSchema({"type": "string", "format": "date-time"})]
    lot: OptionalText = None
    quantity: OptionalText = None
    unit: OptionalText = None
    destination: OptionalText = None
    temperature: OptionalText = None
    certified: Flag = False
    passed: Flag = True
    note: OptionalText = None
    inputs: Amounts = None
    outputs: Amounts = None


class NewRecall(_Request):
    lot: Text
    reason: Text


#: Page sizes a list accepts (``limit``) and the one it uses without it.
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_LIMIT_ERROR = f"limit must be 1 to {MAX_LIMIT}"
_CURSOR_ERROR = "cursor is not one this API gave"


def _limit(value: object) -> int:
    text = value if isinstance(value, str) else ""
    if text == "":
        return DEFAULT_LIMIT
    if text.isascii() and text.isdigit() and len(text) <= 4 and 1 <= int(text) <= MAX_LIMIT:
        return int(text)
    raise _fail(_LIMIT_ERROR)


def _cursor(value: object) -> int | None:
    if not value or not isinstance(value, str):
        return None
    try:
        text = base64.urlsafe_b64decode(value.encode("ascii") + b"==").decode("ascii")
    except (ValueError, binascii.Error, UnicodeError):
        raise _fail(_CURSOR_ERROR) from None
    if not text.isascii() or not text.isdigit() or len(text) > 18:  # below 2**63
        raise _fail(_CURSOR_ERROR)
    return int(text)


def cursor_for(last_id: int) -> str:
    """The ``cursor`` that continues a list after the record ``last_id``."""
    return base64.urlsafe_b64encode(str(last_id).encode("ascii")).decode("ascii").rstrip("=")


class PageQuery(_Request):
    """The query of a list: ``limit`` and the ``cursor`` of the previous page."""

    limit: Annotated[
        int,
        BeforeValidator(_limit),
        WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 50}),
    ] = DEFAULT_LIMIT
    cursor: Annotated[int | None, BeforeValidator(_cursor), WithJsonSchema({"type": "string"})] = (
        None
    )


def _clipped(size: int) -> BeforeValidator:
    """A query value cut to ``size`` characters (longer never names anything)."""
    return BeforeValidator(lambda value: value[:size] if isinstance(value, str) else "")


_QUERY_DATE = WithJsonSchema({"type": "string", "format": "date"})


class ExportQuery(_Request):
    """The query of an export: a ``lot``, or (FSMA only) a ``from``/``to`` date range."""

    lot: Annotated[str, _clipped(90)] = ""
    from_: Annotated[str, _clipped(20), _QUERY_DATE] = Field(default="", alias="from")
    to: Annotated[str, _clipped(20), _QUERY_DATE] = ""


RequestModel = TypeVar("RequestModel", bound=_Request)


def parse_body(model: type[RequestModel], data: object) -> RequestModel:
    """``data`` (a decoded JSON body) as ``model``, or InvalidInputError naming the field."""
    if not isinstance(data, dict):
        raise InvalidInputError("the body must be a JSON object (Content-Type: application/json)")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        names = [part for part in error["loc"] if isinstance(part, str)]
        name = names[-1] if names else "body"
        message = error["msg"] if error["type"] == _ERROR else f"{name} is required"
        if error["type"] not in {_ERROR, "missing"}:
            message = f"{name} is not valid"
        raise InvalidInputError(message, field=name) from None


def parse_query(model: type[RequestModel], args: Mapping[str, str]) -> RequestModel:
    """The query ``args`` as ``model``, or InvalidInputError naming the parameter."""
    try:
        names = [field.alias or name for name, field in model.model_fields.items()]
        return model.model_validate({name: args.get(name, "") for name in names})
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        name = str(error["loc"][0])
        message = error["msg"] if error["type"] == _ERROR else f"{name} is not valid"
        raise InvalidInputError(message, parameter=name) from None


def query_parameters(model: type[BaseModel]) -> tuple[dict[str, Any], ...]:
    """``model``'s fields as OpenAPI query parameters (none required)."""
    properties = model.model_json_schema()["properties"]
    return tuple(
        {"name": name, "in": "query", "required": False, "schema": _bare(schema)}
        for name, schema in properties.items()
    )


def _bare(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` without its title and an empty default (absent means none in a query)."""
    return {k: v for k, v in schema.items() if k != "title" and (k, v) not in _NO_DEFAULTS}


_NO_DEFAULTS = (("default", None), ("default", ""))
