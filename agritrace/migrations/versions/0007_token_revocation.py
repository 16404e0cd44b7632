"""Who revoked an API token, and why (an administrator revoking another user's token must
say why; an owner revoking their own need not).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revoked_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("revoke_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_column("revoke_reason")
        batch_op.drop_column("revoked_by")
