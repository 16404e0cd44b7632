"""What an audit run found, in a form pages can say in the reader's language: the problem's
slug (``agritrace.ledger.audit.PROBLEMS``, or ``error`` when the audit could not run) and, for
an intact ledger, how many checkpoints were verified.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("problem", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("checkpoints", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_run", schema=None) as batch_op:
        batch_op.drop_column("checkpoints")
        batch_op.drop_column("problem")
