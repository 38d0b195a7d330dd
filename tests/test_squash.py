"""The baked squash replaces the history up to a revision with one baseline, as its README says,
and databases the old history migrated keep working."""

import re
import shlex
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import Project
from tests.readme import console_commands
from tests.servers import server

SECTION = "### Squashing the history into a baseline"

# Prints how the schema at URL a differs from the one at URL b (nothing: b empty), in the
# words of the walk's snapshot comparison.
DIFFERENCES = """\
import sys
from sqlalchemy import create_engine, pool
from tests.migrations.schema import Schema, SchemaReader

def read(url):
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        return SchemaReader(connection).read()

expected = read(sys.argv[2]) if len(sys.argv) > 2 else Schema({})
print("\\n".join(read(sys.argv[1]).differences(expected)))
"""


@contextmanager
def databases(project: Project, count: int) -> Iterator[list[str]]:
    """``count`` empty databases for the project's DATABASE_URL: SQLite files, or on its server."""
    if project.test_database_url is None:
        yield [f"sqlite:///{project.path}/squash-{n}.sqlite3" for n in range(count)]
        return
    with server(project.test_database_url) as admin:
        names = [admin.create_database() for _ in range(count)]
        split = urlsplit(project.test_database_url)
        yield [split._replace(path=f"/{name}").geturl() for name in names]


def differences(project: Project, url: str, expected_url: str | None = None) -> list[str]:
    script = project.write("differences.py", DIFFERENCES)
    urls = [url] if expected_url is None else [url, expected_url]
    printed = project.run("python", str(script), *[synchronous(u) for u in urls]).stdout
    return printed.split("\n")[:-1] if printed.strip() else []


def synchronous(url: str) -> str:
    """A URL SQLAlchemy opens with the drivers every bake installs."""
    return re.sub(r"^postgresql:", "postgresql+psycopg:", re.sub(r"^mysql:", "mysql+pymysql:", url))


def alembic(project: Project, url: str, *arguments: str) -> str:
    result = project.run("alembic", *arguments, env={"DATABASE_URL": url})
    return result.stdout + result.stderr


def squash_command(project: Project, heading: str, revision: str) -> list[str]:
    """The squash command of the README's section ``heading``, for ``revision``."""
    readme = (project.path / "README.md").read_text(encoding="utf-8")
    [command] = [line for line in console_commands(readme, heading) if "squash" in line]
    return [revision if word == "<revision>" else word for word in shlex.split(command)]


def squash(project: Project, command: list[str]) -> Path:
    """Run the squash ``command``; the one baseline file it leaves."""
    before = set(project.revisions())
    project.run(*command)
    [baseline] = set(project.revisions()) - before
    return baseline


def prove_squash(
    project: Project,
    command: list[str],
    target: str,
    head: str,
    remove_tests: Callable[[], None] | None = None,
) -> None:
    """Squash up to ``target`` and prove what the README promises, on the project's backend;
    then, for a history that matches the project's models, its own walk, once ``remove_tests``
    removed the tests of squashed revisions."""
    with databases(project, 4) as (at_target, at_head, fresh, old_full):
        alembic(project, at_target, "upgrade", target)  # by the old history
        alembic(project, at_head, "upgrade", "head")
        alembic(project, old_full, "upgrade", "head")
        replaced = [p for p in project.revisions() if _revision_of(p) in _ancestry(project, target)]

        baseline = squash(project, command)

        text = baseline.read_text(encoding="utf-8")
        assert f'revision: str = "{target}"' in text
        assert "down_revision: str | Sequence[str] | None = None" in text
        assert not any(path.exists() for path in replaced)
        # The baseline builds exactly the schema the old history built, and takes it away.
        alembic(project, fresh, "upgrade", target)
        assert differences(project, fresh, at_target) == []
        alembic(project, fresh, "downgrade", "base")
        assert differences(project, fresh) == []
        # Databases at or past the revision: their current revision is known, and they upgrade.
        assert target in alembic(project, at_target, "current")
        upgraded = alembic(project, at_target, "upgrade", "head")
        assert re.search(rf"Running upgrade {target} -> ", upgraded)
        assert differences(project, at_target, old_full) == []
        assert head in alembic(project, at_head, "current")
        assert "Running upgrade" not in alembic(project, at_head, "upgrade", "head")
        alembic(project, fresh, "upgrade", "head")
        assert differences(project, fresh, old_full) == []
    for tool in (["ruff", "check"], ["ruff", "format", "--check"]):
        project.run(*tool, str(baseline))
    if remove_tests is None:  # not walked here (a history without models cannot pass `check`)
        return
    remove_tests()
    walked = project.run("pytest", "-p", "no:cacheprovider", "-q", "tests/migrations")
    assert "failed" not in walked.stdout and "error" not in walked.stdout, walked.stdout


def _revision_of(path: Path) -> str:
    [revision] = re.findall(
        r'^revision(?:: str)? = "(\w+)"', path.read_text(encoding="utf-8"), re.M
    )
    return revision


