"""Times the baked round-trip suite against the bare steps and against pytest-alembic.

For synthetic histories of N revisions (alternately: a new table with a foreign key to the
first table and an index; a batch add-column with an index on the table before), in a project
baked without the examples and with models that match the history, it prints the wall-clock
seconds of:

  (a) ours   the baked project's own `pytest tests/migrations`: the walk (with downgrade to
             base), one head, models match, SQL rendered offline and checked (the walk runs
             it for its second upgrades where it is what each revision sent online)
  (b) floor  the same steps in one process with no checks: every revision upgraded, all
             downgraded, all upgraded again, one revision at a time
  (c) pytest-alembic 0.13.1: up_down_consistency + downgrade_leaves_no_trace, the engine
             handed to env.py as its docs describe, in its own virtualenv (pytest < 9)

Each figure is a whole subprocess (interpreter start included), the best of --repeat runs,
with its cost per revision in milliseconds, so that growth shows; the last line compares the
suite's and the floor's cost per revision at the largest SQLite size with those at 200.
pytest-alembic is not run above --peer-max-size (default 200): it re-reads every revision file
at every step, so 1000 revisions would take it hours. The load column is the machine's
1-minute load average after the row: the figures are wall-clock times and move with it.
The timed commands run as on a developer's machine, which writes bytecode: without
PYTHONDONTWRITEBYTECODE (some machines set it), with both virtualenvs and, before each size,
the project's revisions, models and tests compiled, so that none of (a), (b), (c) pays for
compiling SQLAlchemy, Alembic, pydantic or N revision files that the others reuse.
Run with `python3 dev.py benchmark` (add `--sizes 50 100` or `--postgresql-sizes` to change
what is measured). PostgreSQL is measured when TEST_DATABASE_URL (or the default below) is
reachable.
"""

import argparse
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from cookiecutter.main import cookiecutter
from uv import find_uv_bin

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "build" / "benchmark"
DEFAULT_POSTGRESQL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
UV = find_uv_bin()
# Left out of the timed commands' environment: the first three would point them elsewhere;
# the last would make each of them compile every module it imports afresh (see the docstring).
FOREIGN_VARIABLES = (
    "DATABASE_URL",
    "TEST_DATABASE_URL",
    "VIRTUAL_ENV",
    "PYTHONDONTWRITEBYTECODE",
)

FLOOR = """
import sys, time
from sqlalchemy import create_engine, pool
from tests.conftest import alembic_config_for
from tests.migrations.runner import MigrationRunner

engine = create_engine(sys.argv[1], poolclass=pool.NullPool)
with engine.connect() as connection:
    runner = MigrationRunner(alembic_config_for(connection), connection)
    revisions = runner.revisions()
    for revision in revisions:
        runner.apply(revision)
    for revision in reversed(revisions):
        runner.revert(revision)
    for revision in revisions:
        runner.apply(revision)
engine.dispose()
"""

PYTEST_ALEMBIC_CONFTEST = """
import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, pool

PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture
def alembic_config():
    return {"file": str(PROJECT / "alembic.ini")}


@pytest.fixture
def alembic_engine(tmp_path):
    server = os.environ.get("TEST_DATABASE_URL")
    if not server:
        engine = create_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}", poolclass=pool.NullPool)
        yield engine
        engine.dispose()
        return
    admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=pool.NullPool)
    name = f"bench_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    engine = create_engine(make_url(server).set(database=name), poolclass=pool.NullPool)
    yield engine
    engine.dispose()
    with admin.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
    admin.dispose()
"""

PYTEST_ALEMBIC_INI = """
[pytest]
pytest_alembic_include = up_down_consistency
pytest_alembic_include_experimental = downgrade_leaves_no_trace
pytest_alembic_tests_path = pytest_alembic_tests/conftest.py
"""


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    """Run a command to completion; return its wall-clock seconds, or stop if it failed."""
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"`{' '.join(command)}` failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return elapsed


def prepare() -> tuple[Path, Path]:
    """Bake a project without examples; give it and pytest-alembic their virtualenvs."""
    if WORK.exists():
        shutil.rmtree(WORK)
    WORK.mkdir(parents=True)
    project = Path(
        cookiecutter(
            str(ROOT), no_input=True, output_dir=str(WORK), extra_context={"example_models": False}
        )
    )
    python = sys.executable
    run([UV, "sync", "--quiet", "--compile-bytecode", "--python", python], project)
    pip_install(project / ".venv", "psycopg[binary]")
    pa_venv = WORK / "pytest-alembic-venv"
    run([UV, "venv", "--quiet", "--python", python, str(pa_venv)], WORK)
    pip_install(
        pa_venv, "-e", str(project), "pytest<9", "pytest-alembic==0.13.1", "psycopg[binary]"
    )
    tests = project / "pytest_alembic_tests"
    tests.mkdir()
    (tests / "conftest.py").write_text(PYTEST_ALEMBIC_CONFTEST)
    (tests / "pytest.ini").write_text(PYTEST_ALEMBIC_INI)
    return project, pa_venv


