"""No revision takes a lock that would stop a busy table: squawk reads every upgrade's SQL.

Each revision's upgrade is rendered as ``alembic upgrade --sql`` prints it (no database
needed) and linted with squawk (tests/migrations/lint.py lists the rules left out, and why).
A finding names the revision file, the rule and the statement; the README's "Changes that
lock busy tables" shows the safe way to write each. A revision that takes the lock on purpose
says so, rule by rule, with a module-level line:

    lint_accepted = {"changing-column-type": "accounts holds a few hundred rows"}

Revisions marked ``online_only`` cannot be rendered, and downgrades are not linted.
"""

import pytest
from alembic.config import Config

from tests.conftest import PROJECT_ROOT
from tests.migrations.lint import NEVER_CONNECTED, lint


def test_no_revision_takes_a_lock_that_stops_a_busy_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", NEVER_CONNECTED)
    config = Config(PROJECT_ROOT / "alembic.ini")
    config.attributes["configure_logger"] = False

    problems = lint(config)

    if problems:
        how = (
            "Write these as the README's section Changes that lock busy tables shows, or accept "
            'a rule on purpose in the revision: lint_accepted = {"rule-name": "why it is safe"}'
        )
        pytest.fail("\n".join([*problems, how]), pytrace=False)
