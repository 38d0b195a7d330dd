"""Steps through the migration history on one connection, loading the revisions only once."""

import io
import itertools
import warnings
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext, MigrationStep
from alembic.script import Script, ScriptDirectory
from sqlalchemy import Connection, event

StepFunction = Callable[[Any, MigrationContext], Iterable[Any]]

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class RevisionWarning(UserWarning):
    """A warning raised while a revision ran: shown, where it would have failed the step."""


@dataclass(frozen=True)
class RenderedStep:
    """What ``--sql`` prints for one revision's upgrade or downgrade."""

    sql: str  # all of it: the step's transaction and the version table's update included
    own: str  # only what the revision's upgrade() or downgrade() itself printed


def as_printed(statement: str) -> str:
    """A statement as ``--sql`` prints it (Alembic's offline output, terminator included)."""
    return statement.replace("\t", "    ").strip() + ";\n\n"


class MigrationRunner:
    """Runs the project's own env.py for each step, as ``alembic upgrade``/``downgrade`` do.

    ``alembic.command`` builds a new ScriptDirectory, and so re-reads every revision file, on
    each call; keeping one here keeps a walk over N revisions linear in N. Runners given the
    same ``script`` share it, and read the files only once between them.
    """

    def __init__(
        self, config: Config, connection: Connection, script: ScriptDirectory | None = None
    ) -> None:
        self.config = config
        self.connection = connection
        self.script = script or ScriptDirectory.from_config(config)
        config.attributes["connection"] = connection
        # (revision id, upgrade?) -> its SQL as --sql would print it, or None if it cannot be
        # told that way; kept only once record_statements() is called.
        self._sent: dict[tuple[str, bool], str | None] | None = None
        self._sending: tuple[str, bool] | None = None

    def record_statements(self) -> None:
        """From now on, keep what each revision's own upgrade or downgrade sends to the database.

        ``sent`` then tells whether ``--sql`` prints exactly those statements for it.
        """
        self._sent = {}
        event.listen(self.connection, "before_cursor_execute", self._record)

    def sent(self, revision: Script, upgrade: bool) -> str | None:
        """The SQL the revision's upgrade (or downgrade) sent when it last ran, as ``--sql``
        would print it; None if it was not recorded, or sent anything ``--sql`` prints
        otherwise (parameters, which ``--sql`` writes as literals; a ``%``, which drivers
        with parameters read as an escape)."""
        return (self._sent or {}).get((revision.revision, upgrade))

    def revisions(self) -> list[Script]:
        """Every revision, each one after all the revisions it depends on."""
        return list(reversed(list(self.script.walk_revisions("base", "heads"))))

    def heads(self) -> tuple[str, ...]:
        return tuple(self.script.get_heads())

    def current(self) -> tuple[str, ...]:
        """The revisions the database is at, read from its version table."""
        return MigrationContext.configure(self.connection).get_current_heads()

    def upgrade(self, target: str) -> None:
        self._run("upgrade", [target], lambda heads, _: self.script._upgrade_revs(target, heads))

    def downgrade(self, target: str) -> None:
        self._run(
            "downgrade", [target], lambda heads, _: self.script._downgrade_revs(target, heads)
        )

    def upgrade_to_just_before(self, revision: Script) -> None:
        """Apply every revision this one depends on, and nothing else."""
        for parent in revision._all_down_revisions:
            self.upgrade(parent)

    def apply(self, *revisions: Script) -> None:
        """Run just these revisions' upgrades, in order; those they depend on are applied."""
        self._run("upgrade", _names(revisions), lambda _, __: self._steps(revisions, True))

    def revert(self, *revisions: Script) -> None:
        """Run just these revisions' downgrades, in order, leaving every other one applied."""
        self._run("downgrade", _names(revisions), lambda _, __: self._steps(revisions, False))

    def model_differences(self) -> list[Any]:
        """What ``alembic check`` finds between the models and the database, compared with
        env.py's own options: run through this runner, which has read the revisions already.
        """
        found: list[Any] = []

        def compare(_: Any, context: MigrationContext) -> list[MigrationStep]:
            found.extend(compare_metadata(context, context.opts["target_metadata"]))
            return []

        if self.connection.in_transaction():
            self.connection.commit()
        with EnvironmentContext(self.config, self.script, fn=compare):
            self.script.run_env()
        if self.connection.in_transaction():
            self.connection.commit()
        return found

    def render_sql(
        self,
        revisions: list[Script],
        upgrade: bool,
        heads: tuple[str, ...],
        skip: Collection[str] = (),
    ) -> list[RenderedStep | Exception]:
        """What ``alembic upgrade/downgrade --sql`` prints for each of these revisions' steps,
        rendered with the connection hidden from env.py (see ``render_sql`` below)."""
        saved = self.config.attributes.pop("connection")
        try:
            return render_sql(self.config, self.script, revisions, upgrade, heads, skip)
        finally:
            self.config.attributes["connection"] = saved

    def _steps(self, revisions: Iterable[Script], upgrade: bool) -> Iterator[MigrationStep]:
        """Made as Alembic takes them, each when the one before it is done."""
        make = MigrationStep.upgrade_from_script if upgrade else MigrationStep.downgrade_from_script
        for revision in revisions:
            step = make(self.script.revision_map, revision)
            if self._sent is not None:
                step.migration_fn = self._recording(step.migration_fn, (revision.revision, upgrade))
            yield step

    def _recording(
        self, migration: Callable[..., None], key: tuple[str, bool]
    ) -> Callable[..., None]:
        """``migration`` (a revision's upgrade or downgrade), what it sends recorded."""

        def run(**options: Any) -> None:
            assert self._sent is not None
            self._sent[key] = ""
            self._sending = key
            try:
                migration(**options)
            finally:
                self._sending = None

        return run

    def _record(self, *event_arguments: Any) -> None:
        """The connection's ``before_cursor_execute``: add the statement to what is sent."""
        _, _, statement, parameters, _, _ = event_arguments
        if self._sending is None or self._sent is None:
            return
        sent = self._sent[self._sending]
        if parameters or "%" in statement or sent is None:
            self._sent[self._sending] = None
        else:
            self._sent[self._sending] = sent + as_printed(statement)

    def _run(self, verb: str, subjects: Iterable[str], step: StepFunction, **options: Any) -> None:
        """Run env.py for ``step``; warnings are held until it is done, then passed on.

        A warning the project's own code raises (src/, env.py) is issued again as it was, so
        pytest's ``filterwarnings`` treat it as anywhere else in the project. Any other (a
        library's DeprecationWarning, a revision calling a deprecated API) becomes a
        RevisionWarning naming the step and the revision: old revisions and libraries cannot
        fail a step.
        """
        # Between transactions, as `alembic upgrade` hands it over: Alembic then runs each
        # revision in a transaction of its own, which autocommit_block() can step out of.
        if self.connection.in_transaction():
            self.connection.commit()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with EnvironmentContext(self.config, self.script, fn=step, **options):
                self.script.run_env()
        if self.connection.in_transaction():
            self.connection.commit()
        if not caught:
            return
        own = (PROJECT_ROOT / "src", Path(self.script.env_py_location).resolve())
        distinct = {(str(w.message), w.category, w.filename, w.lineno): w for w in caught}
        names = list(subjects)
        for seen in distinct.values():
            path = Path(seen.filename).resolve()
            if any(path.is_relative_to(place) for place in own):
                warnings.warn_explicit(seen.message, seen.category, seen.filename, seen.lineno)
            else:
                # Name the revision the warning points at, else every one the step ran.
                where = path.name if path.name in names else ", ".join(names)
                warning = f"{seen.category.__name__}: {seen.message} ({path.name}:{seen.lineno})"
                warnings.warn(RevisionWarning(f"{verb} of {where}: {warning}"), stacklevel=2)


