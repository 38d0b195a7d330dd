"""Every command in the docs, in every README a bake can have, is run by a template test."""

import ast
import hashlib
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from uv import find_uv_bin

from tests.conftest import (
    COMBINATIONS,
    FOREIGN_VARIABLES,
    SERVERS,
    TEMPLATE_ROOT,
    BakeProject,
    Project,
    git,
    server_for,
)
from tests.cookiecutter_cli import cookiecutter_config
from tests.project_edits import HEAD, PRODUCTS, autogenerate, plant_revision, register_products
from tests.readme import console_commands, section
from tests.servers import Server, server

# What counts as a command: every line of a ```console block (without its `# comment`), and
# every `code span` outside fenced blocks whose first word, after any NAME=value assignments,
# is one of these programs.
PROGRAMS = {
    "alembic", "cookiecutter", "cp", "cruft", "docker", "export", "fastapi", "flask", "git", "mypy",
    "mysql", "pip", "pipx", "psql", "pytest", "python", "python3", "ruff", "uv", "uvicorn", "uvx",
}  # fmt: skip

# Spans that only name a program or a group of its subcommands ("the `flask` command",
# "`alembic upgrade`/`downgrade` waits"), not commands; each begins a longer command the docs give.
NAMES = {
    "alembic", "alembic init", "alembic upgrade", "docker exec", "docker run", "flask", "flask db",
    "uv run",
}  # fmt: skip

# Commands the docs tell the reader not to run.
NOT_TO_RUN = {
    "flask db init",  # "Do not run `flask db init`: `migrations/` is already set up."
}

