"""The bakes' Dockerfile and compose.yaml, run for real by the README's own `docker` commands.

podman answers for docker (runc, host networking, a stand-in base image: see tests/containers.py).
The official database images cannot be pulled here, so a compose override lets the machine's
servers stand in for the `db` service, as a managed database would, with a throwaway database
and user; everything else is the bake's own compose.yaml.
"""

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import Project, bake_with, server_for
from tests.containers import Engine, container_engine, events
from tests.project_edits import HEAD, PRODUCTS, register_products
from tests.readme import console_blocks
from tests.servers import Server, free_port, server

BEFORE_HEAD = "9a4e7c1d2b8f"
SHIPPED = ["6d1f0c2a9b3e", BEFORE_HEAD, HEAD]

# Raw, as DATABASE_PASSWORD takes it: compose must hand it over untouched.
PASSWORD = "p@ss:w/rd%?#é 'quoted' 50%"

# One bake per database: the SQLite one runs the placeholder, the others serve a web app, Flask
# with `flask run` and FastAPI (async) with uvicorn.
VARIANTS = {
    "sqlite": {"database": "sqlite"},
    "postgresql-flask": {"database": "postgresql", "web_framework": "flask"},
    "mysql-fastapi-async": {"database": "mysql", "web_framework": "fastapi", "async_driver": True},
}
# The README's development-image block has one form for SQLite and one for servers.
DEV_VARIANTS = ["sqlite", "postgresql-flask"]
# Where each web framework's server takes its port from: the tests give it a free one.
PORT_VARIABLES = ("FLASK_RUN_PORT", "UVICORN_PORT")


@dataclass
class Deployment:
    """A bake with its README's container commands ready to run, and its databases."""

    project: Project
    engine: Engine
    environment: dict[str, str]
    admin: Server | None
    database: str | None
    port: int

    @property
    def blocks(self) -> list[list[str]]:
        readme = (self.project.path / "README.md").read_text(encoding="utf-8")
        return console_blocks(readme, "### Containers")

    def shell(self, command: str) -> str:
        """Run a README line as a shell would; what it printed."""
        result = self.engine.run("bash", "-c", command, cwd=self.project.path, env=self.environment)
        return result.stdout + result.stderr

    def tables(self, sqlite_file: Path | None = None) -> set[str]:
        """The tables of the database the containers were given (or of ``sqlite_file``)."""
        if sqlite_file is not None:
            with sqlite3.connect(sqlite_file) as connection:
                rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                return {name for (name,) in rows}
        assert self.admin is not None and self.database is not None
        schema = "public" if self.admin.backend == "postgresql" else self.database
        rows = self.admin.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (schema,),
            database=self.database,
        )
        return {name for (name,) in rows}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with container_engine(tmp_path_factory.mktemp("podman")) as engine:
        yield engine


@pytest.fixture(scope="module", params=VARIANTS, ids=VARIANTS)
def deployment(
    request: pytest.FixtureRequest,
    engine: Engine,
    cookies_session: object,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Deployment]:
    answers = VARIANTS[request.param]
    project = bake_with(cookies_session, answers)
    plant_local_files(project.path)
    # The user's new model, there before the first build: the images hold the package.
    project.write("src/my_project/models/products.py", PRODUCTS)
    register_products(project)
    work = tmp_path_factory.mktemp("docker")
    port = free_port()
    url = server_for(answers["database"])
    with server(url) if url else nullcontext() as admin:
        environment = dict.fromkeys(PORT_VARIABLES, str(port))
        compose_database: dict[str, str] = {}
        database = None
        if admin is not None:
            # `docker run -e DATABASE_URL` takes the shell's; compose builds its own from parts.
            database = admin.create_database()
            environment["DATABASE_URL"] = admin.url_for(database, *admin.login)
            user = admin.create_user(PASSWORD)
            compose_database = {
                "DATABASE_HOST": admin.host,
                "DATABASE_PORT": str(admin.port),
                "DATABASE_USER": user,
                "DATABASE_NAME": admin.create_database(owner=user),
            }
            if admin.backend == "postgresql":
                admin.execute(
                    f"GRANT ALL ON SCHEMA public TO {user}",
                    database=compose_database["DATABASE_NAME"],
                )
        override = work / "compose.override.yaml"
        override.write_text(compose_override(engine.python_image, compose_database, port))
        # Host networking: a web app in `docker run` takes any free port rather than 8000.
        shim = engine.docker(work, override, [f"--env={name}=0" for name in PORT_VARIABLES])
        environment["PATH"] = f"{shim}{os.pathsep}{os.environ['PATH']}"
        yield Deployment(project, engine, environment, admin, database, port)
        engine.run(
            "bash", "-c", "docker compose down -v -t 0",
            cwd=project.path, env={**environment, "DATABASE_PASSWORD": PASSWORD}, check=False,
        )  # fmt: skip
        engine.remove(
            containers=["my-project", "my-project-dev"], images=["my-project", "my-project:dev"]
        )
        engine.podman("volume", "rm", "--force", "my-project-data", check=False)


