"""The app's sessions, in a test, join one transaction that is rolled back when it ends."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import pool
from sqlalchemy.orm import sessionmaker

from {{ cookiecutter.package_name }}.db import create_db_engine
from {{ cookiecutter.package_name }}.migration_guards import guard_engine
from {{ cookiecutter.package_name }}.settings import DatabaseSettings


@asynccontextmanager
async def sessions_rolled_back(app: FastAPI, settings: DatabaseSettings) -> AsyncIterator[None]:
    """Until the block ends, ``app``'s sessions join a transaction that is then rolled back.

    SQLAlchemy's recipe for joining a session into an external transaction: the routes'
    commits and rollbacks act on savepoints inside it, so their own policy runs, and nothing
    they write outlives the test or is seen by another test's connection.
    """
    engine = create_db_engine(settings, poolclass=pool.NullPool)
    # On SQLite: BEGIN and SAVEPOINT as SQLAlchemy emits them, as env.py has them.
    guard_engine(engine, changes_schema=True)
    with engine.connect() as connection:
        transaction = connection.begin()
        app.state.sessions = sessionmaker(
            connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield
        finally:
            transaction.rollback()
    engine.dispose()
