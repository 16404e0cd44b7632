"""Registry services: facilities, certificates, products, lots and users.

Each public function takes a Session, checks every rule before it writes, commits on success
and raises an :class:`~agritrace.errors.AgritraceError` (writing nothing) on bad input. A
database uniqueness race is translated into the same ConflictError a pre-check would give.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from agritrace.db import begin_write, utcnow
from agritrace.errors import ConflictError, InvalidInputError, NotFoundError
from agritrace.ledger import store
from agritrace.ledger.store import NewEntry
from agritrace.trace.models import (
    Certificate,
    CertificateScheme,
    CertificateStatus,
    Facility,
    FacilityStatus,
    Lot,
    Product,
    Role,
    User,
    lot_ref,
)
from agritrace.trace.passwords import hash_password
from agritrace.trace.validation import (
    check_code,
    check_gln,
    check_gtin,
    check_text,
    parse_date,
    parse_decimal,
    parse_positive_int,
)

__all__ = [
    "add_facility",
    "add_product",
    "add_user",
    "certificate_record",
    "certify",
    "create_lot",
    "facility_exists",
    "facility_record",
    "facility_subject",
    "get_facility",
    "get_lot",
    "get_product",
    "list_facilities",
    "list_lots",
    "list_products",
    "lot_record",
    "lot_subject",
    "parse_lot_ref",
    "product_exists",
    "product_record",
    "suspend_certificate",
    "suspend_facility",
    "user_record",
    "valid_certificate",
]

MAX_LOT_UNITS = 10_000_000


def _today(now: dt.datetime | None) -> dt.date:
    return (now or utcnow()).date()


def _commit(session: Session, *, key: str, **facts: Any) -> None:
    """Commit; a uniqueness race lost to another writer becomes ConflictError ``key``."""
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise ConflictError(key=key, **facts) from exc


def _stamp_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def _record(session: Session, body: dict[str, Any], *subjects: str) -> int:
    """Append a registry change to the ledger in the current transaction; its index."""
    [appended] = store.append(session, [NewEntry(body=body, subjects=subjects)])
    return appended.index


def facility_subject(facility: Facility) -> str:
    """The ledger subject naming a facility, e.g. ``facility:3``."""
    return f"facility:{facility.id}"


def _scheme(raw: str) -> CertificateScheme:
    try:
        return CertificateScheme(raw.strip().lower())
    except ValueError as exc:
        known = ", ".join(s.value for s in CertificateScheme)
        raise InvalidInputError(
            key="certificate.scheme_unknown", field="scheme", raw=raw, known=known
        ) from exc


# -- facilities ---------------------------------------------------------------------------


def facility_exists(session: Session, code: str) -> bool:
    found = session.scalar(select(Facility.id).where(Facility.code == code.strip().upper()))
    return found is not None


def product_exists(session: Session, code: str) -> bool:
    found = session.scalar(select(Product.id).where(Product.code == code.strip().upper()))
    return found is not None


def get_facility(session: Session, code: str) -> Facility:
    facility = session.scalar(select(Facility).where(Facility.code == code.strip().upper()))
    if facility is None:
        raise NotFoundError(key="facility.unknown", facility=code)
    return facility


def add_facility(
    session: Session,
    *,
    code: str,
    name: str,
    province: str,
    address: str,
    gln: str | None = None,
) -> Facility:
    code = check_code(code, field="facility code")
    facility = Facility(
        code=code,
        name=check_text(name, field="name"),
        province=check_text(province, field="province", max_len=100),
        address=check_text(address, field="address", max_len=300),
        gln=check_gln(gln) if gln else None,
        status=FacilityStatus.ACTIVE,
    )
    begin_write(session)
    if session.scalar(select(Facility.id).where(Facility.code == code)) is not None:
        raise ConflictError(key="facility.exists", facility=code)
    if facility.gln and session.scalar(select(Facility.id).where(Facility.gln == facility.gln)):
        raise ConflictError(key="facility.gln_exists", gln=facility.gln)
    session.add(facility)
    session.flush()
    _record(
        session,
        {
            "type": "facility",
            "step": "facility-registered",
            "facility": facility.code,
            "facility_name": facility.name,
            "province": facility.province,
            "address": facility.address,
            "gln": facility.gln,
            "at": _stamp_time(utcnow()),
        },
        facility_subject(facility),
    )
    _commit(session, key="facility.exists", facility=code)
    return facility


def suspend_facility(
    session: Session, code: str, *, reason: str, now: dt.datetime | None = None
) -> Facility:
    """Suspend a facility (no new lots, stamps or events) and record it in the ledger."""
    reason = check_text(reason, field="reason", max_len=500)
    begin_write(session)
    facility = get_facility(session, code)
    if facility.status is FacilityStatus.SUSPENDED:
        raise ConflictError(key="facility.already_suspended", facility=facility.code)
    facility.status = FacilityStatus.SUSPENDED
    facility.status_reason = reason
    _record(
        session,
        {
            "type": "facility-suspension",
            "step": "facility-suspended",
            "facility": facility.code,
            "facility_name": facility.name,
            "reason": reason,
            "at": _stamp_time(now or utcnow()),
        },
        facility_subject(facility),
    )
    session.commit()
    return facility


def suspend_certificate(
    session: Session,
    *,
    scheme: str,
    number: str,
    reason: str,
    now: dt.datetime | None = None,
) -> Certificate:
    """Suspend a certificate (it no longer counts as valid) and record it in the ledger."""
    scheme_value = _scheme(scheme)
    reason = check_text(reason, field="reason", max_len=500)
    begin_write(session)
    certificate = session.scalar(
        select(Certificate).where(
            Certificate.scheme == scheme_value, Certificate.number == number.strip()
        )
    )
    if certificate is None:
        raise NotFoundError(key="certificate.unknown", scheme=scheme_value.label, number=number)
    if certificate.status is CertificateStatus.SUSPENDED:
        raise ConflictError(key="certificate.already_suspended", number=certificate.number)
    certificate.status = CertificateStatus.SUSPENDED
    certificate.status_reason = reason
    _record(
        session,
        {
            "type": "certificate-suspension",
            "step": "certificate-suspended",
            "facility": certificate.facility.code,
            "facility_name": certificate.facility.name,
            "scheme": scheme_value.value,
            "number": certificate.number,
            "reason": reason,
            "at": _stamp_time(now or utcnow()),
        },
        facility_subject(certificate.facility),
    )
    session.commit()
    return certificate


def list_facilities(session: Session) -> list[Facility]:
    return list(session.scalars(select(Facility).order_by(Facility.code)))


# -- certificates -------------------------------------------------------------------------


def certify(
    session: Session,
    *,
    facility_code: str,
    scheme: str,
    number: str,
    issuer: str,
    valid_from: str | dt.date,
    valid_to: str | dt.date,
    scope: str,
    now: dt.datetime | None = None,
    historical: bool = False,
) -> Certificate:
    """Record a certificate held by a facility.

    Refuses an unknown scheme, an empty range, and a certificate that has already expired
    (unless ``historical``, as when importing past records). A certificate that starts in
    the future is accepted (it is not valid until then).
    """
    scheme_value = _scheme(scheme)
    start = parse_date(valid_from, field="valid from")
    end = parse_date(valid_to, field="valid to")
    if end < start:
        raise InvalidInputError(key="certificate.ends_before_start", valid_from=start, valid_to=end)
    if end < _today(now) and not historical:
        raise InvalidInputError(key="certificate.expired", valid_to=end)
    number = check_text(number, field="certificate number", max_len=80)
    begin_write(session)
    facility = get_facility(session, facility_code)
    duplicate = select(Certificate.id).where(
        Certificate.scheme == scheme_value, Certificate.number == number
    )
    if session.scalar(duplicate) is not None:
        raise ConflictError(key="certificate.exists", scheme=scheme_value.label, number=number)
    certificate = Certificate(
        facility=facility,
        scheme=scheme_value,
        number=number,
        issuer=check_text(issuer, field="issuer"),
        valid_from=start,
        valid_to=end,
        scope=check_text(scope, field="scope", max_len=300),
        status=CertificateStatus.ACTIVE,
    )
    session.add(certificate)
    _record(
        session,
        {
            "type": "certificate",
            "step": "certified",
            "facility": facility.code,
            "facility_name": facility.name,
            "scheme": scheme_value.value,
            "number": number,
            "issuer": certificate.issuer,
            "valid_from": start.isoformat(),
            "valid_to": end.isoformat(),
            "scope": certificate.scope,
            "at": _stamp_time(now or utcnow()),
        },
        facility_subject(facility),
    )
    _commit(session, key="certificate.exists", scheme=scheme_value.label, number=number)
    return certificate


def valid_certificate(facility: Facility, day: dt.date) -> Certificate:
    """The facility's certificate valid on ``day``; raises InvalidInputError saying why not."""
    certificates = list(facility.certificates)
    for certificate in certificates:
        if certificate.valid_on(day):
            return certificate
    if not certificates:
        raise InvalidInputError(key="certificate.none", facility=facility.code)
    active = [c for c in certificates if c.status is CertificateStatus.ACTIVE]
    if not active:
        raise InvalidInputError(key="certificate.all_suspended", facility=facility.code)
    earlier = [c for c in active if c.valid_to < day]
    later = [c for c in active if c.valid_from > day]
    if later and not earlier:
        first = min(later, key=lambda c: c.valid_from)
        raise InvalidInputError(
            key="certificate.not_yet_valid",
            number=first.number,
            facility=facility.code,
            valid_from=first.valid_from,
            day=day,
        )
    last = max(earlier or active, key=lambda c: c.valid_to)
    raise InvalidInputError(
        key="certificate.lapsed",
        number=last.number,
        facility=facility.code,
        valid_to=last.valid_to,
        day=day,
    )