# Each command of every baked README (all of COMBINATIONS) and of the template's README: the
# test that runs it, and what in that test's source shows it does (the command's arguments, or
# the README section it reads them from).
COVERED = {
    # Quick start; the server lines are the test's parameters, postgresql and mysql.
    "python -m venv .venv && . .venv/bin/activate": (
        "tests/test_install.py::test_pip_install_with_the_dev_group_gives_working_alembic_and_pytest",
        '"-m", "venv", ".venv"',
    ),
    "python -m pip install --upgrade pip": (
        "tests/test_install.py::test_pip_install_with_the_dev_group_gives_working_alembic_and_pytest",
        '"install", "--quiet", "--upgrade", "pip"',
    ),
    "python -m pip install -e . --group dev": (
        "tests/test_install.py::test_pip_install_with_the_dev_group_gives_working_alembic_and_pytest",
        '"-e", ".", "--group", "dev"',
    ),
    "export DATABASE_URL=postgresql://user:password@localhost:5432/my_project": (
        "tests/test_readme_commands.py::test_a_server_project_migrates_and_tests_as_its_readme_says",
        '"## Quick start"',
    ),
    "export TEST_DATABASE_URL=postgresql://user:password@localhost:5432/postgres": (
        "tests/test_readme_commands.py::test_a_server_project_migrates_and_tests_as_its_readme_says",
        '"## Quick start"',
    ),
    "export DATABASE_URL=mysql://user:password@localhost:3306/my_project": (
        "tests/test_readme_commands.py::test_a_server_project_migrates_and_tests_as_its_readme_says",
        '"## Quick start"',
    ),
    "export TEST_DATABASE_URL=mysql://user:password@localhost:3306/mysql": (
        "tests/test_readme_commands.py::test_a_server_project_migrates_and_tests_as_its_readme_says",
        '"## Quick start"',
    ),
    'psql "$TEST_DATABASE_URL" -c "CREATE DATABASE my_project"': (
        "tests/test_readme_commands.py::test_a_server_project_migrates_and_tests_as_its_readme_says",
        "on_the_test_server(create, admin)",
    ),
    "mysql -h localhost -P 3306 --protocol=tcp -u user -ppassword "
    '-e "CREATE DATABASE my_project CHARACTER SET utf8mb4"': (
        "tests/test_readme_commands.py::test_a_server_project_migrates_and_tests_as_its_readme_says",
        "on_the_test_server(create, admin)",
    ),
    "alembic upgrade head": (
        "tests/test_alembic_cli.py::test_the_everyday_commands_walk_the_history_on_the_default_sqlite_file",
        '"alembic", "upgrade", "head"',
    ),
    "python -m tests.migrations.squash <revision>": (
        "tests/test_squash.py::test_the_shipped_history_squashes_into_a_baseline_that_builds_the_same_schema",
        '"### Squashing the history into a baseline"',
    ),
    "pytest": (
        "tests/test_install.py::test_pip_install_with_the_dev_group_gives_working_alembic_and_pytest",
        'project.run("pytest"',
    ),
    "uv sync": (
        "tests/test_readme_commands.py::test_the_uv_quick_start_migrates_and_passes",
        '"uv sync"',
    ),
    "uv run alembic upgrade head": (
        "tests/test_readme_commands.py::test_the_uv_quick_start_migrates_and_passes",
        '"uv run alembic upgrade head"',
    ),
    "uv run pytest": (
        "tests/test_readme_commands.py::test_the_uv_quick_start_migrates_and_passes",
        '"uv run pytest"',
    ),
    # Everyday workflow.
    'alembic revision --autogenerate -m "add products"': (
        "tests/test_autogenerate.py::test_a_new_model_module_becomes_a_revision_with_named_constraints",
        'autogenerate(project, "add products")',
    ),
    "alembic heads": (
        "tests/test_readme_commands.py::test_two_heads_are_joined_by_the_readme_commands",
        '"### Two heads"',
    ),
    'alembic merge heads -m "merge products and orders"': (
        "tests/test_readme_commands.py::test_two_heads_are_joined_by_the_readme_commands",
        '"### Two heads"',
    ),
    "alembic downgrade -1": (
        "tests/test_alembic_cli.py::test_the_everyday_commands_walk_the_history_on_the_default_sqlite_file",
        '"alembic", "downgrade", "-1"',
    ),
    "alembic upgrade +1": (
        "tests/test_alembic_cli.py::test_the_everyday_commands_walk_the_history_on_the_default_sqlite_file",
        '"alembic", "upgrade", "+1"',
    ),
    "alembic history --verbose": (
        "tests/test_alembic_cli.py::test_the_everyday_commands_walk_the_history_on_the_default_sqlite_file",
        '"alembic", "history", "--verbose"',
    ),
    "alembic upgrade head --sql": (
        "tests/test_alembic_cli.py::test_offline_sql_is_rendered_without_creating_the_database",
        '"alembic", "upgrade", "head", "--sql"',
    ),
    # Flask (the flask variants).
    "flask db upgrade": (
        "tests/test_flask.py::test_flask_db_and_alembic_walk_the_same_history_on_the_same_database",
        'project.run("flask", "db", "upgrade")',
    ),
    "flask db downgrade": (
        "tests/test_flask.py::test_flask_db_and_alembic_walk_the_same_history_on_the_same_database",
        'project.run("flask", "db", "downgrade")',
    ),
    "flask db current": (
        "tests/test_flask.py::test_flask_db_and_alembic_walk_the_same_history_on_the_same_database",
        'current(project, "flask", "db")',
    ),
    "flask db history": (
        "tests/test_flask.py::test_flask_db_and_alembic_walk_the_same_history_on_the_same_database",
        'project.run("flask", "db", "history")',
    ),
    "alembic history": (
        "tests/test_flask.py::test_flask_db_and_alembic_walk_the_same_history_on_the_same_database",
        'project.run("alembic", "history")',
    ),
    "flask db check": (
        "tests/test_flask.py::test_flask_db_migrate_writes_a_formatted_revision_for_a_new_model_and_none_without_one",
        'project.run("flask", "db", "check")',
    ),
    'flask db migrate -m "add products"': (
        "tests/test_flask.py::test_flask_db_migrate_writes_a_formatted_revision_for_a_new_model_and_none_without_one",
        'project.run("flask", "db", "migrate", "-m", "add products")',
    ),
    "flask --app my_project.app db current": (
        "tests/test_flask.py::test_flask_db_and_alembic_walk_the_same_history_on_the_same_database",
        '"flask", "--app", "my_project.app", "db", "current"',
    ),
    # FastAPI (the fastapi variants): the section's blocks, served for real.
    "uvicorn my_project.app:app": (
        "tests/test_fastapi.py::test_uvicorn_serves_the_app_whose_health_follows_the_migrations_it_never_runs",
        "[[upgrade, serve], _] = fastapi_section(project)",
    ),
    "fastapi run": (
        "tests/test_fastapi.py::test_fastapi_run_serves_the_app_that_pyproject_names",
        "[_, [run]] = fastapi_section(project)",
    ),
    # Containers: each block of the section, run line by line with podman answering `docker`.
    "docker build -t my-project .": (
        "tests/test_containers.py::test_alembic_runs_in_the_container_through_docker_exec",
        "deployment.blocks[0]",
    ),
    "docker run -d --name my-project -v my-project-data:/app/data my-project": (
        "tests/test_containers.py::test_alembic_runs_in_the_container_through_docker_exec",
        "deployment.blocks[0]",
    ),
    "docker run -d --name my-project -e DATABASE_URL my-project": (
        "tests/test_containers.py::test_alembic_runs_in_the_container_through_docker_exec",
        "deployment.blocks[0]",
    ),
    "docker exec my-project alembic upgrade head": (
        "tests/test_containers.py::test_alembic_runs_in_the_container_through_docker_exec",
        "deployment.blocks[0]",
    ),
    "docker exec my-project alembic current": (
        "tests/test_containers.py::test_alembic_runs_in_the_container_through_docker_exec",
        "deployment.blocks[0]",
    ),
    "docker exec my-project alembic history --verbose": (
        "tests/test_containers.py::test_alembic_runs_in_the_container_through_docker_exec",
        "deployment.blocks[0]",
    ),
    "docker exec my-project alembic downgrade -1": (
        "tests/test_containers.py::test_alembic_runs_in_the_container_through_docker_exec",
        "deployment.blocks[0]",
    ),
    "docker build --build-arg DEV=true -t my-project:dev .": (
        "tests/test_containers.py::test_a_revision_autogenerated_in_the_dev_container_lands_in_the_checkout",
        "deployment.blocks[1]",
    ),
    "mkdir -p data": (
        "tests/test_containers.py::test_a_revision_autogenerated_in_the_dev_container_lands_in_the_checkout",
        "deployment.blocks[1]",
    ),
    'docker run -d --name my-project-dev --user "$(id -u):$(id -g)" '
    '-v "$PWD/migrations:/app/migrations" -v "$PWD/data:/app/data" my-project:dev': (
        "tests/test_containers.py::test_a_revision_autogenerated_in_the_dev_container_lands_in_the_checkout",
        "deployment.blocks[1]",
    ),
    'docker run -d --name my-project-dev --user "$(id -u):$(id -g)" '
    '-v "$PWD/migrations:/app/migrations" -e DATABASE_URL my-project:dev': (
        "tests/test_containers.py::test_a_revision_autogenerated_in_the_dev_container_lands_in_the_checkout",
        "deployment.blocks[1]",
    ),
    "docker exec my-project-dev alembic upgrade head": (
        "tests/test_containers.py::test_a_revision_autogenerated_in_the_dev_container_lands_in_the_checkout",
        "deployment.blocks[1]",
    ),
    'docker exec my-project-dev alembic revision --autogenerate -m "add products"': (
        "tests/test_containers.py::test_a_revision_autogenerated_in_the_dev_container_lands_in_the_checkout",
        "deployment.blocks[1]",
    ),
    "export DATABASE_PASSWORD='choose-one'": (
        "tests/test_containers.py::test_compose_migrates_once_before_the_app_starts_and_again_changes_nothing",
        "deployment.blocks[2]",
    ),
    "flask run": (  # the Flask image's command, answering HTTP once compose has migrated
        "tests/test_containers.py::test_compose_migrates_once_before_the_app_starts_and_again_changes_nothing",
        "answers_http(deployment.port)",
    ),
    "docker compose up -d --build": (
        "tests/test_containers.py::test_compose_migrates_once_before_the_app_starts_and_again_changes_nothing",
        "deployment.blocks[2]",
    ),
    "docker compose logs migrate": (
        "tests/test_containers.py::test_compose_migrates_once_before_the_app_starts_and_again_changes_nothing",
        "deployment.blocks[2]",
    ),
    "docker compose exec app alembic current": (
        "tests/test_containers.py::test_compose_migrates_once_before_the_app_starts_and_again_changes_nothing",
        "deployment.blocks[2]",
    ),
    # Tests.
    "ruff check .": (
        "tests/test_generated_quality.py::test_the_baked_project_passes",
        '"ruff-check": ("ruff", "check", ".")',
    ),
    "ruff format --check .": (
        "tests/test_generated_quality.py::test_the_baked_project_passes",
        '"ruff-format": ("ruff", "format", "--check", ".")',
    ),
    "mypy": (
        "tests/test_generated_quality.py::test_the_baked_project_passes",
        '"mypy": ("mypy",)',
    ),
    'python -m pip install "psycopg[binary]"': (
        "tests/test_readme_commands.py::test_a_sqlite_project_tests_on_a_postgresql_server_as_the_readme_says",
        '"### Testing against a database server"',
    ),
    "TEST_DATABASE_URL=postgresql+psycopg://me@localhost/postgres pytest": (
        "tests/test_readme_commands.py::test_a_sqlite_project_tests_on_a_postgresql_server_as_the_readme_says",
        '"### Testing against a database server"',
    ),
    "TEST_DATABASE_URL=postgresql://me@localhost/postgres pytest": (
        "tests/test_readme_commands.py::test_a_server_project_migrates_and_tests_as_its_readme_says",
        '"### Testing against a database server"',
    ),
    "TEST_DATABASE_URL=mysql://me@localhost/mysql pytest": (
        "tests/test_readme_commands.py::test_a_server_project_migrates_and_tests_as_its_readme_says",
        '"### Testing against a database server"',
    ),
    # Deploying.
    "cp .env.example .env": (
        "tests/test_readme_commands.py::test_the_local_env_file_is_read_and_the_real_environment_wins",
        '"### Local, staging, production"',
    ),
    # Adopting this env.py in an existing project.
    "alembic init migrations": (
        "tests/test_adoption.py::start_the_shop",
        '"alembic", "init", "migrations"',
    ),
    'pip install "pydantic-settings>=2.6"': (
        "tests/test_adoption.py::test_an_alembic_init_project_keeps_its_revision_and_takes_its_url_from_the_environment",
        "steps.requirement",
    ),
    "alembic current": (
        "tests/test_adoption.py::test_an_alembic_init_project_keeps_its_revision_and_takes_its_url_from_the_environment",
        '"alembic", "current"',
    ),
    "alembic check": (
        "tests/test_adoption.py::test_an_alembic_init_project_keeps_its_revision_and_takes_its_url_from_the_environment",
        '"alembic", "check"',
    ),
    'alembic revision --autogenerate -m "name constraints by the convention"': (
        "tests/test_adoption.py::test_a_history_written_without_a_naming_convention_builds_a_fresh_database_after_adopting",
        "shop.run(*rename, env=existing)",
    ),
    # Template updates.
    "pip install cruft": (
        "tests/test_updates.py::run",
        "The cruft of `pip install cruft`",
    ),
    "cruft create <template git URL>": (
        "tests/test_updates.py::test_a_project_created_with_cruft_takes_the_next_template_commit",
        'f"cruft create {template}',
    ),
    "git log -1 --format=%H --before=<the date of the bake>": (
        "tests/test_updates.py::test_a_project_baked_with_cookiecutter_links_to_its_commit_and_takes_the_next",
        'the_inline_command(project, "git log")',
    ),
    "cruft link <template git URL> --checkout <commit> --no-input --extra-context "
    '"$(cat .cookiecutter.json)"': (
        "tests/test_updates.py::test_a_project_baked_with_cookiecutter_links_to_its_commit_and_takes_the_next",
        'the_command(project, "cruft link")',
    ),
    'git add .cruft.json && git commit -m "Link the project to its template"': (
        "tests/test_updates.py::test_a_project_baked_with_cookiecutter_links_to_its_commit_and_takes_the_next",
        'the_command(project, "git add .cruft.json")',
    ),
    "cruft check": (
        "tests/test_updates.py::update",
        'the_command(project, "cruft check")',
    ),
    "cruft update --skip-apply-ask": (
        "tests/test_updates.py::update",
        'the_command(project, "cruft update")',
    ),
    "git diff HEAD": (
        "tests/test_updates.py::update",
        'the_command(project, "git diff HEAD")',
    ),
    "alembic check && pytest": (
        "tests/test_updates.py::test_a_project_created_with_cruft_takes_the_next_template_commit",
        'the_command(project, "alembic check && pytest")',
    ),
    "cruft diff": (
        "tests/test_updates.py::test_a_project_baked_with_cookiecutter_links_to_its_commit_and_takes_the_next",
        'the_inline_command(project, "cruft diff")',
    ),
    # The template's README.
    "python3 dev.py demo": (
        "tests/test_readme_commands.py::test_the_demo_bakes_the_default_project_and_migrates_it",
        '"python3 dev.py demo"',
    ),
    "python3 dev.py test": (".ci/run", "exec python3 dev.py test"),  # CI runs it
    "cruft create https://github.com/<org>/<repo>": (
        "tests/test_updates.py::test_a_project_created_with_cruft_takes_the_next_template_commit",
        'f"cruft create {template}',
    ),
}


