"""The app's async sessions, in a test, join one transaction rolled back when it ends."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import pool
from sqlalchemy.ext.asyncio import async_sessionmaker

from {{ cookiecutter.package_name }}.db import create_db_engine
from {{ cookiecutter.package_name }}.migration_guards import guard_engine
from {{ cookiecutter.package_name }}.settings import DatabaseSettings


@asynccontextmanager
async def sessions_rolled_back(app: FastAPI, settings: DatabaseSettings) -> AsyncIterator[None]:
    """Until the block ends, ``app``'s async sessions join a transaction rolled back then.

    This is SQLAlchemy's recipe for joining a session into an external transaction, on an
    async connection: a route's commit or rollback acts on a savepoint within it, so the
    app's own policy runs, and no row a test writes outlives it or reaches another test.
    """
    engine = create_db_engine(settings, poolclass=pool.NullPool)
    # SQLite: SQLAlchemy, not the driver, emits BEGIN and SAVEPOINT (env.py's setting too).
    guard_engine(engine.sync_engine, changes_schema=True)
    async with engine.connect() as connection:
        transaction = await connection.begin()
        app.state.sessions = async_sessionmaker(
            connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield
        finally:
            await transaction.rollback()
    await engine.dispose()