# -- products -----------------------------------------------------------------------------


def get_product(session: Session, code: str) -> Product:
    product = session.scalar(select(Product).where(Product.code == code.strip().upper()))
    if product is None:
        raise NotFoundError(key="product.unknown", product=code)
    return product


def add_product(
    session: Session,
    *,
    code: str,
    name: str,
    category: str,
    unit: str,
    gtin: str | None = None,
) -> Product:
    code = check_code(code, field="product code")
    product = Product(
        code=code,
        name=check_text(name, field="name"),
        gtin=check_gtin(gtin) if gtin else None,
        category=check_text(category, field="category", max_len=100),
        unit=check_text(unit, field="unit", max_len=20),
    )
    begin_write(session)
    if session.scalar(select(Product.id).where(Product.code == code)) is not None:
        raise ConflictError(key="product.exists", product=code)
    if product.gtin and session.scalar(select(Product.id).where(Product.gtin == product.gtin)):
        raise ConflictError(key="product.gtin_exists", gtin=product.gtin)
    session.add(product)
    _commit(session, key="product.exists", product=code)
    return product


def list_products(session: Session) -> list[Product]:
    return list(session.scalars(select(Product).order_by(Product.code)))


# -- lots ---------------------------------------------------------------------------------


def parse_lot_ref(ref: str) -> tuple[str, str]:
    """Split ``FACILITY/LOT`` into its two codes."""
    facility_code, sep, lot_code = ref.strip().partition("/")
    if not sep or not facility_code or not lot_code:
        raise InvalidInputError(key="lot.ref", field="lot", ref=ref)
    return check_code(facility_code, field="facility code"), check_code(lot_code, field="lot code")


