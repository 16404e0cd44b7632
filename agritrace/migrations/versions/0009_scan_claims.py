"""Scan signals one client cannot forge (issue 12): per-client, per-day scan keys; the
client behind each shared place; claim codes (a batch's claim key, a stamp's claim and
failed attempts); the review decision on a flagged stamp.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stamp_scan_client",
        sa.Column("serial", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("period", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("client", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("serial", "period", "client", name=op.f("pk_stamp_scan_client")),
    )
    with op.batch_alter_table("stamp_scan_place", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client", sa.String(length=32), nullable=True))
    with op.batch_alter_table("stamp_scan_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("claim_province", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("claim_client", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("clone_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("claim_failures", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("claim_failures_period", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("review", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("review_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("review_ledger_index", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("stamp_batch", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claim_key", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("stamp_batch", schema=None) as batch_op:
        batch_op.drop_column("claim_key")
    with op.batch_alter_table("stamp_scan_state", schema=None) as batch_op:
        for column in (
            "review_ledger_index",
            "reviewed_at",
            "review_reason",
            "review",
            "claim_failures_period",
            "claim_failures",
            "clone_at",
            "claim_client",
            "claim_province",
            "claimed_at",
        ):
            batch_op.drop_column(column)
    with op.batch_alter_table("stamp_scan_place", schema=None) as batch_op:
        batch_op.drop_column("client")
    op.drop_table("stamp_scan_client")
