"""Every response shape of ``/api/v1``, declared once as pydantic v2 models.

The answers themselves are built by the trace layer's ``*_record`` functions (unchanged, so
byte-compatible); these models describe their keys for the generated OpenAPI document and
schemathesis checks every answer against them. Requests are in ``web/api_shapes.py``; see
docs/adr/0015-api-shapes.md.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field

__all__ = [
    "Batch",
    "BatchPage",
    "CaptureReport",
    "Event",
    "EventPage",
    "Lot",
    "LotPage",
    "Problem",
    "Recall",
    "RecallPage",
    "Recorded",
    "StampCheck",
    "User",
]


class Problem(BaseModel):
    """RFC 9457 problem details"""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None


class User(BaseModel):
    id: int
    username: str
    role: Literal["admin", "operator", "inspector"]
    facility: str | None
    active: bool


class Lot(BaseModel):
    id: int
    code: str
    ref: str
    facility: str
    product: str
    units: int
    quantity: str | None = None
    quantity_unit: str | None = None
    harvest_date: Annotated[str | None, Field(json_schema_extra={"format": "date"})] = None
    pack_date: Annotated[str | None, Field(json_schema_extra={"format": "date"})] = None
    origin_area: str | None = None
    latitude: str | None = None
    longitude: str | None = None
    status: Literal["active", "recalled"]
    stamps_issued: int | None = None


class Batch(BaseModel):
    id: int
    lot: str
    first_serial: int
    last_serial: int
    count: int
    key_id: int | None = None
    prefix: str | None = None
    ledger_index: int
    created_at: str | None = None
    claim_codes: bool | None = None


class Event(BaseModel):
    id: int
    event_id: str
    ledger_index: int
    step: str
    facility: str
    event_time: str
    lots: list[dict[str, Any]]
    other_facility: str | None = None
    corrected_by: int | None = None
    correction_reason: str | None = None


class Recorded(BaseModel):
    event_id: str
    ledger_index: int
    step: str


class CaptureReport(BaseModel):
    facilities_created: int | None = None
    lots_created: int | None = None
    events_recorded: int
    corrections: int | None = None
    event_ids: list[str] | None = None


class Recall(BaseModel):
    id: int
    lot: str
    recalled_because_of: str | None = None
    reason: str
    recalled_at: str | None = None
    ledger_index: int


class Claim(BaseModel):
    claimed: bool | None = None
    claimed_on: str | None = None
    province: str | None = None
    claimed_twice: bool | None = None


class Review(BaseModel):
    decision: Literal["confirmed", "cleared"] | None = None
    reason: str | None = None
    reviewed_at: str | None = None


class StampCheck(BaseModel):
    verdict: Literal["genuine", "recalled", "suspicious", "not_genuine"]
    reason: str | None = None
    notes: list[Literal["many-scans", "distant-places"]] | None = Field(
        default=None,
        description="signals any client could fake: informational, never the verdict",
    )
    claim: Claim | None = Field(
        default=None, description="null unless the stamp has a scratch-off claim code"
    )
    review: Review | None = None


Item = TypeVar("Item", bound=BaseModel)


class Page(BaseModel, Generic[Item]):
    items: list[Item]
    next_cursor: str | None = Field(
        description="Pass as cursor for the next page; null on the last page."
    )


class LotPage(Page[Lot]):
    pass


class BatchPage(Page[Batch]):
    pass


class EventPage(Page[Event]):
    pass


class RecallPage(Page[Recall]):
    pass
