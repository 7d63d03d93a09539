"""meter values sent after the station's StopTransaction: flagged

Revision ID: 0003_meter_after_stop
Revises: 0002_smart_charging
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_meter_after_stop"
down_revision = "0002_smart_charging"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("meter_values") as batch:
        batch.add_column(
            sa.Column("after_stop", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("meter_values") as batch:
        batch.drop_column("after_stop")
