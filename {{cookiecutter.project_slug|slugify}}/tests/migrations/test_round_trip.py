"""One walk over the whole history on one database proves every downgrade truly reverts.

The walk upgrades every revision, downgrades them all, and upgrades them all again, one
revision at a time, comparing schema snapshots (tables, columns, keys, constraints, indexes;
enum types and sequences on PostgreSQL) after every step. The tests below read its verdicts
and use the database it leaves at head.

Mark a revision that cannot be undone with a module-level line
``irreversible = "why it cannot be undone"`` (its ``downgrade()`` should raise): the walk
upgrades it without downgrading it, reports it as a warning, and checks everything else.
"""

import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from alembic import command
from alembic.util import CommandError
from sqlalchemy import create_engine, pool

from tests.conftest import NewDatabase, alembic_config_for
from tests.migrations.round_trip import (
    SQLITE_REBUILD_SKIP,
    IrreversibleRevisionWarning,
    RoundTrip,
    downgrade_floor,
    execute_script,
    is_sqlite_rebuild_refusal,
    unreachable,
    walk,
)
from tests.migrations.runner import MigrationRunner
from tests.migrations.schema import Schema, SchemaReader


@dataclass
class Walked:
    runner: MigrationRunner
    round_trip: RoundTrip


@pytest.fixture(scope="module")
def walked(new_database: NewDatabase) -> Iterator[Walked]:
    """A database the walk has run on, left at head (or where the walk stopped)."""
    engine = create_engine(new_database(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        runner = MigrationRunner(alembic_config_for(connection), connection)
        yield Walked(runner, walk(runner, SchemaReader(connection)))
    engine.dispose()


@dataclass
class Rendered:
    """The schemas that the SQL printed by ``--sql`` leaves on a fresh database."""

    after_upgrade: Schema
    after_downgrade: Schema


@pytest.fixture(scope="module")
def rendered(walked: Walked, new_database: NewDatabase) -> Iterator[Rendered]:
    """The history rendered as SQL with no database reachable, then run on a fresh database."""
    url = new_database()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", unreachable(url).render_as_string(False))
        try:
            upgrade = walked.runner.render_sql(upgrade=True)
            downgrade = walked.runner.render_sql(
                upgrade=False, down_to=downgrade_floor(walked.runner)
            )
        except CommandError as error:
            if not is_sqlite_rebuild_refusal(error):
                raise
            pytest.skip(SQLITE_REBUILD_SKIP)
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        reader = SchemaReader(connection)
        execute_script(connection, upgrade)
        after_upgrade = reader.read()
        execute_script(connection, downgrade)
        yield Rendered(after_upgrade, reader.read())
    engine.dispose()


def test_every_revision_downgrades_to_the_schema_before_it_and_upgrades_again(
    walked: Walked,
) -> None:
    for marked in walked.round_trip.irreversible.values():
        warnings.warn(IrreversibleRevisionWarning(marked), stacklevel=1)
    if walked.round_trip.problem:
        pytest.fail(walked.round_trip.problem, pytrace=False)


def test_downgrade_to_base_leaves_only_the_version_table(walked: Walked) -> None:
    at_base = walked.round_trip.at_base
    if at_base is None:
        pytest.fail(f"the walk never got down to base: {walked.round_trip.problem}")
    schema, versions = at_base

    assert schema.differences(Schema({})) == []
    assert versions == ()


def test_models_match_migrations_at_head(walked: Walked) -> None:
    """Same verdict as `alembic check`, with env.py's own compare options."""
    require_head(walked)

    command.check(walked.runner.config)


def test_sql_rendered_with_no_database_reachable_builds_the_same_schema_as_online(
    walked: Walked, rendered: Rendered
) -> None:
    require_head(walked)

    assert rendered.after_upgrade.differences(walked.round_trip.at_head) == []


def test_downgrade_sql_rendered_with_no_database_reachable_takes_the_schema_back_down(
    walked: Walked, rendered: Rendered
) -> None:
    require_head(walked)
    floor = downgrade_floor(walked.runner)
    expected = Schema({}) if floor == "base" else walked.round_trip.after[floor]

    assert rendered.after_downgrade.differences(expected) == []


def require_head(walked: Walked) -> None:
    if walked.round_trip.problem:
        pytest.fail(f"the walk stopped short of head: {walked.round_trip.problem}", pytrace=False)