def _ancestry(project: Project, target: str) -> set[str]:
    parents = {}
    for path in project.revisions():
        text = path.read_text(encoding="utf-8")
        down = re.findall(r'^down_revision(?:: [^=]+)? = "(\w+)"', text, re.M)
        parents[_revision_of(path)] = down[0] if down else None
    found: set[str] = set()
    at: str | None = target
    for _ in range(len(parents)):  # bounded: a history has no cycles
        if at is None:
            break
        found.add(at)
        at = parents[at]
    return found


SHIPPED = ["sqlite-default", "postgresql", "mysql"]
# Each of them is a unit of work of its own for the xdist workers.
WORKER_SPLIT = "name"


@pytest.mark.parametrize("name", SHIPPED)
def test_the_shipped_history_squashes_into_a_baseline_that_builds_the_same_schema(
    baked: Callable[[str], Project], name: str
) -> None:
    project = baked(name)
    # The data migration's test needs the revisions before it, which the squash removes. The
    # project's own walk of the new history, as the README runs it, once: on SQLite (every
    # backend's schemas are compared above it).
    data_test = project.path / "tests/migrations/test_data_migrations.py"
    prove_squash(
        project,
        squash_command(project, SECTION, "9a4e7c1d2b8f"),
        target="9a4e7c1d2b8f",
        head="c3b5d7e9f1a2",
        remove_tests=data_test.unlink if name == "sqlite-default" else None,
    )


def test_a_baseline_that_would_differ_is_refused_and_the_history_kept(
    baked: Callable[[str], Project],
) -> None:
    project = baked("postgresql-async")
    # An enum type no column uses: reflection, and so the baseline, cannot see it.
    project.write(
        "migrations/versions/0000_loose_enum.py",
        '"""loose enum"""\n\nfrom alembic import op\n\nrevision = "10053e0e1e00"\n'
        'down_revision = "c3b5d7e9f1a2"\nbranch_labels = None\ndepends_on = None\n\n\n'
        "def upgrade() -> None:\n    op.execute(\"CREATE TYPE loose AS ENUM ('a')\")\n\n\n"
        'def downgrade() -> None:\n    op.execute("DROP TYPE loose")\n',
    )
    before = {path: path.read_text(encoding="utf-8") for path in project.revisions()}
    command = squash_command(project, SECTION, "10053e0e1e00")

    refused = project.run(*command, check=False)

    assert refused.returncode == 1
    assert "squash refused, nothing changed: the baseline's upgrade lacks enum type loose" in (
        refused.stderr
    )
    assert {path: path.read_text(encoding="utf-8") for path in project.revisions()} == before


def synthetic_revision(number: int) -> str:
    """Revision ``number`` of a long history: a table, tied to the one before by an unnamed key,
    an index, a check; every tenth a column added in batch and rows moved by a data step."""
    down = f'"{number - 1:012d}"' if number > 1 else "None"
    parent = number - 1 if (number - 1) % 10 else number - 2  # the newest table before it
    if number % 10 == 0:
        body = (
            f'    with op.batch_alter_table("t{parent}") as batch:\n'
            '        batch.add_column(sa.Column("tally", sa.Integer(), nullable=True))\n'
            f'    op.execute("UPDATE t{parent} SET tally = 1")\n'
        )
        undo = f'    with op.batch_alter_table("t{parent}") as batch:\n'
        undo += '        batch.drop_column("tally")\n'
    else:
        key = f'        sa.ForeignKeyConstraint(["parent_id"], ["t{parent}.id"]),\n'
        key = key if number > 1 else ""
        body = (
            f'    op.create_table(\n        "t{number}",\n'
            '        sa.Column("id", sa.Integer(), primary_key=True),\n'
            '        sa.Column("parent_id", sa.Integer(), nullable=True),\n'
            '        sa.Column("label", sa.String(20), server_default="x", nullable=False),\n'
            f"{key}"
            '        sa.CheckConstraint("length(label) > 0", name="label"),\n    )\n'
            f'    op.create_index("ix_t{number}_label", "t{number}", ["label"])\n'
        )
        undo = f'    op.drop_table("t{number}")\n'
    return (
        f'"""step {number}"""\n\nimport sqlalchemy as sa\nfrom alembic import op\n\n'
        f'revision = "{number:012d}"\ndown_revision = {down}\n'
        "branch_labels = None\ndepends_on = None\n\n\n"
        f"def upgrade() -> None:\n{body}\n\ndef downgrade() -> None:\n{undo}"
    )


def test_a_history_of_200_revisions_squashes_on_sqlite(baked: Callable[[str], Project]) -> None:
    project = baked("sqlite-without-examples")
    for number in range(1, 201):
        project.write(f"migrations/versions/{number:04d}_step.py", synthetic_revision(number))
    started = time.monotonic()

    target = f"{150:012d}"
    prove_squash(project, squash_command(project, SECTION, target), target, f"{200:012d}")

    print(f"200 revisions, squashed up to the 150th and proven: {time.monotonic() - started:.1f} s")
