"""Steps through the migration history on one connection, loading the revisions only once."""

from collections.abc import Callable, Iterable
from typing import Any

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy import Connection

StepFunction = Callable[[Any, MigrationContext], Iterable[Any]]


class MigrationRunner:
    """Runs the project's env.py for each step, like ``alembic upgrade``/``downgrade`` do.

    ``alembic.command`` builds a new ScriptDirectory (and so re-reads every revision file)
    on each call; keeping one here keeps a walk over N revisions linear.
    """

    def __init__(self, config: Config, connection: Connection) -> None:
        self.config = config
        self.connection = connection
        self.script = ScriptDirectory.from_config(config)
        config.attributes["connection"] = connection

    def revisions(self) -> list[Script]:
        """Every revision, each after all the revisions it depends on."""
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

    def _run(self, step: StepFunction) -> None:
        with EnvironmentContext(self.config, self.script, fn=step):
            self.script.run_env()
        if self.connection.in_transaction():
            self.connection.commit()
