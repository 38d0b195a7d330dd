"""The migration history applies, reverts and matches the models."""

import io
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from alembic.util import CommandError
from sqlalchemy import Connection, inspect

from {{ cookiecutter.package_name }}.models import metadata
from tests.migrations.runner import MigrationRunner


@pytest.fixture
def runner(alembic_config: Config, connection: Connection) -> MigrationRunner:
    return MigrationRunner(alembic_config, connection)


def table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


def test_history_has_exactly_one_head(runner: MigrationRunner) -> None:
    heads = runner.heads()
    assert len(heads) <= 1, f"several heads {heads}: run `alembic merge heads -m 'merge'`"


def test_upgrade_from_empty_database_reaches_head_with_every_table(
    runner: MigrationRunner, connection: Connection
) -> None:
    runner.upgrade("heads")

    assert runner.current() == runner.heads()
    assert table_names(connection) == set(metadata.tables)


def test_models_match_migrations(alembic_config: Config, runner: MigrationRunner) -> None:
    """Same verdict as `alembic check`, with env.py's own compare options."""
    runner.upgrade("heads")

    command.check(alembic_config)


def test_each_revision_upgrades_downgrades_and_upgrades_again(
    runner: MigrationRunner, connection: Connection
) -> None:
    for revision in runner.revisions():
        below = revision.down_revision
        before = table_names(connection)

        runner.upgrade(revision.revision)
        after = table_names(connection)
        assert runner.current() == (revision.revision,)

        runner.downgrade(below if isinstance(below, str) else "base")
        assert table_names(connection) == before, f"downgrade of {revision.path} left tables"

        runner.upgrade(revision.revision)
        assert table_names(connection) == after, f"re-upgrade of {revision.path} differs"


def test_offline_mode_renders_sql_without_a_database(
    monkeypatch: pytest.MonkeyPatch,
    alembic_config: Config,
    runner: MigrationRunner,
    tmp_path: Path,
) -> None:
    unreachable = tmp_path / "no-such-directory" / "db.sqlite3"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{unreachable}")
    alembic_config.attributes.pop("connection")
    alembic_config.output_buffer = io.StringIO()

    try:
        command.upgrade(alembic_config, "head", sql=True)
    except CommandError as error:
        # Alembic cannot render a SQLite table rebuild (batch mode) without reading the table.
        if "batch mode with dialect sqlite" not in str(error):
            raise
        pytest.skip("a SQLite table rebuild (batch mode) renders only online")

    sql = alembic_config.output_buffer.getvalue()
    assert ("CREATE TABLE alembic_version" in sql) == bool(runner.heads())
    for table in metadata.tables:
        assert f"CREATE TABLE {table}" in sql
    assert not unreachable.parent.exists()
