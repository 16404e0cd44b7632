"""``agritrace product add|list``."""

from __future__ import annotations

import click

from agritrace.cli._common import CliContext, emit, json_option, pass_ctx
from agritrace.trace import registry

COLUMNS = ("id", "code", "name", "gtin", "category", "unit")


@click.group("product")
def product_group() -> None:
    """Products: what a lot is made of."""


@product_group.command("add")
@click.option("--code", required=True, help="Short code, e.g. VAI-THIEU.")
@click.option("--name", required=True)
@click.option("--category", required=True, help="e.g. fruit, vegetable, tea.")
@click.option("--unit", required=True, help="The unit a stamp is put on, e.g. box, bag.")
@click.option("--gtin", default=None, help="Optional GTIN-13 or GTIN-14.")
@json_option
@pass_ctx
def add(
    ctx: CliContext,
    code: str,
    name: str,
    category: str,
    unit: str,
    gtin: str | None,
    as_json: bool,
) -> None:
    """Register a product."""
    with ctx.session() as session:
        product = registry.add_product(
            session, code=code, name=name, category=category, unit=unit, gtin=gtin
        )
        emit(
            registry.product_record(product),
            as_json=as_json,
            columns=COLUMNS,
            message=f"registered product {product.code}",
        )


@product_group.command("list")
@json_option
@pass_ctx
def list_(ctx: CliContext, as_json: bool) -> None:
    """List products."""
    with ctx.session() as session:
        records = [registry.product_record(p) for p in registry.list_products(session)]
        emit(records, as_json=as_json, columns=COLUMNS)


def register(group: click.Group) -> None:
    group.add_command(product_group)
