"""Registry rules, on SQLite and PostgreSQL, each test rolled back."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from agritrace.errors import ConflictError, InvalidInputError, NotFoundError
from agritrace.trace import registry
from agritrace.trace.models import Facility, FacilityStatus, Lot, Role, User
from agritrace.trace.passwords import verify_password


def _facility(session: Session, code: str = "HY-VAI-01") -> Facility:
    return registry.add_facility(
        session, code=code, name="HTX Vải thiều Thanh Hà", province="Hải Dương", address="Thanh Hà"
    )


def _certified(session: Session, now: dt.datetime, code: str = "HY-VAI-01") -> Facility:
    facility = _facility(session, code)
    registry.certify(
        session,
        facility_code=code,
        scheme="vietgap",
        number=f"VG-{code}",
        issuer="Trung tâm Chứng nhận Phù hợp",
        valid_from="2026-01-01",
        valid_to="2027-12-31",
        scope="vải thiều",
        now=now,
    )
    registry.add_product(session, code="VAI", name="Vải thiều", category="fruit", unit="box")
    return facility


def _lot_args(**overrides: object) -> dict[str, object]:
    args: dict[str, object] = {
        "facility_code": "HY-VAI-01",
        "product_code": "VAI",
        "code": "L2026-001",
        "units": "400",
        "quantity": "2000.5",
        "quantity_unit": "kg",
        "harvest_date": "2026-06-10",
        "pack_date": "2026-06-11",
        "origin_area": "Thanh Hà",
    }
    args.update(overrides)
    return args


def _count(session: Session, model: type[object]) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_facility_is_stored_with_upper_case_code(session: Session) -> None:
    registry.add_facility(
        session, code="hy-vai-01", name="A", province="Hải Dương", address="x", gln="8930000000019"
    )
    stored = registry.get_facility(session, "HY-VAI-01")
    assert stored.code == "HY-VAI-01"
    assert stored.gln == "8930000000019"
    assert stored.status is FacilityStatus.ACTIVE


def test_duplicate_facility_code_is_refused(session: Session) -> None:
    _facility(session)
    with pytest.raises(ConflictError, match="already exists"):
        _facility(session)
    assert _count(session, Facility) == 1


def test_facility_gln_with_bad_check_digit_is_refused(session: Session) -> None:
    with pytest.raises(InvalidInputError, match="check digit should be 9"):
        registry.add_facility(
            session, code="F1", name="A", province="P", address="x", gln="8930000000011"
        )
    assert _count(session, Facility) == 0


@pytest.mark.parametrize("code", ["", "has space", "ÄÖ", "x" * 41, "-lead"])
def test_malformed_facility_code_is_refused(session: Session, code: str) -> None:
    with pytest.raises(InvalidInputError, match="facility code"):
        registry.add_facility(session, code=code, name="A", province="P", address="x")


def test_certificate_valid_range_and_scheme(session: Session, now: dt.datetime) -> None:
    _certified(session, now)
    facility = registry.get_facility(session, "HY-VAI-01")
    [certificate] = facility.certificates
    assert certificate.valid_on(dt.date(2026, 6, 1))
    assert not certificate.valid_on(dt.date(2028, 1, 1))
    assert registry.certificate_record(certificate)["scheme"] == "vietgap"


def test_expired_certificate_is_refused(session: Session, now: dt.datetime) -> None:
    _facility(session)
    with pytest.raises(InvalidInputError, match="expired on 2025-12-31"):
        registry.certify(
            session,
            facility_code="HY-VAI-01",
            scheme="vietgap",
            number="VG-OLD",
            issuer="x",
            valid_from="2024-01-01",
            valid_to="2025-12-31",
            scope="x",
            now=now,
        )


def test_certificate_ending_before_it_starts_is_refused(session: Session, now: dt.datetime) -> None:
    _facility(session)
    with pytest.raises(InvalidInputError, match="before it starts"):
        registry.certify(
            session,
            facility_code="HY-VAI-01",
            scheme="organic",
            number="O-1",
            issuer="x",
            valid_from="2027-01-01",
            valid_to="2026-12-31",
            scope="x",
            now=now,
        )


def test_unknown_scheme_is_refused(session: Session, now: dt.datetime) -> None:
    _facility(session)
    with pytest.raises(InvalidInputError, match="unknown certificate scheme"):
        registry.certify(
            session,
            facility_code="HY-VAI-01",
            scheme="bestgap",
            number="B-1",
            issuer="x",
            valid_from="2026-01-01",
            valid_to="2027-01-01",
            scope="x",
            now=now,
        )


def test_certificate_for_unknown_facility_is_refused(session: Session, now: dt.datetime) -> None:
    with pytest.raises(NotFoundError, match="unknown facility 'NOPE'"):
        registry.certify(
            session,
            facility_code="NOPE",
            scheme="vietgap",
            number="VG-1",
            issuer="x",
            valid_from="2026-01-01",
            valid_to="2027-01-01",
            scope="x",
            now=now,
        )


def test_duplicate_certificate_number_is_refused(session: Session, now: dt.datetime) -> None:
    _certified(session, now)
    with pytest.raises(ConflictError, match="already recorded"):
        registry.certify(
            session,
            facility_code="HY-VAI-01",
            scheme="vietgap",
            number="VG-HY-VAI-01",
            issuer="x",
            valid_from="2026-01-01",
            valid_to="2027-01-01",
            scope="x",
            now=now,
        )


def test_product_gtin13_is_stored_as_gtin14(session: Session) -> None:
    product = registry.add_product(
        session, code="VAI", name="Vải", category="fruit", unit="box", gtin="8934567890120"
    )
    assert product.gtin == "08934567890120"


@pytest.mark.parametrize(
    ("gtin", "message"),
    [
        ("8934567890123", "check digit should be 0"),
        ("12345", "13 or 14 digits"),
        ("893456789012X", "13 or 14 digits"),
        ("08934567890121", "check digit should be 0"),
    ],
)
def test_bad_gtin_is_refused(session: Session, gtin: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        registry.add_product(session, code="VAI", name="Vải", category="f", unit="box", gtin=gtin)


def test_lot_is_created_for_certified_facility(session: Session, now: dt.datetime) -> None:
    _certified(session, now)
    lot = registry.create_lot(session, **_lot_args(), now=now)  # type: ignore[arg-type]
    record = registry.lot_record(lot)
    assert record["ref"] == "HY-VAI-01/L2026-001"
    assert record["quantity"] == "2000.5"
    assert registry.get_lot(session, "hy-vai-01/l2026-001").id == lot.id


def test_same_lot_code_at_two_facilities_is_allowed(session: Session, now: dt.datetime) -> None:
    _certified(session, now)
    other = _facility(session, "BG-VAI-02")
    registry.certify(
        session,
        facility_code=other.code,
        scheme="globalgap",
        number="GG-2",
        issuer="x",
        valid_from="2026-01-01",
        valid_to="2027-01-01",
        scope="x",
        now=now,
    )
    registry.create_lot(session, **_lot_args(), now=now)  # type: ignore[arg-type]
    registry.create_lot(session, **_lot_args(facility_code="BG-VAI-02"), now=now)  # type: ignore[arg-type]
    assert _count(session, Lot) == 2


def test_duplicate_lot_code_is_refused(session: Session, now: dt.datetime) -> None:
    _certified(session, now)
    registry.create_lot(session, **_lot_args(), now=now)  # type: ignore[arg-type]
    with pytest.raises(ConflictError, match="HY-VAI-01/L2026-001 already exists"):
        registry.create_lot(session, **_lot_args(), now=now)  # type: ignore[arg-type]
    assert _count(session, Lot) == 1


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"units": "-5"}, InvalidInputError, "units must be greater than zero"),
        ({"units": "0"}, InvalidInputError, "units must be greater than zero"),
        ({"units": "12.5"}, InvalidInputError, "not a whole number"),
        ({"quantity": "-1"}, InvalidInputError, "quantity must be greater than 0"),
        ({"quantity": "abc"}, InvalidInputError, "not a number"),
        ({"harvest_date": "2026-02-30"}, InvalidInputError, "not a date"),
        ({"harvest_date": "10/06/2026"}, InvalidInputError, "not a date"),
        ({"harvest_date": "2026-12-01"}, InvalidInputError, "in the future"),
        ({"pack_date": "2026-06-01"}, InvalidInputError, "before harvest date"),
        ({"facility_code": "NOPE"}, NotFoundError, "unknown facility"),
        ({"product_code": "NOPE"}, NotFoundError, "unknown product"),
        ({"harvest_date": "2025-12-01", "pack_date": None}, InvalidInputError, "not valid until"),
        ({"latitude": "21.0"}, InvalidInputError, "both latitude and longitude"),
        ({"latitude": "91", "longitude": "105"}, InvalidInputError, "between -90 and 90"),
        ({"code": "bad code!"}, InvalidInputError, "lot code"),
    ],
)
def test_bad_lot_input_is_refused_and_writes_nothing(
    session: Session,
    now: dt.datetime,
    overrides: dict[str, object],
    error: type[Exception],
    message: str,
) -> None:
    _certified(session, now)
    with pytest.raises(error, match=message):
        registry.create_lot(session, **_lot_args(**overrides), now=now)  # type: ignore[arg-type]
    assert _count(session, Lot) == 0


def test_lot_after_certificate_expired_is_refused(session: Session) -> None:
    later = dt.datetime(2028, 3, 1, tzinfo=dt.UTC)
    _certified(session, dt.datetime(2026, 11, 20, tzinfo=dt.UTC))
    with pytest.raises(InvalidInputError, match="expired on 2027-12-31"):
        registry.create_lot(
            session,
            **_lot_args(harvest_date="2028-02-01", pack_date=None),  # type: ignore[arg-type]
            now=later,
        )


def test_lot_at_suspended_facility_is_refused(session: Session, now: dt.datetime) -> None:
    _certified(session, now)
    registry.suspend_facility(session, "HY-VAI-01", reason="pesticide residue above limit")
    with pytest.raises(ConflictError, match="suspended"):
        registry.create_lot(session, **_lot_args(), now=now)  # type: ignore[arg-type]


def test_suspending_twice_is_refused(session: Session) -> None:
    _facility(session)
    facility = registry.suspend_facility(session, "HY-VAI-01", reason="audit failed")
    assert facility.status is FacilityStatus.SUSPENDED
    assert facility.status_reason == "audit failed"
    with pytest.raises(ConflictError, match="already suspended"):
        registry.suspend_facility(session, "HY-VAI-01", reason="again")


def test_lot_ref_needs_facility_and_lot(session: Session) -> None:
    with pytest.raises(InvalidInputError, match="FACILITY/LOT"):
        registry.get_lot(session, "L2026-001")
    with pytest.raises(NotFoundError, match="unknown lot"):
        registry.get_lot(session, "HY-VAI-01/L404")


def test_user_password_is_hashed(session: Session) -> None:
    _facility(session)
    user = registry.add_user(
        session,
        username="Mai.Operator",
        password="a long enough passphrase",
        role="operator",
        facility_code="HY-VAI-01",
    )
    assert user.username == "mai.operator"
    assert user.role is Role.OPERATOR
    assert "passphrase" not in user.password_hash
    assert verify_password("a long enough passphrase", user.password_hash)
    assert not verify_password("wrong passphrase!", user.password_hash)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"role": "operator"}, "bound to a facility"),
        ({"role": "inspector", "facility_code": "HY-VAI-01"}, "not bound to a facility"),
        ({"role": "king"}, "unknown role"),
        ({"role": "admin", "password": "short"}, "at least 10 characters"),
        ({"role": "admin", "username": "bad name"}, "not valid"),
        ({"role": "operator", "facility_code": "NOPE"}, "unknown facility"),
    ],
)
def test_bad_user_is_refused(session: Session, kwargs: dict[str, str], message: str) -> None:
    _facility(session)
    args = {"username": "someone", "password": "a long enough passphrase", **kwargs}
    with pytest.raises((InvalidInputError, NotFoundError), match=message):
        registry.add_user(session, **args)
    assert _count(session, User) == 0


def test_duplicate_username_is_refused(session: Session) -> None:
    registry.add_user(session, username="an", password="a long enough passphrase", role="admin")
    with pytest.raises(ConflictError, match="already exists"):
        registry.add_user(session, username="AN", password="another passphrase", role="inspector")
