"""Walks the history up, down and up again, comparing schema snapshots after every step."""

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from alembic.script import Script
from sqlalchemy import URL, Connection

from tests.migrations.runner import MigrationRunner
from tests.migrations.schema import Schema, SchemaReader


class IrreversibleRevisionWarning(UserWarning):
    """A revision is marked irreversible, so its downgrade was not checked."""


class WalkStopped(Exception):
    """A step failed or left the wrong schema; the message says which and how."""


@dataclass
class RoundTrip:
    """What the walk saw, and the first problem it met (it stops there)."""

    after: dict[str, Schema] = field(default_factory=dict)  # revision id -> schema after it
    irreversible: dict[str, str] = field(default_factory=dict)  # revision id -> "file: why"
    at_base: tuple[Schema, tuple[str, ...]] | None = None  # schema and versions, fully down
    problem: str | None = None

    @property
    def at_head(self) -> Schema:
        """The schema after the last revision the walk applied."""
        return list(self.after.values())[-1] if self.after else Schema({})


def file_name(revision: Script) -> str:
    return Path(revision.path).name


def irreversible_reason(revision: Script) -> str | None:
    """Why a revision cannot be undone, from its module's ``irreversible = "..."`` line."""
    reason = getattr(revision.module, "irreversible", None)
    return str(reason) if reason else None


def downgrade_floor(runner: MigrationRunner) -> str:
    """How far down the history can go: the newest irreversible revision, else base."""
    marked = [revision.revision for revision in runner.revisions() if irreversible_reason(revision)]
    return marked[-1] if marked else "base"


def walk(runner: MigrationRunner, reader: SchemaReader) -> RoundTrip:
    """Upgrade every revision, downgrade them all, upgrade them all again, one at a time.

    After each downgrade the schema must equal the one before that revision's upgrade, and
    after each second upgrade the one after its first. Irreversible revisions split the
    history: each stretch between them is walked up, down and up on its own, so every
    reversible revision is checked, and the irreversible ones are only upgraded.
    """
    found = RoundTrip()
    try:
        for stretch, barrier in _stretches(runner.revisions()):
            _walk_stretch(runner, reader, stretch, found)
            if barrier is not None:
                name = file_name(barrier)
                found.irreversible[barrier.revision] = f"{name}: {irreversible_reason(barrier)}"
                found.after[barrier.revision] = _step(
                    f"upgrade of {name}", partial(runner.apply, barrier), reader
                )
    except WalkStopped as stop:
        found.problem = str(stop)
        return found
    if runner.current() != runner.heads():
        found.problem = f"the walk ended at {runner.current()}, not at the heads {runner.heads()}"
    return found


def _stretches(revisions: list[Script]) -> list[tuple[list[Script], Script | None]]:
    """The revisions between irreversible ones, each with the irreversible one closing it."""
    stretches: list[tuple[list[Script], Script | None]] = [([], None)]
    for revision in revisions:
        if irreversible_reason(revision):
            stretches[-1] = (stretches[-1][0], revision)
            stretches.append(([], None))
        else:
            stretches[-1][0].append(revision)
    return stretches


def _walk_stretch(
    runner: MigrationRunner, reader: SchemaReader, stretch: list[Script], found: RoundTrip
) -> None:
    schemas = [reader.read()]
    for revision in stretch:
        name = file_name(revision)
        schemas.append(_step(f"upgrade of {name}", partial(runner.apply, revision), reader))
        found.after[revision.revision] = schemas[-1]
    for position in reversed(range(len(stretch))):
        revision = stretch[position]
        what = f"downgrade of {file_name(revision)}"
        _step(what, partial(runner.revert, revision), reader, expected=schemas[position])
    if found.at_base is None:
        found.at_base = (reader.read(), runner.current())
    for position, revision in enumerate(stretch, start=1):
        what = f"upgrade of {file_name(revision)}, run again after its downgrade,"
        _step(what, partial(runner.apply, revision), reader, expected=schemas[position])


def _step(
    what: str, action: Callable[[], None], reader: SchemaReader, expected: Schema | None = None
) -> Schema:
    """Run one step and read the schema; stop the walk if it fails or differs from ``expected``."""
    try:
        action()
    except Exception as error:
        raise WalkStopped(f"{what} failed: {error}") from error
    schema = reader.read()
    if expected is not None and (differences := schema.differences(expected)):
        raise WalkStopped(f"{what} " + "; ".join(differences))
    return schema


def unreachable(url: URL) -> URL:
    """A URL of the same kind as ``url`` that no connection can be made to."""
    if url.get_backend_name() == "sqlite":
        return url.set(database="/nonexistent-directory/never-created.sqlite3")
    return url.set(host="127.0.0.1", port=1)


def execute_script(connection: Connection, sql: str) -> None:
    """Run SQL as printed by ``alembic ... --sql``, statement by statement, as a client would.

    The raw DBAPI cursor gets no parameters, so a ``%`` in the SQL stays a ``%``.
    """
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    if connection.dialect.name == "sqlite":
        cursor.executescript(f"BEGIN;\n{sql}\nCOMMIT;")
    else:
        for statement in sql.split(";\n"):
            if any(line.strip() and not line.startswith("--") for line in statement.splitlines()):
                cursor.execute(statement)
    cursor.close()
    connection.connection.commit()


SQLITE_REBUILD_SKIP = (
    "a revision rebuilds a SQLite table (batch mode), which Alembic renders only online"
)


def is_sqlite_rebuild_refusal(error: Exception) -> bool:
    """Alembic's refusal to render a SQLite table rebuild (batch mode) without a database."""
    return "batch mode with dialect sqlite" in str(error)
