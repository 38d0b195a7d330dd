"""Walks the history up, down and up again, comparing the schema after every step."""

import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from alembic.script import Script
from sqlalchemy import URL, Connection

from tests.migrations.runner import MigrationRunner, RenderedStep
from tests.migrations.schema import VERSION_TABLE, Glimpse, Schema, SchemaReader


class IrreversibleRevisionWarning(UserWarning):
    """A revision is marked irreversible, so its downgrade was not checked."""


class WalkStopped(Exception):
    """The walk cannot go on (an upgrade failed); the message says which and how."""


@dataclass
class RoundTrip:
    """What the walk saw: some schemas, and every revision that does not round-trip."""

    after: dict[str, Schema] = field(default_factory=dict)  # irreversible id -> schema after it
    irreversible: dict[str, str] = field(default_factory=dict)  # revision id -> "file: why"
    at_base: tuple[Schema, tuple[str, ...]] | None = None  # schema and versions, fully down
    problems: list[str] = field(default_factory=list)  # one line per faulty step
    stopped: str | None = None  # why the walk ended short of head


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


def walk(runner: MigrationRunner, reader: SchemaReader, history: "RenderedHistory") -> RoundTrip:
    """Upgrade every revision, downgrade them all, upgrade them all again, one at a time.

    After each downgrade the schema must equal the one before that revision's upgrade, and
    after each second upgrade the one after its first. A step that fails or differs is
    recorded, the schema the walk expects is rebuilt, and the walk goes on, so one run names
    every faulty revision. Irreversible revisions split the history: each stretch between
    them is walked up, down and up on its own, and the irreversible ones are only upgraded.

    Each revision's SQL is recorded as it is sent. The second upgrade of a revision whose
    ``--sql`` output (in ``history``) is exactly what its first upgrade sent runs that
    output, as a deploy with ``--sql`` would; the others run online again.
    """
    found = RoundTrip()
    applied: list[Script] = []  # what the database holds between stretches
    runner.record_statements()
    try:
        for stretch, barrier in _stretches(runner.revisions()):
            _walk_stretch(runner, reader, applied, stretch, found, history)
            if barrier is not None:
                name = file_name(barrier)
                found.irreversible[barrier.revision] = f"{name}: {irreversible_reason(barrier)}"
                _first_upgrade(runner, reader, barrier, found)
                found.after[barrier.revision] = reader.read()
                applied.append(barrier)
    except WalkStopped as stop:
        found.stopped = str(stop)
        return found
    if runner.current() != runner.heads():
        found.stopped = f"the walk ended at {runner.current()}, not at the heads {runner.heads()}"
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
    runner: MigrationRunner,
    reader: SchemaReader,
    applied: list[Script],
    stretch: list[Script],
    found: RoundTrip,
    history: "RenderedHistory",
) -> None:
    seen = [reader.glimpse(expected=True)]  # the schema before each revision, and at the end
    for revision in stretch:
        seen.append(_first_upgrade(runner, reader, revision, found))

    def rebuild(position: int) -> Callable[[], None]:
        """What puts the database back as it was after ``position`` revisions of the stretch."""
        return partial(_rebuild, runner, reader, [*applied, *stretch[:position]], seen[position])

    for position in reversed(range(len(stretch))):
        revision = stretch[position]
        what = f"downgrade of {file_name(revision)}"
        step = partial(runner.revert, revision)
        _check(what, step, reader, seen[position], found, rebuild(position))
    if found.at_base is None:
        found.at_base = (reader.read(), runner.current())
    for position, revision in enumerate(stretch, start=1):
        what = f"upgrade of {file_name(revision)}, run again after its downgrade,"
        printed = history.replayable(runner, revision)
        if printed is None:
            again = partial(_unwarned, partial(runner.apply, revision))
            _check(what, again, reader, seen[position], found, rebuild(position))
            continue
        if position == 1 and not applied:
            # --sql output from base creates the version table, as on a new database.
            drop_version_table(runner.connection)
        try:
            execute_script(runner.connection, printed)
        except Exception as error:
            found.problems.append(f"{what} failed: {_one_line(error)}")
            rebuild(position)()
    # The same statements on the same schema build the same schema, so the steps run from
    # their SQL were not glimpsed one by one: one glimpse of where they ended confirms it.
    if stretch:
        names = f"{file_name(stretch[0])} to {file_name(stretch[-1])}"
        what = f"upgrades of {names}, run again after their downgrades,"
        _check(what, lambda: None, reader, seen[-1], found, rebuild(len(stretch)))
    applied += stretch


