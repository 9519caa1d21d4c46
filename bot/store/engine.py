"""Engines for SQLite (default) and PostgreSQL (several replicas), and migrating them to head."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

# Any two-int key works; it only has to be the same in every replica.
_MIGRATION_LOCK_KEY = 0x636F646578  # "codex"

_SQLITE_BUSY_TIMEOUT = 30.0  # seconds a writer waits for another writer's transaction
_PG_CONNECT_TIMEOUT = 10.0  # seconds to establish a connection
_PG_COMMAND_TIMEOUT = 30.0  # seconds for any one statement


def normalize_url(url: str) -> URL:
    """Pick the async driver: ``postgres[ql]://`` becomes asyncpg, ``sqlite://`` aiosqlite."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+asyncpg")
    if parsed.drivername == "postgresql+asyncpg" and "sslmode" in parsed.query:
        # libpq spelling, common in hosted DATABASE_URLs; asyncpg takes the same modes as ``ssl``.
        parsed = parsed.difference_update_query(["sslmode"]).update_query_dict(
            {"ssl": parsed.query["sslmode"]}
        )
    elif parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    if parsed.drivername not in ("postgresql+asyncpg", "sqlite+aiosqlite"):
        raise ValueError(
            f"unsupported DATABASE_URL driver {parsed.drivername!r}: "
            "use sqlite+aiosqlite:///path or postgresql://user@host/db"
        )
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise ValueError("the SQLite store needs a file path (sqlite+aiosqlite:///path/to/codex-bot.db)")
    return parsed


def create_engine(url: URL, *, echo: bool = False) -> AsyncEngine:
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, echo=echo)
    return create_async_engine(
        url,
        echo=echo,
        pool_pre_ping=True,
        pool_timeout=_PG_CONNECT_TIMEOUT,
        connect_args={"timeout": _PG_CONNECT_TIMEOUT, "command_timeout": _PG_COMMAND_TIMEOUT},
    )


def _sqlite_engine(url: URL, *, echo: bool) -> AsyncEngine:
    assert url.database is not None
    Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, echo=echo, connect_args={"timeout": _SQLITE_BUSY_TIMEOUT})

    # The sqlite3 driver does not BEGIN before SELECT or DDL; take over so every transaction
    # (migrations included) is real, and IMMEDIATE so writers queue instead of deadlocking.
    @sa.event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        _use_wal(dbapi_connection)

    @sa.event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _use_wal(dbapi_connection: Any) -> None:
    """WAL is a property of the file: only the first connection switches it. Switching needs a
    lock SQLite's busy timeout does not wait for, so replicas opening a new file together retry."""
    deadline = time.monotonic() + _SQLITE_BUSY_TIMEOUT
    while True:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode")
            if cursor.fetchone()[0] == "wal":
                return
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
        finally:
            cursor.close()


def alembic_config(url: URL | None = None) -> Config:
    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.render_as_string(hide_password=False).replace("%", "%%"))
    return config


async def upgrade_to_head(engine: AsyncEngine) -> None:
    """Run migrations in one transaction; replicas starting together take turns."""
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(
                sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
            )
        await connection.run_sync(_upgrade, alembic_config())


def _upgrade(connection: sa.Connection, config: Config) -> None:
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
