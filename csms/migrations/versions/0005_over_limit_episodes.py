"""smart charging: over-limit episodes, so one episode raises one alarm across restarts

Revision ID: 0005_over_limit_episodes
Revises: 0004_driver_requests
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_over_limit_episodes"
down_revision = "0004_driver_requests"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "smart_over_limit_episodes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("measured_kw", sa.Float(), nullable=False),
        sa.Column("limit_kw", sa.Float(), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=True),
        sa.Column("end_reason", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_smart_over_limit_episodes")),
    )
    op.create_index(
        op.f("ix_smart_over_limit_episodes_station_id"),
        "smart_over_limit_episodes",
        ["station_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_smart_over_limit_episodes_station_id"), table_name="smart_over_limit_episodes"
    )
    op.drop_table("smart_over_limit_episodes")
