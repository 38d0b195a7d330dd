"""Async engine and session factory for application code, built from the database settings."""

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from {{ cookiecutter.package_name }}.migration_guards import bounded_connect_args
from {{ cookiecutter.package_name }}.settings import (
    DatabaseSettings,
    driver_connect_args,
    load_settings,
    require_async_driver,
)


def create_db_engine(
    settings: DatabaseSettings | None = None,
    connect_timeout: float | None = None,
    **engine_options: Any,
) -> AsyncEngine:
    """An async engine for the configured database; SQLite connections enforce foreign keys.

    With ``connect_timeout``, the driver gives up connecting after that many seconds: psycopg
    (rounding up to whole seconds, 2 at least) on the whole handshake, aiomysql on the TCP
    connect only. Whoever must answer in time cancels the wait (see the health check).
    """
    url = require_async_driver((settings or load_settings()).sqlalchemy_url)
    bounded = bounded_connect_args(url, connect_timeout) if connect_timeout else {}
    connect_args = {**driver_connect_args(url), **bounded, **engine_options.pop("connect_args", {})}
    engine = create_async_engine(url, connect_args=connect_args, **engine_options)
    if url.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _enforce_sqlite_foreign_keys)
    return engine


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Async sessions bound to ``engine`` whose objects stay readable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


def _enforce_sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    # SQLite ignores REFERENCES and ON DELETE unless each connection asks for them.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
