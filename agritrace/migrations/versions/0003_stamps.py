"""Stamp batches (serial ranges per lot) and the global serial counter.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    counter = op.create_table(
        "serial_counter",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("next_serial", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_serial_counter_single_row")),
        sa.CheckConstraint("next_serial >= 1", name=op.f("ck_serial_counter_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_serial_counter")),
    )
    op.bulk_insert(counter, [{"id": 1, "next_serial": 1}])
    op.create_table(
        "stamp_batch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("first_serial", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=80), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("count > 0", name=op.f("ck_stamp_batch_count_positive")),
        sa.ForeignKeyConstraint(["lot_id"], ["lot.id"], name=op.f("fk_stamp_batch_lot_id_lot")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stamp_batch")),
        sa.UniqueConstraint("first_serial", name=op.f("uq_stamp_batch_first_serial")),
    )
    with op.batch_alter_table("stamp_batch", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stamp_batch_lot_id"), ["lot_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("stamp_batch", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stamp_batch_lot_id"))

    op.drop_table("stamp_batch")
    op.drop_table("serial_counter")
