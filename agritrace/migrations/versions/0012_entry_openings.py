"""Openings of sealed ledger entries: the salt and value of each private field, kept apart
from the public ledger (docs/adr/0013-what-the-ledger-reveals.md).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
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
    # Openings are written once with their entry and never changed, like the ledger rows
    # (0002's triggers). A changed opening would fail its commitment anyway; this refuses
    # the change, and a deletion, before anything is lost.
    if op.get_bind().dialect.name == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER entry_opening_no_{action.lower()} BEFORE {action} "
                "ON entry_opening BEGIN SELECT RAISE(ABORT, 'entry_opening is append-only'); END"
            )
        return
    op.execute(
        "CREATE TRIGGER entry_opening_append_only BEFORE UPDATE OR DELETE ON entry_opening "
        "FOR EACH ROW EXECUTE FUNCTION ledger_append_only()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS entry_opening_no_{action}")
    else:
        op.execute("DROP TRIGGER IF EXISTS entry_opening_append_only ON entry_opening")
    op.drop_table("entry_opening")
