"""meter_values.unit holds the 20 characters a 2.0.1 unitOfMeasure.unit may have

Revision ID: 0006_meter_unit_length
Revises: 0005_over_limit_episodes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_meter_unit_length"
down_revision = "0005_over_limit_episodes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("meter_values") as batch:
        batch.alter_column(
            "unit", existing_type=sa.String(length=16), type_=sa.String(length=20)
        )


def downgrade() -> None:
    with op.batch_alter_table("meter_values") as batch:
        batch.alter_column(
            "unit", existing_type=sa.String(length=20), type_=sa.String(length=16)
        )