def _first_upgrade(
    runner: MigrationRunner, reader: SchemaReader, revision: Script, found: RoundTrip
) -> Glimpse:
    """Apply a revision for the first time; nothing after it can run if this fails."""
    what = f"upgrade of {file_name(revision)}"
    try:
        runner.apply(revision)
    except Warning as warning:  # the project's own code warned; the step itself was done
        found.problems.append(f"{what} warned: {_one_line(warning)}")
    except Exception as error:
        raise WalkStopped(f"{what} failed: {_one_line(error)}") from error
    return reader.glimpse(expected=True)


def _unwarned(action: Callable[[], None]) -> None:
    """Run code the walk has run before, whose warnings it has reported then."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        action()


def _check(
    what: str,
    action: Callable[[], None],
    reader: SchemaReader,
    expected: Glimpse,
    found: RoundTrip,
    rebuild: Callable[[], None],
) -> None:
    """Run one step; if it fails or leaves a schema other than ``expected``, record what it did
    and ``rebuild`` the expected schema."""
    try:
        action()
    except Warning as warning:
        found.problems.append(f"{what} warned: {_one_line(warning)}")
    except Exception as error:
        found.problems.append(f"{what} failed: {_one_line(error)}")
        rebuild()
        return
    glimpse = reader.glimpse()
    if glimpse == expected:
        return
    changed = glimpse.changed_tables(expected)
    left = reader.reflect(glimpse, changed)  # while the database is as the step left it
    if expected.schema is None:
        # Exact fingerprints spared reflecting the schema expected: rebuild it, then read it.
        try:
            rebuild()
        except WalkStopped:
            found.problems.append(f"{what} " + "; ".join(glimpse.differences(expected)))
            raise
        wanted = reader.reflect(reader.glimpse(), changed)
    else:
        wanted = expected.schema.of_tables(changed)
    if differences := left.differences(wanted):
        found.problems.append(f"{what} " + "; ".join(differences))
        if expected.schema is not None:
            rebuild()


def _rebuild(
    runner: MigrationRunner, reader: SchemaReader, revisions: list[Script], expected: Glimpse
) -> None:
    """After a faulty step, empty the database and apply ``revisions`` again to reach ``expected``.

    Only a faulty history pays for this; a clean one never rebuilds.
    """
    empty_database(runner.connection)
    try:
        if revisions:
            _unwarned(partial(runner.apply, *revisions))
    except Exception as error:
        raise WalkStopped(f"rebuilding the schema after a faulty step failed: {error}") from error
    glimpse = reader.glimpse()
    if glimpse == expected:
        return
    if expected.schema is None:
        differences = glimpse.differences(expected)
    else:
        differences = reader.reflect(glimpse).differences(expected.schema)
    if differences:
        raise WalkStopped("rebuilding the schema after a faulty step " + "; ".join(differences))


def drop_version_table(connection: Connection) -> None:
    """Drop Alembic's version table (at base, where it holds no row)."""
    quote = connection.dialect.identifier_preparer.quote
    connection.exec_driver_sql(f"DROP TABLE {quote(VERSION_TABLE)}")
    connection.commit()


def empty_database(connection: Connection) -> None:
    """Drop everything in the database (on PostgreSQL its current schema), as if new."""
    if connection.in_transaction():
        connection.rollback()
    quote = connection.dialect.identifier_preparer.quote
    if connection.dialect.name == "postgresql":
        schema = quote(connection.exec_driver_sql("SELECT current_schema()").scalar_one())
        connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    elif connection.dialect.name == "mysql":
        database = quote(connection.exec_driver_sql("SELECT DATABASE()").scalar_one())
        connection.exec_driver_sql(f"DROP DATABASE {database}")
        connection.exec_driver_sql(f"CREATE DATABASE {database}")
        connection.exec_driver_sql(f"USE {database}")
    else:
        objects = connection.exec_driver_sql(
            "SELECT type, name FROM sqlite_master"
            " WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%'"
        ).all()
        enforced = connection.exec_driver_sql("PRAGMA foreign_keys").scalar_one()
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")  # so tables drop in any order
        for kind, name in objects:
            connection.exec_driver_sql(f"DROP {kind.upper()} IF EXISTS {quote(name)}")
        connection.exec_driver_sql(f"PRAGMA foreign_keys={enforced}")
    if connection.in_transaction():
        connection.commit()