def lot_subject(lot: Lot) -> str:
    """The ledger subject naming a lot, e.g. ``lot:12``."""
    return f"lot:{lot.id}"


def get_lot(session: Session, ref: str) -> Lot:
    facility_code, lot_code = parse_lot_ref(ref)
    lot = session.scalar(
        select(Lot)
        .join(Facility, Lot.facility_id == Facility.id)
        .where(Facility.code == facility_code, Lot.code == lot_code)
    )
    if lot is None:
        raise NotFoundError(key="lot.unknown", lot=lot_ref(facility_code, lot_code))
    return lot


def _coordinate(raw: str | Decimal | None, *, field: str, limit: int) -> Decimal | None:
    if raw is None or raw == "":
        return None
    value = parse_decimal(raw, field=field, places=6)
    if not -limit <= value <= limit:
        raise InvalidInputError(key="input.out_of_range", field=field, limit=limit)
    return value


def create_lot(
    session: Session,
    *,
    facility_code: str,
    product_code: str,
    code: str,
    units: str | int,
    quantity: str | Decimal,
    quantity_unit: str,
    harvest_date: str | dt.date,
    origin_area: str,
    pack_date: str | dt.date | None = None,
    latitude: str | Decimal | None = None,
    longitude: str | Decimal | None = None,
    now: dt.datetime | None = None,
) -> Lot:
    """Register a lot of produce at an active, certified facility.

    Rules: lot code unique per facility; units a positive whole number (it caps the stamps
    that may be issued); quantity positive; harvest not in the future; packing not before
    harvest; the facility active and holding a certificate valid on the harvest date.
    """
    code = check_code(code, field="lot code")
    unit_count = parse_positive_int(units, field="units", maximum=MAX_LOT_UNITS)
    amount = parse_decimal(quantity, field="quantity", minimum=Decimal(0))
    harvest = parse_date(harvest_date, field="harvest date")
    packed = parse_date(pack_date, field="pack date") if pack_date else None
    today = _today(now)
    if harvest > today:
        raise InvalidInputError(key="lot.harvest_in_future", field="harvest date", harvest=harvest)
    if packed is not None and packed < harvest:
        raise InvalidInputError(
            key="lot.pack_before_harvest", field="pack date", packed=packed, harvest=harvest
        )
    if packed is not None and packed > today:
        raise InvalidInputError(key="lot.pack_in_future", field="pack date", packed=packed)
    lat = _coordinate(latitude, field="latitude", limit=90)
    lon = _coordinate(longitude, field="longitude", limit=180)
    if (lat is None) != (lon is None):
        raise InvalidInputError(key="lot.half_a_place")
    begin_write(session)
    facility = get_facility(session, facility_code)
    # Its standing is read under FOR SHARE: a suspension cannot slip in before this commits.
    session.refresh(facility, with_for_update={"read": True})
    if facility.status is not FacilityStatus.ACTIVE:
        raise ConflictError(key="facility.suspended", facility=facility.code)
    valid_certificate(facility, harvest)
    product = get_product(session, product_code)
    duplicate = select(Lot.id).where(Lot.facility_id == facility.id, Lot.code == code)
    if session.scalar(duplicate) is not None:
        raise ConflictError(key="lot.exists", lot=lot_ref(facility.code, code))
    lot = Lot(
        facility=facility,
        product=product,
        code=code,
        units=unit_count,
        quantity=amount,
        quantity_unit=check_text(quantity_unit, field="quantity unit", max_len=20),
        harvest_date=harvest,
        pack_date=packed,
        origin_area=check_text(origin_area, field="origin area"),
        latitude=lat,
        longitude=lon,
    )
    session.add(lot)
    session.flush()
    display = {"quantity": f"{format(amount, 'f')} {lot.quantity_unit}", "origin": lot.origin_area}
    _record(
        session,
        {
            "type": "lot",
            "step": "registered",
            "lot": lot_ref(facility.code, code),
            "facility": facility.code,
            "facility_name": facility.name,
            "product": product.code,
            "product_name": product.name,
            "gtin": product.gtin,
            "units": unit_count,
            "quantity": format(amount, "f"),
            "quantity_unit": lot.quantity_unit,
            "harvest_date": harvest.isoformat(),
            "pack_date": packed.isoformat() if packed else None,
            "origin_area": lot.origin_area,
            "latitude": format(lat, "f") if lat is not None else None,
            "longitude": format(lon, "f") if lon is not None else None,
            "at": _stamp_time(now or utcnow()),
            "display": display,
        },
        lot_subject(lot),
        facility_subject(facility),
    )
    _commit(session, key="lot.exists", lot=lot_ref(facility.code, code))
    return lot


