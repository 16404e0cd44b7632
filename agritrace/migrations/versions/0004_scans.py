"""Scan signals: per-stamp scan state (only for scanned stamps) and recent coarse places.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stamp_scan_state",
        sa.Column("serial", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("scan_count", sa.BigInteger(), nullable=False),
        sa.Column("first_scan_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_scan_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_place_lat", sa.String(length=40), nullable=True),
        sa.Column("last_place_lon", sa.String(length=40), nullable=True),
        sa.Column("last_place_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("distant_places_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("scan_count >= 0", name=op.f("ck_stamp_scan_state_count_not_negative")),
        sa.PrimaryKeyConstraint("serial", name=op.f("pk_stamp_scan_state")),
    )
    op.create_table(
        "stamp_scan_place",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("serial", sa.BigInteger(), nullable=False),
        sa.Column("lat", sa.String(length=40), nullable=False),
        sa.Column("lon", sa.String(length=40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["serial"],
            ["stamp_scan_state.serial"],
            name=op.f("fk_stamp_scan_place_serial_stamp_scan_state"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stamp_scan_place")),
    )
    with op.batch_alter_table("stamp_scan_place", schema=None) as batch_op:
        batch_op.create_index("ix_stamp_scan_place_serial_at", ["serial", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("stamp_scan_place", schema=None) as batch_op:
        batch_op.drop_index("ix_stamp_scan_place_serial_at")

    op.drop_table("stamp_scan_place")
    op.drop_table("stamp_scan_state")