def program_of(command: str) -> str:
    """The program a command line runs: its first word after any NAME=value assignments."""
    words = command.split()
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", words[0]):
        words.pop(0)
    return words[0] if words else ""


def inline_commands(readme: str) -> list[str]:
    """The commands the README gives as `code` in its prose and tables, in order."""
    prose = re.sub(r"^ *```.*?^ *```", "", readme, flags=re.DOTALL | re.MULTILINE)
    broken = [line for line in prose.splitlines() if line.count("`") % 2]
    assert broken == [], "a `code span` wrapped across lines, which this rule cannot see"
    spans = re.findall(r"`([^`\n]+)`", prose)
    return [span for span in spans if program_of(span) in PROGRAMS and span not in NAMES]


def readme_of(project: Project) -> str:
    return (project.path / "README.md").read_text(encoding="utf-8")


def source_of(test: str) -> str:
    """The source of the function ``path::name`` in the template's tests, with its decorators
    and the module-level constants it names; a path alone (CI's entry point) is read whole."""
    path, _, name = test.partition("::")
    source = (TEMPLATE_ROOT / path).read_text(encoding="utf-8")
    if not name:
        return source
    module = ast.parse(source)
    [function] = [
        node for node in ast.walk(module) if isinstance(node, ast.FunctionDef) and node.name == name
    ]
    start = min([function.lineno] + [decorator.lineno for decorator in function.decorator_list])
    named = {node.id for node in ast.walk(function) if isinstance(node, ast.Name)}
    constants = [
        ast.get_source_segment(source, node) or ""
        for node in module.body
        if isinstance(node, ast.Assign)
        and any(isinstance(target, ast.Name) and target.id in named for target in node.targets)
    ]
    lines = source.splitlines()[start - 1 : function.end_lineno]
    return "\n".join(["\n".join(lines), *constants])


