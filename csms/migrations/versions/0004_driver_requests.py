"""driver requests: one link (token sha256) per transaction, every request revision

Revision ID: 0004_driver_requests
Revises: 0003_meter_after_stop
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_driver_requests"
down_revision = "0003_meter_after_stop"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "driver_sessions",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("tx_key", sa.String(length=64), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notify_status", sa.String(length=16), nullable=False),
        sa.Column("notify_error", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_driver_sessions")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_driver_sessions_token_sha256")),
        sa.UniqueConstraint("station_id", "tx_key", name=op.f("uq_driver_sessions_station_id")),
    )
    op.create_table(
        "driver_requests",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("session_id", BIG_ID, nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("departure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("energy_kwh", sa.Float(), nullable=True),
        sa.Column("distance_miles", sa.Float(), nullable=True),
        sa.Column("kwh_per_mile", sa.Float(), nullable=True),
        sa.Column("opt_out", sa.Boolean(), nullable=False),
        sa.Column("withdrawn", sa.Boolean(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["driver_sessions.id"],
            name=op.f("fk_driver_requests_session_id_driver_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_driver_requests")),
        sa.UniqueConstraint("session_id", "revision", name=op.f("uq_driver_requests_session_id")),
    )
    op.create_index(
        op.f("ix_driver_requests_session_id"), "driver_requests", ["session_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_driver_requests_session_id"), table_name="driver_requests")
    op.drop_table("driver_requests")
    op.drop_table("driver_sessions")
