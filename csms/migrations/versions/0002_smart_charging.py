"""smart charging: installed profiles

Revision ID: 0002_smart_charging
Revises: 0001_core
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_smart_charging"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "smart_installed_profiles",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("stack_level", sa.Integer(), nullable=False),
        sa.Column("rate_unit", sa.String(length=1), nullable=False),
        sa.Column("ocpp_version", sa.String(length=8), nullable=False),
        sa.Column("periods_kw", sa.JSON(), nullable=False),
        sa.Column("schedule_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("transaction_id", sa.String(length=64), nullable=True),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("installed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verification", sa.String(length=32), nullable=True),
        sa.Column("limit_kw", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_smart_installed_profiles")),
        sa.UniqueConstraint(
            "station_id", "profile_id", name=op.f("uq_smart_installed_profiles_station_id")
        ),
    )
    op.create_index(
        op.f("ix_smart_installed_profiles_station_id"),
        "smart_installed_profiles",
        ["station_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_smart_installed_profiles_station_id"), table_name="smart_installed_profiles"
    )
    op.drop_table("smart_installed_profiles")
