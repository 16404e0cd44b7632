"""A realistic sample for the demo: a lychee chain from Lục Ngạn to Hồ Chí Minh City.

Two certified facilities (a cooperative of growers in Bắc Giang and a drying plant in Hà Nội)
and a retailer; fresh and dried lychee; harvest, cooling, packing, shipping, receiving and a
transformation (fresh -> dried); stamp batches; a lot recalled after a failed residue test;
one stamp scanned far more often than a real bag ever is. Everything goes through the same
services as real use, so every step is in the ledger.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from agritrace.errors import ConflictError
from agritrace.stamps import claims
from agritrace.stamps.codec import sign_stamp
from agritrace.trace import claiming, events, issuance, recalls, registry, scans
from agritrace.trace.events import LotAmount

__all__ = ["DemoStamps", "seed"]

VN = dt.timezone(dt.timedelta(hours=7), "ICT")
FARM, DRYER, SHOP = "BG-LN-01", "HN-SAY-02", "HCM-BT-03"
FRESH, RECALLED, DRIED = f"{FARM}/L2026-0610", f"{FARM}/L2026-0612", f"{DRYER}/D2026-0615"


@dataclass(frozen=True, slots=True)
class DemoStamps:
    genuine: str
    genuine_claim: str
    """The claim code under the genuine dried-lychee stamp's scratch-off (not claimed yet)."""
    recalled: str
    suspicious: str
    forged: str
    fresh: str


def _day(now: dt.datetime, days_ago: int, hour: int) -> dt.datetime:
    local = now.astimezone(VN) - dt.timedelta(days=days_ago)
    return local.replace(hour=hour, minute=0, second=0, microsecond=0)


def _registry(session: Session, now: dt.datetime) -> None:
    year = now.year
    facilities = [
        (
            FARM,
            "HTX Vải thiều Lục Ngạn",
            "Bắc Giang",
            "Xã Phượng Sơn, huyện Lục Ngạn",
            "8930000000019",
        ),
        (
            DRYER,
            "Công ty CP Nông sản sấy Hà Nội",
            "Hà Nội",
            "KCN Phú Nghĩa, Chương Mỹ",
            "8930000000026",
        ),
        (SHOP, "Siêu thị Nông sản Sạch Bến Thành", "TP. Hồ Chí Minh", "Quận 1", None),
    ]
    for code, name, province, address, gln in facilities:
        registry.add_facility(
            session, code=code, name=name, province=province, address=address, gln=gln
        )
    certificates = [
        (FARM, "vietgap", "VG-BG-2025-0142", "Trung tâm Chứng nhận VietGAP", "vải thiều"),
        (FARM, "globalgap", "GGN-4063061001234", "Control Union", "lychee, fresh"),
        (DRYER, "haccp", "HACCP-HN-2025-077", "Quacert", "sấy và đóng gói trái cây"),
        (DRYER, "vietgap", "VG-HN-2025-0311", "Trung tâm Chứng nhận VietGAP", "sơ chế"),
    ]
    for code, scheme, number, issuer, scope in certificates:
        registry.certify(
            session,
            facility_code=code,
            scheme=scheme,
            number=number,
            issuer=issuer,
            valid_from=dt.date(year - 1, 1, 1),
            valid_to=dt.date(year + 2, 12, 31),
            scope=scope,
            now=now,
        )
    registry.add_product(
        session,
        code="VAI-THIEU",
        name="Vải thiều Lục Ngạn",
        category="trái cây tươi",
        unit="thùng 5 kg",
        gtin="8934567890120",
    )
    registry.add_product(
        session,
        code="VAI-SAY",
        name="Vải thiều sấy khô",
        category="trái cây sấy",
        unit="túi 500 g",
        gtin="8934567890137",
    )