def shell(
    project: Project, command: str, check: bool = True, env: Mapping[str, str] | None = None
) -> str:
    """Run a README command line as a shell would, in the project's virtualenv."""
    result = project.run("bash", "-c", command, env=env, check=check)
    return result.stdout + result.stderr


def test_every_documented_command_is_run_by_a_named_template_test(bake: BakeProject) -> None:
    baked = {name: readme_of(bake(**answers)) for name, answers in COMBINATIONS.items()}
    template_readme = (TEMPLATE_ROOT / "README.md").read_text(encoding="utf-8")
    # Each command, and the READMEs that give it.
    commands: dict[str, list[str]] = {}
    for name, readme in baked.items():
        for command in console_commands(readme) + inline_commands(readme):
            commands.setdefault(command, []).append(name)
    for command in console_commands(template_readme):
        commands.setdefault(command, []).append("the template's README")

    uncovered = {
        command: names
        for command, names in commands.items()
        if command not in COVERED.keys() | NOT_TO_RUN
    }
    assert uncovered == {}, "commands no test is known to run"
    assert (COVERED.keys() | NOT_TO_RUN) - commands.keys() == set(), "commands no README gives"
    for command, (test, evidence) in COVERED.items():
        assert evidence in source_of(test), f"{test} does not show it runs `{command}`"
    spans = {span for readme in baked.values() for span in re.findall(r"`([^`\n]+)`", readme)}
    for name in NAMES:
        assert name in spans, f"no README names `{name}` any more"
        assert any(command.startswith(f"{name} ") for command in commands), name


