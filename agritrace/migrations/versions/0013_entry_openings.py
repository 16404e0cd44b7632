"""Openings of sealed ledger entries: the salt and value of each private field, kept apart
from the public ledger (docs/adr/0013-what-the-ledger-reveals.md).

Revision ID: 0013
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "entry_opening",
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("field", sa.String(length=140), nullable=False),
        sa.Column("salt", sa.LargeBinary(length=32), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["idx"], ["ledger_entry.idx"], name=op.f("fk_entry_opening_idx_ledger_entry")
        ),
        sa.PrimaryKeyConstraint("idx", "field", name=op.f("pk_entry_opening")),
    )


def downgrade() -> None:
    op.drop_table("entry_opening")
