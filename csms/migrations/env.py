"""Alembic environment: run on start-up by csms.db.database.Database.migrate, which
hands over an open connection in ``config.attributes["connection"]``."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

import csms.db.models
import csms.smart.models
from csms.db.base import Base

target_metadata = Base.metadata
_ = csms.db.models


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `csms` (Database.migrate), not the alembic CLI")
run(connection)