def _one_line(error: BaseException) -> str:
    """An error as one line: its type and the first line of its message."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def unreachable(url: URL) -> URL:
    """A URL of the same kind as ``url`` that no connection can be made to."""
    if url.get_backend_name() == "sqlite":
        return url.set(database="/nonexistent-directory/never-created.sqlite3")
    return url.set(host="127.0.0.1", port=1)


def execute_script(connection: Connection, sql: str) -> None:
    """Run SQL as printed by ``alembic ... --sql``, as a client would.

    The raw DBAPI cursor gets no parameters, so a ``%`` in the SQL stays a ``%``.
    """
    driver: Any = connection.connection.driver_connection
    cursor = driver.cursor()
    try:
        if connection.dialect.name == "sqlite":
            cursor.executescript(f"BEGIN;\n{sql}\nCOMMIT;")
        elif connection.dialect.name == "postgresql":
            # As psql runs it: the script's own BEGIN and COMMIT make its transactions, and
            # what autocommit_block() rendered between them runs outside any. The transactions
            # between two such statements go in one round trip (psycopg sends a query without
            # parameters as it is, statements and all): one per revision would wait each time.
            driver.autocommit = True
            for batch in _batches(_statements(sql)):
                cursor.execute(batch)
        else:
            for statement in _statements(sql):
                cursor.execute(statement)
    except Exception:
        driver.rollback()  # what the failed statement's transaction did, if it began one
        raise
    finally:
        if connection.dialect.name == "postgresql":
            driver.autocommit = False
        cursor.close()
    connection.connection.commit()


def _statements(sql: str) -> list[str]:
    """The statements of SQL as ``--sql`` prints it, each ending in a semicolon and newline."""
    return [statement for statement in sql.split(";\n") if _first_word(statement)]


def _batches(statements: list[str]) -> Iterator[str]:
    """Each run of whole transactions (BEGIN to COMMIT) joined; each statement outside them
    alone, as PostgreSQL runs some (CREATE INDEX CONCURRENTLY) only outside a multi-statement
    query."""
    batch: list[str] = []
    inside = False
    for statement in statements:
        word = _first_word(statement)
        if not inside and word != "BEGIN":
            if batch:
                yield ";\n".join(batch)
                batch = []
            yield statement
            continue
        batch.append(statement)
        inside = word != "COMMIT"
    if batch:
        yield ";\n".join(batch)


def _whole_transactions(sql: str) -> bool:
    """Whether the SQL commits every transaction it begins, and only those: so it runs on its
    own. A revision's SQL does with ``transaction_per_migration``; without it, one transaction
    spans the whole script, begun in the first revision's SQL and committed in the last's."""
    inside = False
    for statement in _statements(sql):
        word = _first_word(statement)
        if word == "COMMIT" and not inside:
            return False
        inside = word == "BEGIN" or (inside and word != "COMMIT")
    return not inside


def _first_word(statement: str) -> str:
    """The statement's first word in capitals, past its comments; empty if it has none."""
    code = " ".join(line for line in statement.splitlines() if not line.startswith("--"))
    return code.split(maxsplit=1)[0].upper() if code.strip() else ""


class OnlineOnlyRevisionWarning(UserWarning):
    """A revision cannot be rendered with ``--sql``, so the offline checks applied it online."""


@dataclass
class Offline:
    """The revisions the offline checks applied online, and why."""

    online: set[str] = field(default_factory=set)  # revision ids
    notes: list[str] = field(default_factory=list)  # "file: why", for the marked ones and rebuilds
    problems: list[str] = field(default_factory=list)  # one line per revision not marked

    @classmethod
    def marked(cls, revisions: list[Script]) -> "Offline":
        """Start from the revisions whose ``online_only = "..."`` line says they need a database."""
        offline = cls()
        for revision in revisions:
            reason = getattr(revision.module, "online_only", None)
            if reason:
                offline.online.add(revision.revision)
                offline.notes.append(f"{file_name(revision)}: {reason}")
        return offline

    def cannot_render(self, revision: Script, error: Exception) -> None:
        self.online.add(revision.revision)
        name = file_name(revision)
        if is_sqlite_rebuild_refusal(error):
            self.notes.append(f"{name}: {SQLITE_REBUILD}")
        else:
            self.problems.append(
                f"{name} cannot be rendered with --sql, where nothing can be read from the "
                f"database: {_one_line(error)}; if it reads the database on purpose, say so in "
                'it with a line online_only = "why"'
            )


def above_floor(revisions: list[Script]) -> list[Script]:
    """The revisions a downgrade to the floor undoes: those after the newest irreversible one."""
    marked = [at for at, revision in enumerate(revisions) if irreversible_reason(revision)]
    return revisions[marked[-1] + 1 :] if marked else revisions


