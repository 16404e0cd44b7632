"""A three-stage supply chain for tests: farm -> packer -> retailer.

Farm HD-VAI-01 harvests lot HD-VAI-01/L1 (2,000 kg of lychee) and ships it to packer
HN-PACK-02, which receives it and dries it into lot HN-PACK-02/D1 (400 kg), then ships that
to retailer HN-SHOP-03, which receives it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from agritrace.trace import events, registry
from agritrace.trace.events import LotAmount

VN = dt.timezone(dt.timedelta(hours=7))
NOW = dt.datetime(2026, 11, 20, 3, 0, tzinfo=dt.UTC)


def at(day: int, hour: int = 8) -> dt.datetime:
    return dt.datetime(2026, 6, day, hour, 0, tzinfo=VN)


def facilities(session: Session) -> None:
    for code, name, province in [
        ("HD-VAI-01", "HTX Vải thiều Thanh Hà", "Hải Dương"),
        ("HN-PACK-02", "Công ty Sấy khô Hà Nội", "Hà Nội"),
        ("HN-SHOP-03", "Cửa hàng Nông sản Sạch", "Hà Nội"),
    ]:
        registry.add_facility(session, code=code, name=name, province=province, address=province)
        registry.certify(
            session,
            facility_code=code,
            scheme="vietgap",
            number=f"VG-{code}",
            issuer="NAFIQAD",
            valid_from="2026-01-01",
            valid_to="2027-12-31",
            scope="vải thiều",
            now=NOW,
        )
    registry.add_product(session, code="VAI", name="Vải thiều tươi", category="fruit", unit="box")
    registry.add_product(
        session, code="VAI-SAY", name="Vải sấy khô", category="dried fruit", unit="bag"
    )


def farm_lot(session: Session, code: str = "L1") -> None:
    registry.create_lot(
        session,
        facility_code="HD-VAI-01",
        product_code="VAI",
        code=code,
        units=400,
        quantity="2000",
        quantity_unit="kg",
        harvest_date="2026-06-10",
        origin_area="Thanh Hà",
        now=NOW,
    )


def dried_lot(session: Session, code: str = "D1") -> None:
    registry.create_lot(
        session,
        facility_code="HN-PACK-02",
        product_code="VAI-SAY",
        code=code,
        units=800,
        quantity="400",
        quantity_unit="kg",
        harvest_date="2026-06-12",
        origin_area="Xưởng sấy Hà Nội",
        now=NOW,
    )


def three_stages(session: Session) -> None:  # fmt: skip
    facilities(session)
    farm_lot(session)
    events.record_event(
        session,
        step="harvest",
        lot_ref="HD-VAI-01/L1",
        facility_code="HD-VAI-01",
        event_time=at(10, 6),
        certified=True,
        now=NOW,
    )
    events.record_event(
        session,
        step="cooling",
        lot_ref="HD-VAI-01/L1",
        facility_code="HD-VAI-01",
        event_time=at(10, 9),
        temperature_c="4.5",
        now=NOW,
    )
    events.record_event(
        session,
        step="shipping",
        lot_ref="HD-VAI-01/L1",
        facility_code="HD-VAI-01",
        event_time=at(11, 5),
        destination="HN-PACK-02",
        temperature_c="5",
        now=NOW,
    )
    events.record_event(
        session,
        step="receiving",
        lot_ref="HD-VAI-01/L1",
        facility_code="HN-PACK-02",
        event_time=at(11, 10),
        now=NOW,
    )
    dried_lot(session)
    events.record_transformation(
        session,
        facility_code="HN-PACK-02",
        event_time=at(12, 9),
        inputs=[LotAmount("HD-VAI-01/L1", "2000", "kg")],
        outputs=[LotAmount("HN-PACK-02/D1", "400", "kg")],
        now=NOW,
    )
    events.record_event(
        session,
        step="packing",
        lot_ref="HN-PACK-02/D1",
        facility_code="HN-PACK-02",
        event_time=at(13, 9),
        now=NOW,
    )
    events.record_event(
        session,
        step="shipping",
        lot_ref="HN-PACK-02/D1",
        facility_code="HN-PACK-02",
        event_time=at(14, 8),
        destination="HN-SHOP-03",
        now=NOW,
    )
    events.record_event(
        session,
        step="receiving",
        lot_ref="HN-PACK-02/D1",
        facility_code="HN-SHOP-03",
        event_time=at(14, 15),
        now=NOW,
    )
