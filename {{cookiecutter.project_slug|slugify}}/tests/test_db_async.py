"""The application's async engine and sessions come from the same settings as the migrations."""

import asyncio
from collections.abc import Sequence
{%- if cookiecutter.database == "sqlite" %}
from pathlib import Path
{%- endif %}

import pytest
from sqlalchemy import URL, text

from {{ cookiecutter.package_name }}.db import create_db_engine, create_session_factory
from {{ cookiecutter.package_name }}.settings import DatabaseSettings
from tests.conftest import as_database_url
from tests.migrations.runner import MigrationRunner


async def read_versions(settings: DatabaseSettings) -> Sequence[str]:
    engine = create_db_engine(settings)
    async with create_session_factory(engine)() as session:
        versions = (await session.scalars(text("SELECT version_num FROM alembic_version"))).all()
    await engine.dispose()
    return versions


def test_async_sessions_reach_the_database_the_settings_name(
    runner: MigrationRunner, database_url: URL, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner.upgrade("heads")
    monkeypatch.setenv("DATABASE_URL", as_database_url(database_url))

    versions = asyncio.run(read_versions(DatabaseSettings(_env_file=None)))

    assert tuple(versions) == runner.heads()
{%- if cookiecutter.database == "sqlite" %}


def test_sqlite_connections_enforce_foreign_keys(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.sqlite3'}"

    async def pragma() -> object:
        engine = create_db_engine(DatabaseSettings(_env_file=None, url=url))
        async with engine.connect() as connection:
            value = (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar()
        await engine.dispose()
        return value

    assert asyncio.run(pragma()) == 1
{%- endif %}