def run_rendered(
    target: MigrationRunner,
    revisions: list[Script],
    rendered: Mapping[str, RenderedStep | Exception],
    upgrade: bool,
    offline: Offline,
) -> None:
    """Take ``target``'s database through these revisions' upgrades (or downgrades) as
    ``--sql`` renders them (``rendered``, by revision id); apply online only those that
    cannot be rendered.

    A revision that failed to render is named, and applied online between the SQL of the
    others, so the rest is still checked offline.
    """
    if target.connection.in_transaction():
        target.connection.commit()
    pending: list[str] = []  # SQL rendered and not run yet
    for revision in revisions:
        step = rendered[revision.revision]
        if isinstance(step, Exception):
            offline.cannot_render(revision, step)
        elif revision.revision not in offline.online:
            pending.append(step.sql)
            continue
        if pending:
            execute_script(target.connection, "".join(pending))
            pending.clear()
        _unwarned(partial(target.apply if upgrade else target.revert, revision))
    if pending:
        execute_script(target.connection, "".join(pending))


@dataclass
class RenderedHistory:
    """The history as ``--sql`` prints it, rendered before the walk with no database reachable:
    every revision's upgrade from base, and the downgrades of those above the floor."""

    revisions: list[Script]
    marked: set[str]  # revisions marked online_only: not rendered, only their version update
    upgrades: dict[str, RenderedStep | Exception]  # revision id -> its upgrade's SQL
    downgrades: dict[str, RenderedStep | Exception]  # the same, of those above the floor

    @classmethod
    def render(cls, runner: MigrationRunner) -> "RenderedHistory":
        revisions = runner.revisions()
        marked = Offline.marked(revisions).online
        above = above_floor(revisions)[::-1]
        upgrades = runner.render_sql(revisions, True, (), skip=marked) if revisions else []
        downgrades = runner.render_sql(above, False, runner.heads(), skip=marked) if above else []
        return cls(revisions, marked, _by_id(revisions, upgrades), _by_id(above, downgrades))

    def replayable(self, runner: MigrationRunner, revision: Script) -> str | None:
        """What ``--sql`` prints for the revision's upgrade, if that is exactly the SQL its
        upgrade sent when it last ran online; else None."""
        step = self.upgrades[revision.revision]
        if isinstance(step, RenderedStep) and self._same(runner, revision, step, True):
            return step.sql if _whole_transactions(step.sql) else None
        return None

    def proven(self, runner: MigrationRunner, downgrades: bool) -> bool:
        """Whether every upgrade (and, with ``downgrades``, every downgrade above the floor)
        that renders printed exactly the SQL the walk sent for it online.

        The walk proved what that SQL does from the schema before each step, so the SQL
        ``--sql`` prints is proven too, with no second database to run it on.
        """
        return all(
            self._same(runner, revision, step, upgrade)
            for revision, step, upgrade in self._steps(downgrades)
            if isinstance(step, RenderedStep)
        )

    def failures(self, downgrades: bool) -> "Offline":
        """The marked revisions, and those that cannot be rendered, as the offline checks
        report them."""
        offline = Offline.marked(self.revisions)
        for revision, step, _ in self._steps(downgrades):
            if isinstance(step, Exception):
                offline.cannot_render(revision, step)
        return offline

    def _steps(self, downgrades: bool) -> Iterator[tuple[Script, RenderedStep | Exception, bool]]:
        """Each rendered step: its revision, its SQL or error, and whether it is an upgrade."""
        for revision in self.revisions:
            yield revision, self.upgrades[revision.revision], True
        if downgrades:
            for revision in above_floor(self.revisions)[::-1]:
                yield revision, self.downgrades[revision.revision], False

    def _same(
        self, runner: MigrationRunner, revision: Script, step: RenderedStep, upgrade: bool
    ) -> bool:
        """Whether the step's own SQL is what the revision sent online (a marked one's is not)."""
        return revision.revision not in self.marked and runner.sent(revision, upgrade) == step.own


def _by_id(
    revisions: list[Script], steps: list[RenderedStep | Exception]
) -> dict[str, RenderedStep | Exception]:
    return {revision.revision: step for revision, step in zip(revisions, steps, strict=True)}


SQLITE_REBUILD = "it rebuilds a SQLite table (batch mode), which Alembic renders only online"


def is_sqlite_rebuild_refusal(error: Exception) -> bool:
    """Alembic's refusal to render a SQLite table rebuild (batch mode) without a database."""
    return "batch mode with dialect sqlite" in str(error)
