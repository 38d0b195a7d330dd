"""Steps through the migration history on one connection, loading the revisions only once."""

import io
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext, MigrationStep
from alembic.script import Script, ScriptDirectory
from sqlalchemy import Connection

StepFunction = Callable[[Any, MigrationContext], Iterable[Any]]


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
        self._run(lambda heads, _: self.script._upgrade_revs(target, heads))

    def downgrade(self, target: str) -> None:
        self._run(lambda heads, _: self.script._downgrade_revs(target, heads))

    def upgrade_to_just_before(self, revision: Script) -> None:
        """Apply every revision this one depends on, and nothing else."""
        for parent in revision._all_down_revisions:
            self.upgrade(parent)

    def apply(self, revision: Script) -> None:
        """Run just this revision's upgrade; the revisions it depends on are already applied."""
        self._run(
            lambda _, __: [MigrationStep.upgrade_from_script(self.script.revision_map, revision)]
        )

    def revert(self, revision: Script) -> None:
        """Run just this revision's downgrade, leaving every other applied revision applied."""
        self._run(
            lambda _, __: [MigrationStep.downgrade_from_script(self.script.revision_map, revision)]
        )

    def render_sql(self, upgrade: bool, down_to: str = "base") -> str:
        """What ``upgrade base:heads --sql`` (or ``downgrade heads:<down_to> --sql``) prints."""
        with self._offline() as buffer:
            if upgrade:
                self._run(
                    lambda heads, _: self.script._upgrade_revs("heads", heads),
                    as_sql=True,
                    starting_rev=None,
                    destination_rev="heads",
                )
            else:
                self._run(
                    lambda heads, _: self.script._downgrade_revs(down_to, heads),
                    as_sql=True,
                    starting_rev=self.heads(),
                    destination_rev=down_to,
                )
        return buffer.getvalue()

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

    def _run(self, step: StepFunction, **options: Any) -> None:
        with EnvironmentContext(self.config, self.script, fn=step, **options):
            self.script.run_env()
        if self.connection.in_transaction():
            self.connection.commit()
