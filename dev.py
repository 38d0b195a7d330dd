#!/usr/bin/env python3
"""The template's two entry points, needing only Python 3.10+ and git.

    python3 dev.py demo   bake the default project into build/, migrate it on SQLite, show it
    python3 dev.py test   run the template's whole test suite

and, for measurements, `python3 dev.py benchmark` (see benchmarks/round_trip.py).

Both create the virtualenvs they need (.venv for the template's tools, and the baked
project's own .venv) and reuse them on the next run.
"""

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

if sys.version_info < (3, 10):  # noqa: UP036 - say it plainly rather than fail on syntax
    sys.exit(f"dev.py needs Python 3.10 or newer; this is {sys.version.split()[0]}")

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
REQUIREMENTS = ROOT / "requirements-test.txt"
DEMO_OUTPUT = ROOT / "build"
BIN = "Scripts" if os.name == "nt" else "bin"


def run(
    *command: str | Path,
    cwd: Path = ROOT,
    env: dict[str, str] | None = None,
    label: str | None = None,
) -> None:
    """Run a command, echoing it (or its label) first; stop with its exit code if it fails."""
    print(f"$ {label or ' '.join(map(str, command))}", flush=True)
    completed = subprocess.run([str(part) for part in command], cwd=cwd, env=env)
    if completed.returncode != 0:
        sys.exit(completed.returncode)


def template_venv() -> Path:
    """.venv with requirements-test.txt installed; rebuilt only when that file changes."""
    python = VENV / BIN / "python"
    stamp = VENV / "requirements.sha256"
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    if VENV.is_symlink():
        # venv.create(clear=True) would empty the virtualenv the link points at, in place.
        sys.exit(
            f"{VENV} links to {VENV.resolve()}, which lacks {REQUIREMENTS.name} as it is here;"
            " update that virtualenv there, or remove the link to get one of this tree's own"
        )
    print(f"Creating {VENV.relative_to(ROOT)} with {REQUIREMENTS.name} ...", flush=True)
    venv.create(VENV, with_pip=True, clear=True)
    run(python, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(python, "-m", "pip", "install", "--quiet", "-r", REQUIREMENTS)
    stamp.write_text(wanted)
    return python


def project_environment(project: Path) -> dict[str, str]:
    """The environment a user has after activating the project's .venv, with nothing set."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "TEST_DATABASE_URL", "VIRTUAL_ENV")
    }
    environment["PATH"] = f"{project / '.venv' / BIN}{os.pathsep}{environment['PATH']}"
    environment["UV_PYTHON_DOWNLOADS"] = "never"
    return environment


def demo() -> None:
    python = template_venv()
    project = DEMO_OUTPUT / "my-project"
    if project.exists():
        shutil.rmtree(project)
    run(python, "-m", "cookiecutter", "--no-input", "--output-dir", DEMO_OUTPUT, ROOT)
    env = project_environment(project)
    run(python, "-m", "uv", "sync", "--quiet", "--python", python, cwd=project, env=env)
    for command in (
        ["alembic", "upgrade", "head"],
        ["alembic", "current", "--verbose"],
        ["alembic", "check"],
    ):
        run(*command, cwd=project, env=env)
    run("python", "-c", SHOW_TABLES, cwd=project, env=env, label="(list the tables it made)")
    print(
        f"\nDone: {project.relative_to(ROOT)} is migrated. Try `cd {project.relative_to(ROOT)}`"
        " and read its README.md."
    )


SHOW_TABLES = """
from sqlalchemy import inspect
from my_project.db import create_db_engine

engine = create_db_engine()
print(f"Tables in {engine.url.database}:")
inspector = inspect(engine)
for table in inspector.get_table_names():
    columns = ", ".join(column["name"] for column in inspector.get_columns(table))
    print(f"  {table}: {columns}")
"""


def test(pytest_args: list[str]) -> None:
    python = template_venv()
    run(python, "-m", "pytest", *pytest_args)


def benchmark(arguments: list[str]) -> None:
    python = template_venv()
    run(python, ROOT / "benchmarks" / "round_trip.py", *arguments)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="bake the default project and migrate it on SQLite")
    commands.add_parser("test", help="run the template's test suite; other options go to pytest")
    commands.add_parser("benchmark", help="time the round-trip suite; options go to the script")
    arguments, extra = parser.parse_known_args()
    if arguments.command == "test":
        test(extra)
    elif arguments.command == "benchmark":
        benchmark(extra)
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    else:
        demo()


if __name__ == "__main__":
    main()