def pip_install(venv: Path, *requirements: str) -> None:
    """Install into ``venv``, compiled to bytecode, as the timed commands then find it."""
    run(
        [
            UV,
            "pip",
            "install",
            "--quiet",
            "--compile-bytecode",
            "--python",
            str(venv),
            *requirements,
        ],
        WORK,
    )


def write_history(project: Path, size: int) -> None:
    """N revisions and a models module whose tables match what they build."""
    versions = project / "migrations" / "versions"
    for old in versions.glob("*.py"):
        old.unlink()
    tables: dict[str, list[str]] = {}
    for number in range(1, size + 1):
        revision, down = f"{number:012d}", f"{number - 1:012d}" if number > 1 else None
        if number % 2:
            # Like most schemas, foreign keys point at one central table.
            table = f"t{number}"
            upgrade, downgrade, columns = new_table(table, "t1" if number > 1 else None)
            tables[table] = columns
        else:
            upgrade, downgrade, column = added_column(table, f"extra_{number}")
            tables[table].append(column)
        (versions / f"{revision}_step_{number}.py").write_text(
            REVISION.format(
                revision=revision, down=repr(down), upgrade=upgrade, downgrade=downgrade
            )
        )
    models = [
        "from sqlalchemy import Column, ForeignKey, Integer, String, Table",
        "",
        "from my_project.models.base import Base",
        "",
    ]
    for table, columns in tables.items():
        models.append(f'{table} = Table("{table}", Base.metadata, {", ".join(columns)})')
    (project / "src" / "my_project" / "models" / "synthetic.py").write_text(
        "\n".join(models) + "\n"
    )
    init = project / "src" / "my_project" / "models" / "__init__.py"
    text = init.read_text()
    if "synthetic" not in text:
        init.write_text(
            text.replace(
                "\nmetadata = Base.metadata",
                "from my_project.models import synthetic  # noqa: F401\n\nmetadata = Base.metadata",
            )
        )


REVISION = '''"""synthetic step"""

import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = {down}
branch_labels = None
depends_on = None


def upgrade() -> None:
{upgrade}


def downgrade() -> None:
{downgrade}
'''


def new_table(table: str, parent: str | None) -> tuple[str, str, list[str]]:
    parent_column = (
        '        sa.Column("parent_id", sa.Integer(), nullable=True),\n'
        f'        sa.ForeignKeyConstraint(["parent_id"], ["{parent}.id"], '
        f'name=op.f("fk_{table}_parent_id_{parent}")),\n'
        if parent
        else ""
    )
    upgrade = (
        f'    op.create_table(\n        "{table}",\n'
        '        sa.Column("id", sa.Integer(), nullable=False),\n'
        '        sa.Column("name", sa.String(length=50), nullable=False),\n'
        f"{parent_column}"
        f'        sa.PrimaryKeyConstraint("id", name=op.f("pk_{table}")),\n    )\n'
        f'    op.create_index(op.f("ix_{table}_name"), "{table}", ["name"])'
    )
    downgrade = (
        f'    op.drop_index(op.f("ix_{table}_name"), table_name="{table}")\n'
        f'    op.drop_table("{table}")'
    )
    columns = [
        'Column("id", Integer, primary_key=True)',
        'Column("name", String(50), nullable=False, index=True)',
    ]
    if parent:
        columns.append(f'Column("parent_id", ForeignKey("{parent}.id"))')
    return upgrade, downgrade, columns


def added_column(table: str, column: str) -> tuple[str, str, str]:
    upgrade = (
        f'    with op.batch_alter_table("{table}") as batch_op:\n'
        f'        batch_op.add_column(sa.Column("{column}", sa.Integer(), nullable=True))\n'
        f'        batch_op.create_index(batch_op.f("ix_{table}_{column}"), ["{column}"])'
    )
    downgrade = (
        f'    with op.batch_alter_table("{table}") as batch_op:\n'
        f'        batch_op.drop_index(batch_op.f("ix_{table}_{column}"))\n'
        f'        batch_op.drop_column("{column}")'
    )
    return upgrade, downgrade, f'Column("{column}", Integer, index=True)'


