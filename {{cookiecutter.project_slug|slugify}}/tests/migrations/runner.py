"""Steps through the migration history on one connection, loading the revisions only once."""

import io
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext, MigrationStep
from alembic.script import Script, ScriptDirectory
from sqlalchemy import Connection

StepFunction = Callable[[Any, MigrationContext], Iterable[Any]]

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class RevisionWarning(UserWarning):
    """A warning raised while a revision ran: shown, where it would have failed the step."""


class MigrationRunner:
    """Runs the project's own env.py for each step, as ``alembic upgrade``/``downgrade`` do.

    ``alembic.command`` builds a new ScriptDirectory, and so re-reads every revision file, on
    each call; keeping one here keeps a walk over N revisions linear in N.
    """

    def __init__(self, config: Config, connection: Connection) -> None:
        self.config = config
        self.connection = connection
        self.script = ScriptDirectory.from_config(config)
        config.attributes["connection"] = connection

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

    def render_sql(self, revisions: list[Script], upgrade: bool, heads: tuple[str, ...]) -> str:
        """What ``alembic upgrade/downgrade --sql`` prints for these revisions' steps, in order,
        starting from a database at ``heads``."""
        with self._offline() as buffer, warnings.catch_warnings():
            # Ignored here: the walk runs the same revisions online and reports their warnings.
            warnings.simplefilter("ignore")
            self._run(
                "rendering the SQL",
                _names(revisions),
                lambda _, __: self._steps(revisions, upgrade),
                as_sql=True,
                starting_rev=heads,
                destination_rev=revisions[-1].revision,
            )
        return buffer.getvalue()

    def _steps(self, revisions: Iterable[Script], upgrade: bool) -> Iterator[MigrationStep]:
        """Made as Alembic takes them: rendering that fails at the second of many costs two."""
        step = MigrationStep.upgrade_from_script if upgrade else MigrationStep.downgrade_from_script
        return (step(self.script.revision_map, revision) for revision in revisions)

    @contextmanager
    def _offline(self) -> Iterator[io.StringIO]:
        """Hide the connection from env.py and collect what it writes instead."""
        buffer = io.StringIO()
        saved = self.config.attributes.pop("connection"), self.config.output_buffer
        self.config.output_buffer = buffer
        try:
            yield buffer
        finally:
            self.config.attributes["connection"], self.config.output_buffer = saved

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


def _names(revisions: Iterable[Script]) -> Iterator[str]:
    """The revisions' file names, worked out only if a warning needs them."""
    return (Path(revision.path).name for revision in revisions)
