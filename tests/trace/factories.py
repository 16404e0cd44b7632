"""Registry records for tests: a certified facility with a product and a lot."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from agritrace.trace import registry
from agritrace.trace.models import Lot


def certified_lot(
    session: Session,
    now: dt.datetime,
    *,
    facility: str = "HD-VAI-01",
    lot: str = "L1",
    units: int = 1000,
    product: str = "VAI",
) -> Lot:
    if not registry.facility_exists(session, facility):
        registry.add_facility(
            session, code=facility, name="HTX Vải thiều", province="Hải Dương", address="x"
        )
        registry.certify(
            session,
            facility_code=facility,
            scheme="vietgap",
            number=f"VG-{facility}",
            issuer="NAFIQAD",
            valid_from="2026-01-01",
            valid_to="2027-12-31",
            scope="vải",
            now=now,
        )
    if not registry.product_exists(session, product):
        registry.add_product(session, code=product, name="Vải thiều", category="fruit", unit="box")
    return registry.create_lot(
        session,
        facility_code=facility,
        product_code=product,
        code=lot,
        units=units,
        quantity="500",
        quantity_unit="kg",
        harvest_date="2026-06-10",
        origin_area="Thanh Hà",
        now=now,
    )
