"""env.py migrates through the async engine, inside a running event loop too."""

import asyncio

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import URL, Connection

from {{ cookiecutter.package_name }}.db import create_db_engine
from {{ cookiecutter.package_name }}.settings import DatabaseSettings
from tests.conftest import PROJECT_ROOT, as_database_url
from tests.migrations.runner import MigrationRunner


@pytest.fixture
def async_config(monkeypatch: pytest.MonkeyPatch, database_url: URL) -> Config:
    """alembic.ini with nothing handed in: env.py builds the async engine from DATABASE_URL."""
    monkeypatch.setenv("DATABASE_URL", as_database_url(database_url))
    config = Config(PROJECT_ROOT / "alembic.ini")
    config.attributes["configure_logger"] = False
    return config


def test_upgrade_runs_through_the_async_engine(
    async_config: Config, runner: MigrationRunner
) -> None:
    command.upgrade(async_config, "heads")

    assert runner.current() == runner.heads()


def test_upgrade_works_when_called_inside_a_running_event_loop(
    async_config: Config, runner: MigrationRunner
) -> None:
    async def deploy() -> None:
        command.upgrade(async_config, "heads")

    asyncio.run(deploy())

    assert runner.current() == runner.heads()


def test_a_connection_handed_in_from_async_code_is_used(
    async_config: Config, runner: MigrationRunner
) -> None:
    def upgrade(connection: Connection) -> None:
        async_config.attributes["connection"] = connection
        command.upgrade(async_config, "heads")

    async def deploy() -> None:
        engine = create_db_engine(DatabaseSettings(_env_file=None))
        async with engine.begin() as connection:
            await connection.run_sync(upgrade)
        await engine.dispose()

    asyncio.run(deploy())

    assert runner.current() == runner.heads()