def list_lots(session: Session, *, facility_code: str | None = None) -> list[Lot]:
    query = select(Lot).join(Facility, Lot.facility_id == Facility.id)
    if facility_code:
        facility = get_facility(session, facility_code)
        query = query.where(Lot.facility_id == facility.id)
    return list(session.scalars(query.order_by(Facility.code, Lot.code)))


# -- users --------------------------------------------------------------------------------


def add_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    facility_code: str | None = None,
) -> User:
    name = username.strip().lower()
    if not name or len(name) > 64 or not all(c.isalnum() or c in "._-@" for c in name):
        raise InvalidInputError(key="user.name", field="username", username=username)
    try:
        role_value = Role(role.strip().lower())
    except ValueError as exc:
        known = ", ".join(r.value for r in Role)
        raise InvalidInputError(
            key="user.role_unknown_of", field="role", role=role, known=known
        ) from exc
    if role_value is Role.OPERATOR and not facility_code:
        raise InvalidInputError(key="user.operator_needs_facility", field="facility")
    if role_value is not Role.OPERATOR and facility_code:
        raise InvalidInputError(
            key="user.role_without_facility", field="facility", role=role_value.value
        )
    password_hash = hash_password(password)
    begin_write(session)
    facility = get_facility(session, facility_code) if facility_code else None
    if session.scalar(select(User.id).where(User.username == name)) is not None:
        raise ConflictError(key="user.exists", username=name)
    user = User(username=name, password_hash=password_hash, role=role_value, facility=facility)
    session.add(user)
    _commit(session, key="user.exists", username=name)
    return user