def render_sql(
    config: Config,
    script: ScriptDirectory,
    revisions: list[Script],
    upgrade: bool,
    heads: tuple[str, ...],
    skip: Collection[str] = (),
) -> list[RenderedStep | Exception]:
    """What ``alembic upgrade/downgrade --sql`` prints for each of these revisions' steps, in
    order, starting from a database at ``heads``; or the error a revision's step raised.

    One run of env.py renders them all: a revision that fails is recorded, and rendering goes
    on with the next as though it had been applied (the caller applies it some other way). So
    do the revisions in ``skip``, which are not run at all: their SQL is only Alembic's update
    of the version table.
    """
    buffer, starts = io.StringIO(), []  # where each revision's SQL begins in the buffer
    own: dict[int, tuple[int, int]] = {}  # revision's position -> where its own SQL lies
    failed: dict[int, Exception] = {}  # revision's position -> what its step raised
    make = MigrationStep.upgrade_from_script if upgrade else MigrationStep.downgrade_from_script

    def steps(_: Any, __: MigrationContext) -> Iterator[MigrationStep]:
        for at, revision in enumerate(revisions):
            # Alembic takes a step once the SQL of the one before, COMMIT included, is out.
            starts.append(buffer.tell())
            step = make(script.revision_map, revision)
            migration = _nothing if revision.revision in skip else step.migration_fn
            step.migration_fn = _rendering(migration, at, buffer, own, failed)
            yield step

    saved, config.output_buffer = config.output_buffer, buffer
    try:
        with (
            warnings.catch_warnings(),
            EnvironmentContext(
                config,
                script,
                fn=steps,
                as_sql=True,
                starting_rev=heads,
                destination_rev=revisions[-1].revision,
            ),
        ):
            # Ignored here: the walk runs the same revisions online and reports their warnings.
            warnings.simplefilter("ignore")
            script.run_env()
    finally:
        config.output_buffer = saved
    text = buffer.getvalue()
    bounds = itertools.pairwise([0, *starts[1:], len(text)])
    return [
        failed[at] if at in failed else RenderedStep(text[start:end], text[slice(*own[at])])
        for at, (start, end) in enumerate(bounds)
    ]


def _rendering(
    migration: Callable[..., None],
    at: int,
    buffer: io.StringIO,
    own: dict[int, tuple[int, int]],
    failed: dict[int, Exception],
) -> Callable[..., None]:
    """``migration`` (a revision's upgrade or downgrade), where its output lies recorded, and
    its error, not raised."""

    def run(**options: Any) -> None:
        start = buffer.tell()
        try:
            migration(**options)
        except Exception as error:
            failed[at] = error
        own[at] = (start, buffer.tell())

    return run


def _nothing(**_: Any) -> None:
    """A skipped revision's upgrade or downgrade."""


def _names(revisions: Iterable[Script]) -> Iterator[str]:
    """The revisions' file names, worked out only if a warning needs them."""
    return (Path(revision.path).name for revision in revisions)
