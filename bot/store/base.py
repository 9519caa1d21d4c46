"""What every table module shares: the engine, the clock, and the dialect's upsert."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

Clock = Callable[[], datetime]


class StoreBase:
    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def _now(self, now: datetime | None = None) -> datetime:
        value = now if now is not None else self._clock()
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        return value

    def _insert(self, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
        """INSERT with ON CONFLICT support (both backends spell it the same way)."""
        if self._engine.dialect.name == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    async def _insert_once(self, table: sa.Table, key_column: str, values: dict[str, object]) -> bool:
        """True only for the caller whose row went in; atomic across connections and replicas."""
        stmt = (
            self._insert(table)
            .values(**values)
            .on_conflict_do_nothing(index_elements=[key_column])
            .returning(table.c[key_column])
        )
        async with self._engine.begin() as conn:
            return (await conn.execute(stmt)).first() is not None
