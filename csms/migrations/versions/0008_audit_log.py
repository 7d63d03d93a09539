"""audit log: commands and operator actions, with who issued them

Revision ID: 0008_audit_log
Revises: 0006_meter_unit_length
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_audit_log"
down_revision = "0006_meter_unit_length"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=48), nullable=False),
        sa.Column("result", sa.String(length=32), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=True),
        sa.Column("correlation_id", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"], unique=False)
    op.create_index(op.f("ix_audit_log_station_id"), "audit_log", ["station_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_log_station_id"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_at"), table_name="audit_log")
    op.drop_table("audit_log")
