"""The registry's tables: facilities, certificates, products, lots and users.

Typed SQLAlchemy 2.0 models, no behaviour beyond small derived properties. Rules live in the
services (``registry.py``), which take a Session and own the transaction.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from agritrace.db import Base, DecimalText, UTCDateTime, enum_column, utcnow

__all__ = [
    "Certificate",
    "CertificateScheme",
    "CertificateStatus",
    "Facility",
    "FacilityStatus",
    "Lot",
    "LotStatus",
    "Product",
    "Role",
    "SerialCounter",
    "StampBatch",
    "StampScanClient",
    "StampScanPlace",
    "StampScanState",
    "User",
    "lot_ref",
]


class FacilityStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class CertificateScheme(StrEnum):
    VIETGAP = "vietgap"
    GLOBALGAP = "globalgap"
    ORGANIC = "organic"
    HACCP = "haccp"
    OTHER = "other"

    @property
    def label(self) -> str:
        return _SCHEME_LABELS[self]


_SCHEME_LABELS = {
    CertificateScheme.VIETGAP: "VietGAP",
    CertificateScheme.GLOBALGAP: "GlobalG.A.P.",
    CertificateScheme.ORGANIC: "Organic",
    CertificateScheme.HACCP: "HACCP",
    CertificateScheme.OTHER: "Other",
}


class CertificateStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class LotStatus(StrEnum):
    ACTIVE = "active"
    RECALLED = "recalled"


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    INSPECTOR = "inspector"


class Facility(Base):
    __tablename__ = "facility"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    province: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(300))
    gln: Mapped[str | None] = mapped_column(String(13), unique=True)
    status: Mapped[FacilityStatus] = mapped_column(
        enum_column(FacilityStatus, "facility_status"), default=FacilityStatus.ACTIVE
    )
    status_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    certificates: Mapped[list[Certificate]] = relationship(
        back_populates="facility", order_by="Certificate.valid_from"
    )


class Certificate(Base):
    __tablename__ = "certificate"
    __table_args__ = (
        UniqueConstraint("scheme", "number"),
        CheckConstraint("valid_to >= valid_from", name="valid_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    scheme: Mapped[CertificateScheme] = mapped_column(enum_column(CertificateScheme, "cert_scheme"))
    number: Mapped[str] = mapped_column(String(80))
    issuer: Mapped[str] = mapped_column(String(200))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date] = mapped_column(Date)
    scope: Mapped[str] = mapped_column(String(300))
    status: Mapped[CertificateStatus] = mapped_column(
        enum_column(CertificateStatus, "cert_status"), default=CertificateStatus.ACTIVE
    )
    status_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    facility: Mapped[Facility] = relationship(back_populates="certificates")

    def valid_on(self, day: dt.date) -> bool:
        return self.status is CertificateStatus.ACTIVE and self.valid_from <= day <= self.valid_to


class Product(Base):
    __tablename__ = "product"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    gtin: Mapped[str | None] = mapped_column(String(14), unique=True)
    category: Mapped[str] = mapped_column(String(100))
    unit: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Lot(Base):
    __tablename__ = "lot"
    __table_args__ = (
        UniqueConstraint("facility_id", "code"),
        CheckConstraint("units > 0", name="units_positive"),
        CheckConstraint("units_issued >= 0", name="units_issued_not_negative"),
        CheckConstraint("units_issued <= units", name="units_issued_within_units"),
        CheckConstraint("quantity NOT LIKE '-%'", name="quantity_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    units: Mapped[int] = mapped_column(Integer)
    #: Stamps issued for the lot so far: the sum of its batches' counts, kept by issuance
    #: under the lot's row lock; the database refuses more than ``units``.
    units_issued: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    quantity: Mapped[Decimal] = mapped_column(DecimalText)
    quantity_unit: Mapped[str] = mapped_column(String(20))
    harvest_date: Mapped[dt.date] = mapped_column(Date)
    pack_date: Mapped[dt.date | None] = mapped_column(Date)
    origin_area: Mapped[str] = mapped_column(String(200))
    latitude: Mapped[Decimal | None] = mapped_column(DecimalText)
    longitude: Mapped[Decimal | None] = mapped_column(DecimalText)
    status: Mapped[LotStatus] = mapped_column(
        enum_column(LotStatus, "lot_status"), default=LotStatus.ACTIVE
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    facility: Mapped[Facility] = relationship()
    product: Mapped[Product] = relationship()

    @property
    def ref(self) -> str:
        """The lot's public reference, ``FACILITY/LOT`` (see :func:`lot_ref`)."""
        return lot_ref(self.facility.code, self.code)


