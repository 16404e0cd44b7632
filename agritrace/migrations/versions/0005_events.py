"""Events (an index of ledger entries), corrections, lot inputs, recalls, revocation lists.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "revocation_list",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revocation_list")),
    )
    op.create_table(
        "trace_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column(
            "step",
            sa.Enum(
                "harvest",
                "packing",
                "cooling",
                "storing",
                "shipping",
                "receiving",
                "inspecting",
                "processing",
                name="event_step",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("other_facility_id", sa.Integer(), nullable=True),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name=op.f("fk_trace_event_facility_id_facility")
        ),
        sa.ForeignKeyConstraint(
            ["other_facility_id"],
            ["facility.id"],
            name=op.f("fk_trace_event_other_facility_id_facility"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trace_event")),
        sa.UniqueConstraint("event_id", name=op.f("uq_trace_event_event_id")),
        sa.UniqueConstraint("ledger_index", name=op.f("uq_trace_event_ledger_index")),
    )
    with op.batch_alter_table("trace_event", schema=None) as batch_op:
        batch_op.create_index(
            "ix_trace_event_facility_time", ["facility_id", "event_time"], unique=False
        )

    op.create_table(
        "event_correction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_pk", sa.Integer(), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("declared_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_pk"], ["trace_event.id"], name=op.f("fk_event_correction_event_pk_trace_event")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_correction")),
        sa.UniqueConstraint("event_pk", name=op.f("uq_event_correction_event_pk")),
        sa.UniqueConstraint("ledger_index", name=op.f("uq_event_correction_ledger_index")),
    )
    op.create_table(
        "event_lot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_pk", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "object",
                "input",
                "output",
                name="lot_role",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("quantity", sa.String(length=40), nullable=True),
        sa.Column("uom", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_pk"], ["trace_event.id"], name=op.f("fk_event_lot_event_pk_trace_event")
        ),
        sa.ForeignKeyConstraint(["lot_id"], ["lot.id"], name=op.f("fk_event_lot_lot_id_lot")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_lot")),
    )
    with op.batch_alter_table("event_lot", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_lot_event_pk"), ["event_pk"], unique=False)
        batch_op.create_index(batch_op.f("ix_event_lot_lot_id"), ["lot_id"], unique=False)

    op.create_table(
        "lot_input",
        sa.Column("output_lot_id", sa.Integer(), nullable=False),
        sa.Column("input_lot_id", sa.Integer(), nullable=False),
        sa.Column("event_pk", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_pk"], ["trace_event.id"], name=op.f("fk_lot_input_event_pk_trace_event")
        ),
        sa.ForeignKeyConstraint(
            ["input_lot_id"], ["lot.id"], name=op.f("fk_lot_input_input_lot_id_lot")
        ),
        sa.ForeignKeyConstraint(
            ["output_lot_id"], ["lot.id"], name=op.f("fk_lot_input_output_lot_id_lot")
        ),
        sa.PrimaryKeyConstraint("output_lot_id", "input_lot_id", name=op.f("pk_lot_input")),
    )
    with op.batch_alter_table("lot_input", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lot_input_input_lot_id"), ["input_lot_id"], unique=False
        )

    op.create_table(
        "lot_recall",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("root_lot_id", sa.Integer(), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("recalled_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["lot_id"], ["lot.id"], name=op.f("fk_lot_recall_lot_id_lot")),
        sa.ForeignKeyConstraint(
            ["root_lot_id"], ["lot.id"], name=op.f("fk_lot_recall_root_lot_id_lot")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lot_recall")),
        sa.UniqueConstraint("lot_id", name=op.f("uq_lot_recall_lot_id")),
    )
    with op.batch_alter_table("lot_recall", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lot_recall_ledger_index"), ["ledger_index"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("lot_recall", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lot_recall_ledger_index"))

    op.drop_table("lot_recall")
    with op.batch_alter_table("lot_input", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lot_input_input_lot_id"))

    op.drop_table("lot_input")
    with op.batch_alter_table("event_lot", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_lot_lot_id"))
        batch_op.drop_index(batch_op.f("ix_event_lot_event_pk"))

    op.drop_table("event_lot")
    op.drop_table("event_correction")
    with op.batch_alter_table("trace_event", schema=None) as batch_op:
        batch_op.drop_index("ix_trace_event_facility_time")

    op.drop_table("trace_event")
    op.drop_table("revocation_list")
