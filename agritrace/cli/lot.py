"""``agritrace lot create|show|list``."""

from __future__ import annotations

import click

from agritrace.cli._common import CliContext, emit, json_option, pass_ctx
from agritrace.trace import registry

COLUMNS = ("id", "ref", "product", "units", "quantity", "quantity_unit", "harvest_date", "status")


@click.group("lot")
def lot_group() -> None:
    """Lots of produce. A lot is named FACILITY/LOT."""


@lot_group.command("create")
@click.option("--facility", "facility_code", required=True)
@click.option("--product", "product_code", required=True)
@click.option("--code", required=True, help="Lot code, unique within the facility.")
@click.option("--units", required=True, help="Number of units (caps the stamps issued).")
@click.option("--quantity", required=True, help="Total quantity, e.g. 1250.5")
@click.option("--quantity-unit", required=True, help="e.g. kg")
@click.option("--harvest-date", required=True, help="YYYY-MM-DD")
@click.option("--pack-date", default=None, help="YYYY-MM-DD")
@click.option("--origin-area", required=True, help="Growing area name.")
@click.option("--latitude", default=None)
@click.option("--longitude", default=None)
@json_option
@pass_ctx
def create(
    ctx: CliContext,
    facility_code: str,
    product_code: str,
    code: str,
    units: str,
    quantity: str,
    quantity_unit: str,
    harvest_date: str,
    pack_date: str | None,
    origin_area: str,
    latitude: str | None,
    longitude: str | None,
    as_json: bool,
) -> None:
    """Register a lot at a certified facility."""
    with ctx.write() as session:
        lot = registry.create_lot(
            session,
            facility_code=facility_code,
            product_code=product_code,
            code=code,
            units=units,
            quantity=quantity,
            quantity_unit=quantity_unit,
            harvest_date=harvest_date,
            pack_date=pack_date,
            origin_area=origin_area,
            latitude=latitude,
            longitude=longitude,
        )
        record = registry.lot_record(lot)
    emit(record, as_json=as_json, columns=COLUMNS, message=f"created lot {record['ref']}")


@lot_group.command("show")
@click.argument("ref", metavar="FACILITY/LOT")
@json_option
@pass_ctx
def show(ctx: CliContext, ref: str, as_json: bool) -> None:
    """Show one lot."""
    with ctx.session() as session:
        record = registry.lot_record(registry.get_lot(session, ref))
        if as_json:
            emit(record, as_json=True)
            return
        width = max(len(k) for k in record)
        for key, value in record.items():
            click.echo(f"{key.ljust(width)}  {'' if value is None else value}")


@lot_group.command("list")
@click.option("--facility", "facility_code", default=None, help="Only this facility's lots.")
@json_option
@pass_ctx
def list_(ctx: CliContext, facility_code: str | None, as_json: bool) -> None:
    """List lots."""
    with ctx.session() as session:
        lots = registry.list_lots(session, facility_code=facility_code)
        emit([registry.lot_record(lot) for lot in lots], as_json=as_json, columns=COLUMNS)


def register(group: click.Group) -> None:
    group.add_command(lot_group)