def lot_ref(facility_code: str, lot_code: str) -> str:
    """The one spelling of a lot reference: the facility's code, a slash, the lot's code."""
    return f"{facility_code}/{lot_code}"


class User(Base):
    __tablename__ = "app_user"
    __table_args__ = (
        CheckConstraint(
            "(role = 'operator') = (facility_id IS NOT NULL)", name="operator_has_facility"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(enum_column(Role, "user_role"))
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    facility: Mapped[Facility | None] = relationship()


class SerialCounter(Base):
    """The one global stamp-serial counter; issuance locks this row."""

    __tablename__ = "serial_counter"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("next_serial >= 1", name="positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    next_serial: Mapped[int] = mapped_column(BigInteger)


class StampBatch(Base):
    """A contiguous serial range ``[first_serial, first_serial + count)`` issued for a lot.

    Codes are derived on demand (Ed25519 is deterministic), so this one row stands for every
    stamp of the batch. ``ledger_index`` is the batch's entry in the ledger.
    """

    __tablename__ = "stamp_batch"
    __table_args__ = (CheckConstraint("count > 0", name="count_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lot.id"), index=True)
    first_serial: Mapped[int] = mapped_column(BigInteger, unique=True)
    count: Mapped[int] = mapped_column(Integer)
    key_id: Mapped[int] = mapped_column(Integer)
    prefix: Mapped[str] = mapped_column(String(80))
    ledger_index: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The batch's random claim key, hex (None: issued without claim codes; ADR 0009).
    claim_key: Mapped[str | None] = mapped_column(String(64))

    lot: Mapped[Lot] = relationship()

    @property
    def last_serial(self) -> int:
        return self.first_serial + self.count - 1


class StampScanState(Base):
    """What is known about the scans of one stamp; a row exists only once it was scanned.

    No IP address, user agent or other identifier of the visitor is ever stored: only the
    count, times, and the coarse place (rounded to 0.1 degree, about 11 km) a visitor chose
    to share. ``distant_places_at`` is set, once and for good, the first time the stamp is
    seen in two distant places within a few hours (a sign it was copied).
    """

    __tablename__ = "stamp_scan_state"
    __table_args__ = (CheckConstraint("scan_count >= 0", name="count_not_negative"),)

    serial: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    scan_count: Mapped[int] = mapped_column(BigInteger)
    first_scan_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_scan_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_place_lat: Mapped[Decimal | None] = mapped_column(DecimalText)
    last_place_lon: Mapped[Decimal | None] = mapped_column(DecimalText)
    last_place_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    distant_places_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Claim codes (ADR 0009): who claimed first (a keyed hash, per stamp), when, the coarse
    # province they chose; a second claim by another client (a clone); failed attempts.
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    claim_province: Mapped[str | None] = mapped_column(String(100))
    claim_client: Mapped[str | None] = mapped_column(String(32))
    clone_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    claim_failures: Mapped[int | None] = mapped_column(Integer)
    claim_failures_period: Mapped[int | None] = mapped_column(Integer)
    # The latest review decision (``confirmed`` or ``cleared``) and its ledger entry.
    review: Mapped[str | None] = mapped_column(String(20))
    review_reason: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    review_ledger_index: Mapped[int | None] = mapped_column(BigInteger)


class StampScanClient(Base):
    """That one client (a keyed hash, :mod:`agritrace.trace.scan_signals`) scanned one stamp
    in one period: the key that makes each client count once per stamp per day. Rows of
    past periods are pruned as the stamp is scanned again."""

    __tablename__ = "stamp_scan_client"

    serial: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    period: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    client: Mapped[str] = mapped_column(String(32), primary_key=True)


class StampScanPlace(Base):
    """A recent coarse place a stamp was scanned at, kept only for the distant-places rule
    (bounded per serial, and pruned once older than the rule's window)."""

    __tablename__ = "stamp_scan_place"
    __table_args__ = (Index("ix_stamp_scan_place_serial_at", "serial", "at"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    serial: Mapped[int] = mapped_column(BigInteger, ForeignKey("stamp_scan_state.serial"))
    lat: Mapped[Decimal] = mapped_column(DecimalText)
    lon: Mapped[Decimal] = mapped_column(DecimalText)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: The reporting client's key for this stamp and day (None for places before 0009).
    client: Mapped[str | None] = mapped_column(String(32))
