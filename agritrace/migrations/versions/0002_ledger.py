"""Ledger tables: entries, stored tree nodes, subjects, the head row and checkpoints.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

_APPEND_ONLY = ("ledger_entry", "ledger_node", "ledger_subject", "ledger_checkpoint")


revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_checkpoint",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("size", name=op.f("pk_ledger_checkpoint")),
    )
    op.create_table(
        "ledger_entry",
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("chain_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("idx", name=op.f("pk_ledger_entry")),
        sa.UniqueConstraint("leaf_hash", name=op.f("uq_ledger_entry_leaf_hash")),
    )
    with op.batch_alter_table("ledger_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_entry_kind"), ["kind"], unique=False)

    head = op.create_table(
        "ledger_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("chain_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("root_hash", sa.LargeBinary(length=32), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_ledger_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_head")),
    )
    op.bulk_insert(
        head,
        [{"id": 1, "size": 0, "chain_hash": bytes(32), "root_hash": hashlib.sha256(b"").digest()}],
    )
    op.create_table(
        "ledger_node",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_ledger_node")),
    )
    op.create_table(
        "ledger_subject",
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(
            ["idx"], ["ledger_entry.idx"], name=op.f("fk_ledger_subject_idx_ledger_entry")
        ),
        sa.PrimaryKeyConstraint("idx", "subject", name=op.f("pk_ledger_subject")),
    )
    with op.batch_alter_table("ledger_subject", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_subject_subject_idx", ["subject", "idx"], unique=False)
    _forbid_rewrites()


def _forbid_rewrites() -> None:
    # Defence in depth: the application has no update or delete path for ledger rows, and the
    # database refuses them too. (Someone with DDL rights can drop these triggers; the audit
    # is what catches that.)
    if op.get_bind().dialect.name == "sqlite":
        for table in _APPEND_ONLY:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
                )
        return
    op.execute(
        "CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$"
    )
    for table in _APPEND_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in _APPEND_ONLY:
            for action in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")
    else:
        for table in _APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS ledger_append_only()")
    with op.batch_alter_table("ledger_subject", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_subject_subject_idx")

    op.drop_table("ledger_subject")
    op.drop_table("ledger_node")
    op.drop_table("ledger_head")
    with op.batch_alter_table("ledger_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_entry_kind"))

    op.drop_table("ledger_entry")
    op.drop_table("ledger_checkpoint")