def test_the_uv_quick_start_migrates_and_passes(bake: BakeProject) -> None:
    project = bake()
    commands = inline_commands(section(readme_of(project), "## Quick start"))
    assert commands == ["uv sync", "uv run alembic upgrade head", "uv run pytest"]
    sync, upgrade, run_tests = commands
    # uv on PATH, but not the project's .venv: `uv run` has to find it. UV_PYTHON stands for
    # the reader's default interpreter: the one the tests run on.
    env = {
        "PATH": f"{Path(find_uv_bin()).parent}{os.pathsep}{os.environ['PATH']}",
        "UV_PYTHON": sys.executable,
    }

    shell(project, sync, env=env)
    shell(project, upgrade, env=env)
    with closing(sqlite3.connect(project.path / "my_project.sqlite3")) as database:
        [(version,)] = database.execute("SELECT version_num FROM alembic_version").fetchall()
    output = shell(project, run_tests, env=env)

    assert (project.path / ".venv").is_dir()
    assert version == HEAD
    assert re.search(r"\d+ passed", output), output
    assert "skipped" not in output, output


def on_the_test_server(command: str, admin: Server, database: str | None = None) -> str:
    """``command`` with its URL's user, password, host and port those of the tests' server,
    and its database ``database`` if given; the scheme stays as the README wrote it. The
    mysql client's -h, -P, -u and -p options name the tests' server too."""

    def moved(url: re.Match[str]) -> str:
        parts = urlsplit(url.group(0))
        path = f"/{database}" if database else parts.path
        return urlunsplit((parts.scheme, urlsplit(admin.url).netloc, path, "", ""))

    command = re.sub(r"\b[a-z][a-z0-9+]*://\S+", moved, command)
    if program_of(command) == "mysql":
        user, password = admin.login
        options = {"-h ": admin.host, "-P ": str(admin.port), "-u ": user}
        for option, value in options.items():
            command = re.sub(rf"(?<= ){option}\S+", f"{option}{shlex.quote(value)}", command)
        secret = f"-p{shlex.quote(password)}" if password else ""
        command = re.sub(r"(?<= )-p\S+", secret, command)
    return command