def _lots_and_events(session: Session, now: dt.datetime) -> None:
    harvest = _day(now, 12, 5)
    for code, units, quantity, area in [
        ("L2026-0610", 400, "2000", "Vùng trồng Phượng Sơn, mã PUC VN-BGLN-0042"),
        ("L2026-0612", 300, "1500", "Vùng trồng Quý Sơn, mã PUC VN-BGLN-0057"),
    ]:
        registry.create_lot(
            session,
            facility_code=FARM,
            product_code="VAI-THIEU",
            code=code,
            units=units,
            quantity=quantity,
            quantity_unit="kg",
            harvest_date=harvest.date(),
            pack_date=harvest.date(),
            origin_area=area,
            latitude="21.3921",
            longitude="106.6553",
            now=now,
        )
    record = events.record_event
    record(
        session,
        step="harvest",
        lot_ref=FRESH,
        facility_code=FARM,
        event_time=harvest,
        certified=True,
        now=now,
    )
    record(
        session,
        step="cooling",
        lot_ref=FRESH,
        facility_code=FARM,
        event_time=harvest + dt.timedelta(hours=3),
        temperature_c="4.5",
        now=now,
    )
    record(
        session,
        step="packing",
        lot_ref=FRESH,
        facility_code=FARM,
        event_time=harvest + dt.timedelta(hours=6),
        certified=True,
        note="400 thùng 5 kg",
        now=now,
    )
    record(
        session,
        step="harvest",
        lot_ref=RECALLED,
        facility_code=FARM,
        event_time=harvest + dt.timedelta(hours=1),
        certified=True,
        now=now,
    )
    record(
        session,
        step="cooling",
        lot_ref=RECALLED,
        facility_code=FARM,
        event_time=harvest + dt.timedelta(hours=4),
        temperature_c="5",
        now=now,
    )
    record(
        session,
        step="shipping",
        lot_ref=FRESH,
        facility_code=FARM,
        event_time=_day(now, 11, 4),
        destination=DRYER,
        temperature_c="5.5",
        now=now,
    )
    record(
        session,
        step="receiving",
        lot_ref=FRESH,
        facility_code=DRYER,
        event_time=_day(now, 11, 10),
        temperature_c="6",
        now=now,
    )
    record(
        session,
        step="inspecting",
        lot_ref=FRESH,
        facility_code=DRYER,
        event_time=_day(now, 11, 11),
        certified=True,
        note="Kiểm tra cảm quan đạt",
        now=now,
    )
    registry.create_lot(
        session,
        facility_code=DRYER,
        product_code="VAI-SAY",
        code="D2026-0615",
        units=800,
        quantity="400",
        quantity_unit="kg",
        harvest_date=_day(now, 9, 8).date(),
        origin_area="Xưởng sấy Phú Nghĩa",
        now=now,
    )
    events.record_transformation(
        session,
        facility_code=DRYER,
        event_time=_day(now, 9, 8),
        inputs=[LotAmount(FRESH, "1800", "kg")],
        outputs=[LotAmount(DRIED, "400", "kg")],
        certified=True,
        note="Sấy lạnh 18 giờ",
        now=now,
    )
    record(
        session,
        step="packing",
        lot_ref=DRIED,
        facility_code=DRYER,
        event_time=_day(now, 8, 9),
        certified=True,
        note="800 túi 500 g",
        now=now,
    )
    record(
        session,
        step="shipping",
        lot_ref=DRIED,
        facility_code=DRYER,
        event_time=_day(now, 7, 6),
        destination=SHOP,
        now=now,
    )
    record(
        session,
        step="receiving",
        lot_ref=DRIED,
        facility_code=SHOP,
        event_time=_day(now, 5, 14),
        now=now,
    )


def seed(
    session: Session,
    *,
    prefix: str,
    stamp_signer: tuple[int, Ed25519PrivateKey],
    now: dt.datetime,
    publish_to: Path | None = None,
) -> DemoStamps:
    """Fill an empty instance with the sample and return stamp URLs to try. Signs no
    checkpoint: call it inside :meth:`agritrace.runtime.Runtime.write`, which does."""
    _registry(session, now)
    _lots_and_events(session, now)
    key_id, private_key = stamp_signer
    dried = issuance.issue_batch(
        session, lot_ref=DRIED, count=48, key_id=key_id, prefix=prefix, now=now, claim_codes=True
    )
    fresh = issuance.issue_batch(
        session, lot_ref=FRESH, count=48, key_id=key_id, prefix=prefix, now=now
    )
    bad = issuance.issue_batch(
        session, lot_ref=RECALLED, count=48, key_id=key_id, prefix=prefix, now=now
    )
    events.record_event(
        session,
        step="inspecting",
        lot_ref=RECALLED,
        facility_code=FARM,
        event_time=_day(now, 2, 10),
        passed=False,
        note="Dư lượng chlorpyrifos 0,08 mg/kg, vượt mức 0,05 mg/kg",
        now=now,
    )
    recalls.recall_lot(
        session,
        lot_ref=RECALLED,
        signer=stamp_signer,
        now=now,
        reason="Dư lượng thuốc bảo vệ thực vật vượt mức cho phép (phiếu kiểm nghiệm KN-2026-118)",
    )
    suspicious_serial = dried.first_serial + 41
    # Many devices scanned it (a note), and its claim code was entered by two (a clone).
    for n in range(scans.MAX_PLAUSIBLE_SCANS + 12):
        scans.record_scan(
            session,
            suspicious_serial,
            client=f"demo-{n}",
            place=None,
            now=now - dt.timedelta(hours=30 - n),
        )
    if dried.claim_key is None:  # issued with claim codes above
        raise ConflictError(f"the demo batch of {DRIED} has no claim codes")
    right = claims.claim_code(bytes.fromhex(dried.claim_key), suspicious_serial)
    for n, province in enumerate(("Bắc Ninh", "Thành phố Hồ Chí Minh")):
        claiming.claim_stamp(
            session,
            serial=suspicious_serial,
            text=right,
            client=f"demo-buyer-{n}",
            province=province,
            now=now - dt.timedelta(hours=5 - n),
        )

    def url(serial: int) -> str:
        return sign_stamp(serial, key_id=key_id, private_key=private_key, prefix=prefix).to_url(
            prefix
        )

    genuine = url(dried.first_serial + 4)
    tampered = genuine[:-30] + ("A" if genuine[-30] != "A" else "B") + genuine[-29:]
    return DemoStamps(
        genuine=genuine,
        genuine_claim=claims.to_text(
            claims.claim_code(bytes.fromhex(dried.claim_key), dried.first_serial + 4)
        ),
        recalled=url(bad.first_serial + 2),
        suspicious=url(suspicious_serial),
        forged=tampered,
        fresh=url(fresh.first_serial),
    )