def compose_override(python_image: str, database: dict[str, str], port: int) -> str:
    """Host networking, the stand-in base image, and the machine's server standing in for db."""
    environment = "".join(f"      {key}: '{value}'\n" for key, value in database.items())
    environment += "".join(f"      {name}: '{port}'\n" for name in PORT_VARIABLES)
    text = f"""\
services:
  migrate:
    build:
      args:
        PYTHON_IMAGE: {python_image}
    network_mode: host
    environment:
{environment}"""
    if database:
        text += "    depends_on: !reset {}\n  db:\n    profiles: [the-machines-server-stands-in]\n"
    text += f"  app:\n    network_mode: host\n    environment:\n{environment}"
    return text


def test_the_image_holds_the_installed_project_and_none_of_the_local_files(
    deployment: Deployment,
) -> None:
    build = deployment.blocks[0][0]
    assert build == "docker build -t my-project ."
    deployment.shell(build)
    engine = deployment.engine
    user = engine.podman("image", "inspect", "--format", "{{.Config.User}}", "my-project")
    assert user.stdout.strip() == "10001"
    probe = engine.podman(
        "run", "--rm", "my-project", "sh", "-c",
        "id -u; python -c 'import my_project; print(my_project.__file__)';"
        " find / -xdev \\( -name .env -o -name '*.sqlite3' -o -name .venv"
        " -o -name '__editable__*' -o -path '/app/*__pycache__' \\) -print;"
        " python -c 'import ruff' 2>&1 | tail -1",
    ).stdout.splitlines()  # fmt: skip
    assert probe[0] != "0"
    assert probe[1].startswith("/opt/venv/lib/") and probe[1].endswith("/my_project/__init__.py")
    assert probe[2:] == ["ModuleNotFoundError: No module named 'ruff'"]


def test_alembic_runs_in_the_container_through_docker_exec(deployment: Deployment) -> None:
    build, start, upgrade, current, history, downgrade = deployment.blocks[0]
    assert upgrade == "docker exec my-project alembic upgrade head"
    assert downgrade == "docker exec my-project alembic downgrade -1"
    deployment.shell(build)
    deployment.shell(start)
    assert "Running upgrade" in deployment.shell(upgrade)
    assert f"{HEAD} (head)" in deployment.shell(current)
    listed = deployment.shell(history)
    assert all(f"Rev: {revision}" in listed for revision in SHIPPED)
    deployment.shell(downgrade)
    assert BEFORE_HEAD in deployment.shell(current) and HEAD not in deployment.shell(current)
    if deployment.admin is not None:
        assert "alembic_version" in deployment.tables()


