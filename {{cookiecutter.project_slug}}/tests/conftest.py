"""Fixtures: a throwaway database for each test, and Alembic configured to use it."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.config import Config
from sqlalchemy import URL, Connection, Engine, create_engine, pool

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[URL]:
    """An empty SQLite database of this test's own, deleted when the test ends."""
    path = tmp_path / "test.sqlite3"
    yield URL.create("sqlite", database=str(path))
    path.unlink(missing_ok=True)


@pytest.fixture
def engine(database_url: URL) -> Iterator[Engine]:
    engine = create_engine(database_url, poolclass=pool.NullPool)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as connection:
        yield connection


@pytest.fixture
def alembic_config(connection: Connection) -> Config:
    """The project's alembic.ini, with env.py handed the test's connection."""
    config = Config(PROJECT_ROOT / "alembic.ini")
    config.attributes["connection"] = connection
    config.attributes["configure_logger"] = False
    return config
