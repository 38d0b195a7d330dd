"""Engine and session factory for application code, built from the database settings."""

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from {{ cookiecutter.package_name }}.migration_guards import (
    bounded_connect_args,
    unbounded_once_connected,
)
from {{ cookiecutter.package_name }}.settings import (
    DatabaseSettings,
    driver_connect_args,
    load_settings,
)


def create_db_engine(
    settings: DatabaseSettings | None = None,
    connect_timeout: float | None = None,
    **engine_options: Any,
) -> Engine:
    """An engine for the configured database; SQLite connections enforce foreign keys.

    With ``connect_timeout``, connecting to a server that does not answer fails after that many
    seconds (PostgreSQL rounds it up to whole seconds, 2 at least) rather than hanging.
    """
    url = (settings or load_settings()).sqlalchemy_url
    bounded = bounded_connect_args(url, connect_timeout) if connect_timeout else {}
    connect_args = {**driver_connect_args(url), **bounded, **engine_options.pop("connect_args", {})}
    engine = create_engine(url, connect_args=connect_args, **engine_options)
    if bounded:
        unbounded_once_connected(engine)  # the bound is the handshake's, not the statements'
    enforce_sqlite_foreign_keys(engine)
    return engine


def create_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine`` whose objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def enforce_sqlite_foreign_keys(engine: Engine) -> None:
    """Make each new connection of a SQLite ``engine`` enforce foreign keys; others have them."""
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _enforce_sqlite_foreign_keys)


def _enforce_sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    # SQLite ignores REFERENCES and ON DELETE unless each connection asks for them.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