@pytest.mark.parametrize("deployment", DEV_VARIANTS, indirect=True)
def test_a_revision_autogenerated_in_the_dev_container_lands_in_the_checkout(
    deployment: Deployment,
) -> None:
    *starting, upgrade, autogenerate, upgrade_again = deployment.blocks[1]
    assert autogenerate == (
        'docker exec my-project-dev alembic revision --autogenerate -m "add products"'
    )
    for line in starting:
        deployment.shell(line)
    deployment.shell(upgrade)
    before = set(deployment.project.revisions())
    deployment.shell(autogenerate)
    [new] = set(deployment.project.revisions()) - before
    assert new.stat().st_uid == os.getuid()
    assert 'op.create_table(\n        "products"' in new.read_text(encoding="utf-8")
    # Formatted in the container with the project's ruff settings, as on the host.
    subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", str(new)],
        cwd=deployment.project.path,
        check=True,
    )
    assert "Running upgrade" in deployment.shell(upgrade_again)
    sqlite_file = deployment.project.path / "data" / "my_project.sqlite3"
    tables = deployment.tables(sqlite_file if deployment.admin is None else None)
    assert "products" in tables


def test_compose_migrates_once_before_the_app_starts_and_again_changes_nothing(
    deployment: Deployment,
) -> None:
    *password, up, logs, current = deployment.blocks[2]
    assert up == "docker compose up -d --build"
    if deployment.admin is not None:
        [export] = password
        assert export.startswith("export DATABASE_PASSWORD=")
        deployment.environment["DATABASE_PASSWORD"] = PASSWORD  # the user's own, odd characters
    engine = deployment.engine
    migrate, app = "my-project_migrate_1", "my-project_app_1"
    head = newest_revision(deployment.project)

    since = timestamp()
    deployment.shell(up)
    engine.podman("wait", migrate, timeout=120)
    lifecycle = [
        (name, status)
        for name, status in events(engine, since, [migrate, app])
        if status in ("start", "died")
    ]
    assert lifecycle.index((migrate, "died")) < lifecycle.index((app, "start")), lifecycle
    assert exit_code(engine, migrate) == 0
    assert "Running upgrade" in deployment.shell(logs)
    assert f"{head} (head)" in deployment.shell(current)
    if deployment.project.context["web_framework"] == "flask":
        assert answers_http(deployment.port)
    elif deployment.project.context["web_framework"] == "fastapi":
        # uvicorn, the image's command, serves the app on the database compose migrated.
        assert answers_http(deployment.port)
        with urllib.request.urlopen(f"http://127.0.0.1:{deployment.port}/health") as health:
            assert json.load(health) == {
                "status": "ok", "reason": None, "current": [head], "pending": [],
            }  # fmt: skip
    else:
        assert running(engine, app)

    # What the migrate container printed before: the second run's output follows it. (A time
    # window would hold the end of the first run too, when it ended a second before.)
    first = engine.podman("logs", migrate)
    deployment.shell(up)
    engine.podman("wait", migrate, timeout=120)
    assert exit_code(engine, migrate) == 0
    both = engine.podman("logs", migrate)
    rerun = both.stdout.removeprefix(first.stdout) + both.stderr.removeprefix(first.stderr)
    assert "Running upgrade" not in rerun
    assert f"{head} (head)" in deployment.shell(current)


def plant_local_files(project: Path) -> None:
    """What a developer's checkout holds that must never enter an image."""
    (project / ".env").write_text("DATABASE_URL=postgresql://me:local-secret@localhost/dev\n")
    (project / "my_project.sqlite3").write_bytes(b"local database")
    (project / ".venv").mkdir()
    (project / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    cache = project / "src" / "my_project" / "__pycache__"
    cache.mkdir()
    (cache / "settings.cpython-311.pyc").write_bytes(b"")


def newest_revision(project: Project) -> str:
    text = project.revisions()[-1].read_text(encoding="utf-8")
    [revision] = re.findall(r'^revision: str = "(\w+)"', text, re.MULTILINE)
    return revision


def timestamp() -> str:
    """Now, a second early, as podman's --since takes it."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))


def exit_code(engine: Engine, container: str) -> int:
    return int(engine.podman("inspect", "--format", "{{.State.ExitCode}}", container).stdout)


def running(engine: Engine, container: str) -> bool:
    state = engine.podman("inspect", "--format", "{{.State.Running}}", container).stdout
    return state.strip() == "true"


def answers_http(port: int) -> bool:
    """Whether something answers HTTP on ``port`` within 30 seconds (any status will do)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
            return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            time.sleep(0.5)
    return False