# -- records for --json and the API ---------------------------------------------------------


def facility_record(facility: Facility) -> dict[str, Any]:
    return {
        "id": facility.id,
        "code": facility.code,
        "name": facility.name,
        "province": facility.province,
        "address": facility.address,
        "gln": facility.gln,
        "status": facility.status.value,
        "status_reason": facility.status_reason,
    }


def certificate_record(certificate: Certificate) -> dict[str, Any]:
    return {
        "id": certificate.id,
        "facility": certificate.facility.code,
        "scheme": certificate.scheme.value,
        "number": certificate.number,
        "issuer": certificate.issuer,
        "valid_from": certificate.valid_from.isoformat(),
        "valid_to": certificate.valid_to.isoformat(),
        "scope": certificate.scope,
        "status": certificate.status.value,
    }


def product_record(product: Product) -> dict[str, Any]:
    return {
        "id": product.id,
        "code": product.code,
        "name": product.name,
        "gtin": product.gtin,
        "category": product.category,
        "unit": product.unit,
    }


def lot_record(lot: Lot) -> dict[str, Any]:
    return {
        "id": lot.id,
        "code": lot.code,
        "ref": lot.ref,
        "facility": lot.facility.code,
        "product": lot.product.code,
        "units": lot.units,
        "quantity": format(lot.quantity, "f"),
        "quantity_unit": lot.quantity_unit,
        "harvest_date": lot.harvest_date.isoformat(),
        "pack_date": lot.pack_date.isoformat() if lot.pack_date else None,
        "origin_area": lot.origin_area,
        "latitude": format(lot.latitude, "f") if lot.latitude is not None else None,
        "longitude": format(lot.longitude, "f") if lot.longitude is not None else None,
        "status": lot.status.value,
    }


def user_record(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "role": user.role.value,
        "facility": user.facility.code if user.facility else None,
        "active": user.active,
    }
