"""Shared fixtures. Each area appends its own section at the end; keep sections independent."""

from __future__ import annotations

# --- store (bot/store) ------------------------------------------------------------------------
# `database_url` / `store` run each test on SQLite and on PostgreSQL.
# PostgreSQL: CODEX_BOT_TEST_POSTGRES names a database on the server (for example
# postgresql+asyncpg://postgres@127.0.0.1:5432/test). Unset: the PostgreSQL cases are skipped
# with that reason. Set but the server does not answer: they fail.
# Isolation: each pytest-xdist worker CREATEs its own database codex_test_<worker>_<random> on
# that server (dropped at the end of the session); a worker runs its tests one at a time and
# each test starts from emptied tables, so workers never see each other's rows.
import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from bot.store import Store, normalize_url

PG_ENV = "CODEX_BOT_TEST_POSTGRES"
_PG_TIMEOUT = 10.0  # seconds to connect or run one admin statement


def _pg_dsn(url: str, database: str | None = None) -> str:
    parsed = normalize_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def _pg_url(url: str, database: str) -> str:
    return normalize_url(url).set(database=database).render_as_string(hide_password=False)


async def _pg_admin(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(_pg_dsn(url), timeout=_PG_TIMEOUT)
    try:
        for statement in statements:
            await conn.execute(statement, timeout=_PG_TIMEOUT)
    finally:
        await conn.close(timeout=_PG_TIMEOUT)


def _pg_server_or_fail() -> str:
    url = os.environ[PG_ENV]
    try:
        asyncio.run(_pg_admin(url, "SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError) as e:
        pytest.fail(f"{PG_ENV}={url} is set but PostgreSQL does not answer: {e!r}", pytrace=False)
    return url


@pytest.fixture(scope="session")
def pg_worker_database(worker_id: str) -> Iterator[str]:
    """URL of this worker's own PostgreSQL database (created empty, dropped at the end)."""
    server = _pg_server_or_fail()
    name = f"codex_test_{worker_id}_{secrets.token_hex(4)}"
    asyncio.run(_pg_admin(server, f'CREATE DATABASE "{name}"'))
    try:
        yield _pg_url(server, name)
    finally:
        asyncio.run(_pg_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _pg_empty_tables(url: str) -> None:
    conn = await asyncpg.connect(_pg_dsn(url), timeout=_PG_TIMEOUT)
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
            "AND tablename <> 'alembic_version'"
        )
        if tables:
            names = ", ".join(f'"{t["tablename"]}"' for t in tables)
            await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE", timeout=_PG_TIMEOUT)
    finally:
        await conn.close(timeout=_PG_TIMEOUT)


_BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgresql",
        id="postgresql",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(
                not os.environ.get(PG_ENV),
                reason=f"PostgreSQL store tests skipped: {PG_ENV} is not set (CI sets it)",
            ),
        ],
    ),
]


@pytest.fixture(params=_BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database for this test alone: a fresh SQLite file (in a directory that does not exist
    yet), or this worker's PostgreSQL database with every table emptied."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'state' / 'codex-bot.db'}"
    url: str = request.getfixturevalue("pg_worker_database")
    asyncio.run(_pg_empty_tables(url))
    return url


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(database_url)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture(params=_BACKENDS)
def empty_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database nothing has migrated yet (a new SQLite file, or a new PostgreSQL database)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'fresh.db'}"
        return
    server = _pg_server_or_fail()
    name = f"codex_test_fresh_{secrets.token_hex(6)}"
    asyncio.run(_pg_admin(server, f'CREATE DATABASE "{name}"'))
    try:
        yield _pg_url(server, name)
    finally:
        asyncio.run(_pg_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