@pytest.mark.parametrize("database", ["postgresql", "mysql"])
def test_a_server_project_migrates_and_tests_as_its_readme_says(
    bake: BakeProject, database: str
) -> None:
    project = bake(database=database)
    readme = readme_of(project)
    *install, export_url, export_test_url, create, upgrade, run_tests = console_commands(
        readme, "## Quick start"
    )
    [on_a_server] = console_commands(readme, "### Testing against a database server")
    assert [program_of(line) for line in install] == ["python"] * 3  # test_install runs them
    assert export_url.startswith(f"export DATABASE_URL={database}://")
    assert export_test_url.startswith(f"export TEST_DATABASE_URL={database}://")
    # The server's client creates the database DATABASE_URL names, which is the project's.
    assert program_of(create) == {"postgresql": "psql", "mysql": "mysql"}[database]
    assert re.search(r'"CREATE DATABASE my_project\b', create)
    assert export_url.endswith("/my_project")
    assert (upgrade, run_tests) == ("alembic upgrade head", "pytest")
    assert re.fullmatch(rf"TEST_DATABASE_URL={database}://\S+ pytest", on_a_server)
    project.install()
    project.test_database_url = None  # the README's lines give it, or nothing does

    with server(SERVERS[database]) as admin:
        name = f"test_{uuid.uuid4().hex[:12]}"
        admin.databases.append(name)  # the README's command creates it; the server drops it
        quick_start = [
            on_the_test_server(export_url, admin, name),
            on_the_test_server(export_test_url, admin),
            on_the_test_server(create, admin).replace("my_project", name),
            upgrade,
            run_tests,
        ]
        assert quick_start[0].startswith(f"export DATABASE_URL={database}://")
        started = shell(project, "\n".join(["set -e", *quick_start]))
        tested = shell(project, on_the_test_server(on_a_server, admin))
        # The tests made databases of their own: the one DATABASE_URL names is still at head.
        version = admin.scalar("SELECT version_num FROM alembic_version", name)

    assert version == HEAD
    for output in (started, tested):
        assert re.search(r"\d+ passed", output), output
        assert "skipped" not in output, output


