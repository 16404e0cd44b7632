"""Tables indexing supply-chain events. The events themselves are ledger entries; these rows
are an insert-only projection of them for queries (custody, upstream lots, corrections)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from agritrace.db import Base, DecimalText, UTCDateTime, enum_column
from agritrace.trace.models import Facility, Lot

__all__ = [
    "EventCorrection",
    "EventLot",
    "LotInput",
    "LotRole",
    "Recall",
    "RevocationList",
    "Step",
    "TraceEvent",
]


class Step(StrEnum):
    """What happened to a lot (each maps to a CBV 2.0 business step)."""

    HARVEST = "harvest"
    PACKING = "packing"
    COOLING = "cooling"
    STORING = "storing"
    SHIPPING = "shipping"
    RECEIVING = "receiving"
    INSPECTING = "inspecting"
    PROCESSING = "processing"


class LotRole(StrEnum):
    OBJECT = "object"
    INPUT = "input"
    OUTPUT = "output"


class TraceEvent(Base):
    __tablename__ = "trace_event"
    __table_args__ = (Index("ix_trace_event_facility_time", "facility_id", "event_time"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ledger_index: Mapped[int] = mapped_column(BigInteger, unique=True)
    event_id: Mapped[str] = mapped_column(String(100), unique=True)
    step: Mapped[Step] = mapped_column(enum_column(Step, "event_step"))
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"))
    other_facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    """Destination of a shipment, source of a receipt."""
    event_time: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    facility: Mapped[Facility] = relationship(foreign_keys=[facility_id])
    other_facility: Mapped[Facility | None] = relationship(foreign_keys=[other_facility_id])
    lots: Mapped[list[EventLot]] = relationship(back_populates="event", order_by="EventLot.id")


class EventLot(Base):
    __tablename__ = "event_lot"
    __table_args__ = (
        CheckConstraint("quantity IS NULL OR quantity NOT LIKE '-%'", name="quantity_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_pk: Mapped[int] = mapped_column(ForeignKey("trace_event.id"), index=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lot.id"), index=True)
    role: Mapped[LotRole] = mapped_column(enum_column(LotRole, "lot_role"))
    quantity: Mapped[Decimal | None] = mapped_column(DecimalText)
    uom: Mapped[str | None] = mapped_column(String(20))

    event: Mapped[TraceEvent] = relationship(back_populates="lots")
    lot: Mapped[Lot] = relationship()


class LotInput(Base):
    """Lot ``output_lot_id`` was made (in part) from lot ``input_lot_id``."""

    __tablename__ = "lot_input"

    output_lot_id: Mapped[int] = mapped_column(ForeignKey("lot.id"), primary_key=True)
    input_lot_id: Mapped[int] = mapped_column(ForeignKey("lot.id"), primary_key=True, index=True)
    event_pk: Mapped[int] = mapped_column(ForeignKey("trace_event.id"))


class EventCorrection(Base):
    """A later ledger entry (an EPCIS errorDeclaration) that corrects an event."""

    __tablename__ = "event_correction"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_pk: Mapped[int] = mapped_column(ForeignKey("trace_event.id"), unique=True)
    ledger_index: Mapped[int] = mapped_column(BigInteger, unique=True)
    reason: Mapped[str] = mapped_column(Text)
    declared_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Recall(Base):
    """A lot recalled by an inspector, directly or because an input lot was recalled."""

    __tablename__ = "lot_recall"

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lot.id"), unique=True)
    root_lot_id: Mapped[int] = mapped_column(ForeignKey("lot.id"))
    ledger_index: Mapped[int] = mapped_column(BigInteger, index=True)
    reason: Mapped[str] = mapped_column(Text)
    recalled_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    lot: Mapped[Lot] = relationship(foreign_keys=[lot_id])
    root_lot: Mapped[Lot] = relationship(foreign_keys=[root_lot_id])


class RevocationList(Base):
    """A signed list of recalled serial ranges, re-signed after every recall (insert-only)."""

    __tablename__ = "revocation_list"

    id: Mapped[int] = mapped_column(primary_key=True)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    document: Mapped[str] = mapped_column(Text)
