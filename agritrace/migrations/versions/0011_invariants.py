"""Business invariants the database itself keeps: a lot's stamps issued never exceed its
units (a maintained ``units_issued`` count with a CHECK), and no quantity is negative
(docs/adr/0011-invariants-under-concurrency.md).

``units_issued`` is filled from the stamp batches already issued. A database where a lot
already has more stamps than units (issue 12's race, before this fix) cannot take the
CHECK: the upgrade stops and names the lots, for an operator to decide (recall, or correct
the units with a new lot) rather than have the migration hide it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_FILL = """
UPDATE lot SET units_issued = (
    SELECT COALESCE(SUM(stamp_batch.count), 0) FROM stamp_batch WHERE stamp_batch.lot_id = lot.id
)
"""
_OVER = "SELECT id, units, units_issued FROM lot WHERE units_issued > units ORDER BY id"


def upgrade() -> None:
    with op.batch_alter_table("lot", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("units_issued", sa.Integer(), nullable=False, server_default="0")
        )
    bind = op.get_bind()
    bind.execute(sa.text(_FILL))
    over = bind.execute(sa.text(_OVER)).all()
    if over:
        listed = ", ".join(
            f"lot id {i} ({issued} stamps for {units} units)" for i, units, issued in over
        )
        raise RuntimeError(f"lots already have more stamps than units: {listed}")
    with op.batch_alter_table("lot", schema=None) as batch_op:
        batch_op.create_check_constraint(
            op.f("ck_lot_units_issued_not_negative"), "units_issued >= 0"
        )
        batch_op.create_check_constraint(
            op.f("ck_lot_units_issued_within_units"), "units_issued <= units"
        )
        batch_op.create_check_constraint(
            op.f("ck_lot_quantity_not_negative"), "quantity NOT LIKE '-%'"
        )
    with op.batch_alter_table("event_lot", schema=None) as batch_op:
        batch_op.create_check_constraint(
            op.f("ck_event_lot_quantity_not_negative"), "quantity IS NULL OR quantity NOT LIKE '-%'"
        )


def downgrade() -> None:
    with op.batch_alter_table("event_lot", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_event_lot_quantity_not_negative"), type_="check")
    with op.batch_alter_table("lot", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_lot_quantity_not_negative"), type_="check")
        batch_op.drop_constraint(op.f("ck_lot_units_issued_within_units"), type_="check")
        batch_op.drop_constraint(op.f("ck_lot_units_issued_not_negative"), type_="check")
        batch_op.drop_column("units_issued")