def test_the_demo_bakes_the_default_project_and_migrates_it(
    template_checkout: Path, tmp_path: Path
) -> None:
    readme = (TEMPLATE_ROOT / "README.md").read_text(encoding="utf-8")
    demo, _ = console_commands(readme, "## Quick start")
    assert demo == "python3 dev.py demo"
    # A copy of the template, since the demo writes into its build/. dev.py reuses a .venv
    # whose stamp matches requirements-test.txt: lend it the tests' own, stamp checked first,
    # since dev.py would otherwise rebuild it in place.
    template = tmp_path / "template"
    shutil.copytree(template_checkout, template)
    wanted = hashlib.sha256((template / "requirements-test.txt").read_bytes()).hexdigest()
    stamp = Path(sys.prefix, "requirements.sha256")
    assert stamp.is_file() and stamp.read_text() == wanted, "run the tests with dev.py test"
    (template / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    environment = {k: v for k, v in os.environ.items() if k not in FOREIGN_VARIABLES}
    environment["COOKIECUTTER_CONFIG"] = str(cookiecutter_config(tmp_path))  # no replay in ~

    result = subprocess.run(
        ["bash", "-c", demo],
        cwd=template,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Rev: {HEAD} (head)" in result.stdout
    assert re.search(r"^  users: id, email, ", result.stdout, re.MULTILINE), result.stdout
    assert "Done: build/my-project is migrated." in result.stdout
    assert (template / "build" / "my-project" / "my_project.sqlite3").is_file()


def test_two_heads_are_joined_by_the_readme_commands(project: Project) -> None:
    heads, merge, upgrade, run_tests = console_commands(readme_of(project), "### Two heads")
    assert (heads, upgrade, run_tests) == ("alembic heads", "alembic upgrade head", "pytest")
    assert merge.startswith("alembic merge heads -m ")
    # One branch adds the products model; another, from the same parent, a data step.
    project.run("alembic", "upgrade", "head")
    project.write("src/my_project/models/products.py", PRODUCTS)
    register_products(project)
    products = autogenerate(project, "add products")
    [products_id] = re.findall(r'^revision: str = "(\w+)"', products, re.M)
    plant_revision(
        project,
        "dddddddddddd",
        upgrade='    op.execute("UPDATE users SET email = lower(email)")',
        downgrade="    pass",
    )
    assert re.search(rf"^down_revision: .* = .{HEAD}.$", products, re.M)
    listed = shell(project, heads).splitlines()
    assert sorted(listed) == sorted([f"{products_id} (head)", "dddddddddddd (head)"])
    refused = project.run("alembic", "upgrade", "head", check=False)
    assert refused.returncode != 0
    assert "Multiple head revisions" in refused.stdout + refused.stderr
    tests = project.run("pytest", "-p", "no:cacheprovider", check=False)
    assert tests.returncode != 0
    assert "several heads" in tests.stdout

    before = set(project.revisions())
    shell(project, merge)
    [merge_file] = set(project.revisions()) - before
    merge_revision = merge_file.read_text(encoding="utf-8")
    assert products_id in merge_revision and "dddddddddddd" in merge_revision
    shell(project, upgrade)
    [merge_id] = re.findall(r'^revision: str = "(\w+)"', merge_revision, re.M)
    [merged_head] = project.run("alembic", "heads").stdout.splitlines()
    assert merged_head.startswith(f"{merge_id} (head)")
    assert f"{merge_id} (head)" in project.run("alembic", "current").stdout
    shell(project, f"{run_tests} -p no:cacheprovider")


def test_a_rename_written_as_the_readme_says_keeps_the_rows(project: Project) -> None:
    readme = readme_of(project)
    section = readme.split("\n### Review an autogenerated revision\n", 1)[1]
    [rename] = [
        textwrap.dedent(block)
        for block in re.findall(r"```python\n(.*?)```", section, re.DOTALL)
        if "new_column_name" in block
    ]
    project.run("alembic", "upgrade", "head")
    project.write("src/my_project/models/products.py", PRODUCTS)
    register_products(project)
    autogenerate(project, "add products")
    project.run("alembic", "upgrade", "head")
    with sqlite3.connect(project.path / "my_project.sqlite3") as database:
        database.executemany(
            "INSERT INTO products (sku, price_cents, legacy_code) VALUES (?, ?, ?)",
            [("a", 150, "L-1"), ("b", 275, None)],
        )
    database.close()
    project.write("src/my_project/models/products.py", PRODUCTS.replace("legacy_code", "code"))

    revision = autogenerate(project, "rename legacy_code to code")

    # What autogenerate sees: a drop and an add, which would lose the column's values.
    assert 'drop_column("legacy_code")' in revision
    assert 'add_column(sa.Column("code"' in revision
    [path] = [p for p in project.revisions() if "rename_legacy_code" in p.name]
    header = revision.split("\ndef upgrade()", 1)[0]
    path.write_text(f"{header}\n{rename}", encoding="utf-8")
    project.run("alembic", "upgrade", "head")
    with sqlite3.connect(project.path / "my_project.sqlite3") as database:
        rows = database.execute("SELECT sku, code FROM products ORDER BY sku").fetchall()
    database.close()
    assert rows == [("a", "L-1"), ("b", None)]
    assert "No new upgrade operations detected" in project.run("alembic", "check").stdout
    project.run("pytest", "-p", "no:cacheprovider")


def test_the_local_env_file_is_read_and_the_real_environment_wins(project: Project) -> None:
    [copy] = console_commands(readme_of(project), "### Local, staging, production")

    shell(project, copy)
    with (project.path / ".env").open("a", encoding="utf-8") as env_file:
        env_file.write("DATABASE_URL=sqlite:///local.sqlite3\n")
    project.run("alembic", "upgrade", "head")
    staging = {"DATABASE_URL": "sqlite:///staging.sqlite3"}
    project.run("alembic", "upgrade", "head", env=staging)

    assert (project.path / "local.sqlite3").exists()
    assert (project.path / "staging.sqlite3").exists()
    assert not (project.path / "my_project.sqlite3").exists()
    git("init", "--quiet", cwd=project.path)
    assert git("check-ignore", ".env", cwd=project.path).strip() == ".env"
    assert ".env.example" in git("status", "--porcelain", "--untracked-files=all", cwd=project.path)


def test_the_deploy_section_names_settings_that_exist(bake: BakeProject) -> None:
    project = bake()
    section = readme_of(project).split("\n## Deploying\n", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`(MIGRATION_\w+)`", section))
    settings = (project.package / "settings.py").read_text(encoding="utf-8")
    fields = {
        f"MIGRATION_{name.upper()}" for name in re.findall(r"^    (\w+): float", settings, re.M)
    }

    assert named == {"MIGRATION_LOCK_WAIT", "MIGRATION_LOCK_TIMEOUT", "MIGRATION_IDLE_TIMEOUT"}
    assert named <= fields
    assert console_commands(section, "### Run migrations once per deploy") == [
        "alembic upgrade head"
    ]


def test_a_sqlite_project_tests_on_a_postgresql_server_as_the_readme_says(
    bake: BakeProject,
) -> None:
    server = server_for("postgresql")
    assert server is not None
    project = bake()
    install, run_tests = console_commands(
        readme_of(project), "### Testing against a database server"
    )
    assert run_tests.startswith("TEST_DATABASE_URL=postgresql+psycopg://")
    project.run(sys.executable, "-m", "venv", ".venv")
    project.run("python", "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    project.run("python", "-m", "pip", "install", "--quiet", "-e", ".", "--group", "dev")

    shell(project, install)
    # The README's URL names a server of the reader's; this one names the tests' server.
    url = server.replace("postgresql://", "postgresql+psycopg://", 1)
    output = shell(
        project, re.sub(r"^TEST_DATABASE_URL=\S+", f"TEST_DATABASE_URL={url}", run_tests)
    )

    assert re.search(r"\d+ passed", output), output
    assert "skipped" not in output, output
