"""API tokens expire: ``api_token.expires_at`` (required). Tokens made before this revision
get 90 days from the moment it runs (the default lifetime of a new token), so no integration
stops at once and every old token still ends.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

#: What a token made before expiry existed is given, from the migration on.
EXISTING_TOKEN_DAYS = 90


def upgrade() -> None:
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    until = dt.datetime.now(dt.UTC) + dt.timedelta(days=EXISTING_TOKEN_DAYS)
    if op.get_bind().dialect.name == "sqlite":
        until = until.replace(tzinfo=None)  # stored as naive UTC there (agritrace.db.UTCDateTime)
    tokens = sa.table("api_token", sa.column("expires_at", sa.DateTime(timezone=True)))
    op.execute(tokens.update().where(tokens.c.expires_at.is_(None)).values(expires_at=until))
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.alter_column(
            "expires_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