def measure(
    project: Path, pa_venv: Path, size: int, server: str | None, repeat: int, peer_max_size: int
) -> tuple[float, float]:
    """Print one row of figures; return the seconds of the suite and of the floor."""
    write_history(project, size)
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_VARIABLES}
    if server:
        env["TEST_DATABASE_URL"] = server
    python = str(project / ".venv" / "bin" / "python")
    compiled = ["migrations", "src", "tests"]
    run([python, "-m", "compileall", "-q", *compiled], project, env)

    def floor() -> float:
        if server:
            url = reset_floor_database(project, server)
        else:
            (WORK / "floor.sqlite3").unlink(missing_ok=True)
            url = f"sqlite:///{WORK / 'floor.sqlite3'}"
        return run([python, "-c", FLOOR, url], project, env)

    ours = min(
        run(
            [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/migrations"],
            project,
            env,
        )
        for _ in range(repeat)
    )
    bare = min(floor() for _ in range(repeat))
    if server:
        reset_floor_database(project, server, drop=True)
    peer = None
    if size <= peer_max_size:
        peer = min(run(pytest_alembic(pa_venv), project, env) for _ in range(repeat))
    backend = server.split(":", 1)[0].split("+", 1)[0] if server else "sqlite"
    per_revision = f"{ours / size * 1000:>8.1f} {bare / size * 1000:>8.1f}"
    peer_figures = f"{peer:>8.1f} {peer / ours:>7.1f}" if peer else f"{'-':>8} {'-':>7}"
    print(
        f"{backend:<10} {size:>5} {ours:>7.1f} {bare:>7.1f} {per_revision} "
        f"{ours / bare:>7.2f} {peer_figures} {os.getloadavg()[0]:>5.1f}",
        flush=True,
    )
    return ours, bare


def pytest_alembic(pa_venv: Path) -> list[str]:
    return [
        str(pa_venv / "bin" / "python"),
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-c",
        "pytest_alembic_tests/pytest.ini",
        "--rootdir",
        ".",
        "--test-alembic",
        "pytest_alembic_tests",
    ]


# Server chores run in the baked project's virtualenv, which has SQLAlchemy and a driver.
RESET = """
import sys
from sqlalchemy import create_engine, make_url
server = make_url(sys.argv[1])
admin = create_engine(server, isolation_level="AUTOCOMMIT")
with admin.connect() as connection:
    connection.exec_driver_sql("DROP DATABASE IF EXISTS bench_floor WITH (FORCE)")
    if sys.argv[2:] != ["drop"]:
        connection.exec_driver_sql("CREATE DATABASE bench_floor")
print(server.set(database="bench_floor").render_as_string(False))
"""


def reset_floor_database(project: Path, server: str, *, drop: bool = False) -> str:
    """A fresh database on the server for the floor run (or none, with drop); returns its URL."""
    python = str(project / ".venv" / "bin" / "python")
    command = [python, "-c", RESET, server, *(["drop"] if drop else [])]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"cannot prepare a database on {server}:\n{result.stderr[-2000:]}")
    return result.stdout.strip()


def reachable(project: Path, server: str) -> bool:
    python = str(project / ".venv" / "bin" / "python")
    probe = "import sys; from sqlalchemy import create_engine; create_engine(sys.argv[1]).connect()"
    result = subprocess.run([python, "-c", probe, server], capture_output=True, text=True)
    if result.returncode != 0:
        print(f"PostgreSQL not measured: {server} is not reachable")
    return result.returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100, 200, 1000])
    parser.add_argument("--postgresql-sizes", type=int, nargs="*", default=[100, 200])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--peer-max-size", type=int, default=200)
    arguments = parser.parse_args()
    project, pa_venv = prepare()
    print(
        textwrap.dedent(f"""
        wall-clock seconds and ms per revision: (a) ours, (b) floor, (c) pytest-alembic
        ((c) only up to N={arguments.peer_max_size}); load: 1-minute load average after the row
        backend        N     (a)     (b)  (a)/N ms (b)/N ms (a)/(b)      (c) (c)/(a)  load""")
    )
    sqlite = {
        size: measure(project, pa_venv, size, None, arguments.repeat, arguments.peer_max_size)
        for size in arguments.sizes
    }
    server = os.environ.get("TEST_DATABASE_URL", DEFAULT_POSTGRESQL)
    if arguments.postgresql_sizes and reachable(project, server):
        for size in arguments.postgresql_sizes:
            measure(project, pa_venv, size, server, arguments.repeat, arguments.peer_max_size)
    if 200 in sqlite and max(sqlite) > 200:
        largest = max(sqlite)
        ours, bare = ((sqlite[largest][i] / largest) / (sqlite[200][i] / 200) for i in (0, 1))
        print(f"sqlite: per revision, N={largest} against N=200: (a) {ours:.2f}x, (b) {bare:.2f}x")


if __name__ == "__main__":
    main()
