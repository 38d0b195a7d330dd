"""One walk over the whole history on one database proves every downgrade truly reverts.

The walk upgrades every revision, downgrades them all, and upgrades them all again, one
revision at a time, comparing the schema (tables, columns, keys, constraints, indexes; enum
types and sequences on PostgreSQL) after every step. The tests below read its verdicts
and use the database it leaves at head.

Mark a revision that cannot be undone with a module-level line
``irreversible = "why it cannot be undone"`` (its ``downgrade()`` should raise): the walk
upgrades it without downgrading it, reports it as a warning, and checks everything else.
A faulty step does not stop the walk: it is recorded, the schema is rebuilt, and the verdict
names every faulty revision, one per line.

Mark a revision that reads the database (``op.get_bind().execute(...)``) with a module-level
line ``online_only = "why it needs a database"``: the offline checks apply it online and
render the rest. One that cannot be rendered and is not marked is named, with the error.

The offline checks need no second database when each revision's SQL, as ``--sql`` prints
it, is exactly what the walk sent for it online (and checked): the walk then runs that SQL
for the second upgrades. Otherwise the printed SQL is run on a fresh database and compared.
"""

import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import URL, create_engine, pool

from tests.conftest import NewDatabase, alembic_config_for
from tests.migrations.round_trip import (
    IrreversibleRevisionWarning,
    Offline,
    OnlineOnlyRevisionWarning,
    RenderedHistory,
    RoundTrip,
    above_floor,
    downgrade_floor,
    run_rendered,
    unreachable,
    walk,
)
from tests.migrations.runner import MigrationRunner
from tests.migrations.schema import Schema, SchemaReader, differences_between


@dataclass(repr=False)  # failures show the verdict's own lines, not the walk's records
class Walked:
    runner: MigrationRunner
    reader: SchemaReader
    history: RenderedHistory
    round_trip: RoundTrip


@pytest.fixture(scope="module")
def walked(new_database: NewDatabase, scripts: ScriptDirectory) -> Iterator[Walked]:
    """A database the walk has run on, left at head (or where the walk stopped)."""
    url = new_database()
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        runner = MigrationRunner(alembic_config_for(connection), connection, scripts)
        reader = SchemaReader(connection)
        reader.track_changes()  # on PostgreSQL, as a superuser: glimpses read only what changed
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("DATABASE_URL", unreachable(url).render_as_string(False))
            history = RenderedHistory.render(runner)
        yield Walked(runner, reader, history, walk(runner, reader, history))
    engine.dispose()


@dataclass
class Rendered:
    """What the SQL printed by ``--sql`` does, against what the walk saw online."""

    offline: Offline
    upgrade_differences: list[str]  # from the schema the walk left at head
    downgrade_differences: list[str] | None  # None: not checked, as some fail online


@pytest.fixture(scope="module")
def rendered(walked: Walked, new_database: NewDatabase) -> Iterator[Rendered]:
    """The history rendered as SQL with no database reachable, checked against the walk.

    Where each revision's SQL is what the walk sent online, the walk has proven it. Else it
    is run on a fresh database: revisions that cannot be rendered (marked ``online_only``, or
    named by the checks) are applied online there instead, so the rest of the history is
    still checked offline.
    """
    require_head(walked)
    downgrades = not walked.round_trip.problems
    if walked.history.proven(walked.runner, downgrades):
        yield Rendered(walked.history.failures(downgrades), [], [] if downgrades else None)
        return
    # SQLite: a database in memory, as nothing else needs it; what cannot render (the table
    # rebuilds of batch mode, often every other downgrade) then runs online with no disk writes.
    if walked.runner.connection.dialect.name == "sqlite":
        url = URL.create("sqlite")
    else:
        url = new_database()
    revisions = walked.runner.revisions()
    offline = Offline.marked(revisions)
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection, pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", unreachable(url).render_as_string(False))
        if connection.dialect.name == "postgresql":
            # A throwaway database: its commits (one per revision) need not wait for the disk.
            connection.exec_driver_sql("SET synchronous_commit = off")
            connection.commit()
        target = MigrationRunner(alembic_config_for(connection), connection, walked.runner.script)
        reader = SchemaReader(connection, like=walked.reader)
        run_rendered(target, revisions, walked.history.upgrades, True, offline)
        upgrade_differences = differences_between(reader, walked.reader)
        downgrade_differences = None
        if downgrades:
            above = above_floor(revisions)[::-1]
            run_rendered(target, above, walked.history.downgrades, False, offline)
            downgrade_differences = reader.read().differences(floor_schema(walked))
        yield Rendered(offline, upgrade_differences, downgrade_differences)
    engine.dispose()


def test_every_revision_downgrades_to_the_schema_before_it_and_upgrades_again(
    walked: Walked,
) -> None:
    for marked in walked.round_trip.irreversible.values():
        warnings.warn(IrreversibleRevisionWarning(marked), stacklevel=1)
    problems = [*walked.round_trip.problems, *filter(None, [walked.round_trip.stopped])]
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def test_downgrade_to_base_leaves_only_the_version_table(walked: Walked) -> None:
    at_base = walked.round_trip.at_base
    if at_base is None:
        pytest.fail(f"the walk never got down to base: {walked.round_trip.stopped}")
    schema, versions = at_base

    assert schema.differences(Schema({})) == []
    assert versions == ()


def test_models_match_migrations_at_head(walked: Walked) -> None:
    """Same verdict as `alembic check`, with env.py's own compare options."""
    require_head(walked)

    if differences := walked.runner.model_differences():
        pytest.fail(f"New upgrade operations detected: {differences}", pytrace=False)


def test_sql_rendered_with_no_database_reachable_builds_the_same_schema_as_online(
    walked: Walked, rendered: Rendered
) -> None:
    for note in rendered.offline.notes:
        warnings.warn(OnlineOnlyRevisionWarning(note), stacklevel=1)
    if problems := rendered.offline.problems + rendered.upgrade_differences:
        pytest.fail("\n".join(problems), pytrace=False)


def test_downgrade_sql_rendered_with_no_database_reachable_takes_the_schema_back_down(
    rendered: Rendered,
) -> None:
    if rendered.downgrade_differences is None:
        pytest.skip("not rendered: the walk found revisions that do not round-trip online")

    assert rendered.downgrade_differences == []


def floor_schema(walked: Walked) -> Schema:
    """The schema as far down as the history goes: nothing, or the newest irreversible one's."""
    floor = downgrade_floor(walked.runner)
    return Schema({}) if floor == "base" else walked.round_trip.after[floor]


def require_head(walked: Walked) -> None:
    if walked.round_trip.stopped:
        pytest.fail(f"the walk stopped short of head: {walked.round_trip.stopped}", pytrace=False)
