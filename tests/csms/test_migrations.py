"""The migrations build exactly the tables the models describe (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from csms.db import models
from csms.db.base import Base
from csms.db.database import Database

CORE_TABLES = {
    m.__tablename__
    for m in vars(models).values()
    if isinstance(m, type) and issubclass(m, Base) and m is not Base
}


def _table_of(diff: Any) -> str | None:
    item = diff[0] if isinstance(diff, list) else diff
    for part in item[1:]:
        name = getattr(part, "name", None) if not isinstance(part, str) else None
        table = getattr(part, "table", None)
        if table is not None:
            return str(table.name)
        if name in CORE_TABLES:
            return str(name)
        if isinstance(part, str) and part in CORE_TABLES:
            return part
    return None


async def test_migrated_schema_matches_the_models(database_url: str) -> None:
    async with Database(database_url) as db:
        await db.migrate()
        await db.migrate()  # idempotent

        def diff(conn: Any) -> tuple[list[Any], set[str]]:
            ctx = MigrationContext.configure(conn, opts={"compare_type": False})
            return compare_metadata(ctx, Base.metadata), set(inspect(conn).get_table_names())

        async with db.engine.connect() as conn:
            diffs, tables = await conn.run_sync(diff)
    assert tables >= CORE_TABLES
    core_diffs = [d for d in diffs if _table_of(d) in CORE_TABLES]
    assert core_diffs == []
