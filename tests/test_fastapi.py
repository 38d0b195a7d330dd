"""A FastAPI project served for real: uvicorn and `fastapi run` as its README says, /health
following the migrations on a live PostgreSQL, and the files only FastAPI projects have.

The baked project's own tests cover its routes and health check through ASGITransport; these
check what they cannot: a real server process, its lifespan, and the README's commands.
"""

import json
import shlex
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest

from tests.conftest import BakeProject, Project
from tests.network import silent_server
from tests.readme import console_blocks
from tests.servers import Server, free_port, new_database, server

SHIPPED = ["6d1f0c2a9b3e", "9a4e7c1d2b8f", "c3b5d7e9f1a2"]
# The async PostgreSQL bake: the combination the README recommends, on a live server.
COMBINATION = "postgresql-fastapi-async"
# The baked app's HEALTH_TIMEOUT, and what a loaded machine may add to it.
HEALTH_TIMEOUT = 3
SLACK = 3
# Connections in a baked engine's pool: SQLAlchemy's default pool_size and max_overflow.
POOL = 5 + 10

Answer = tuple[int, dict[str, Any]]


def get(port: int, path: str, body: dict[str, Any] | None = None) -> Answer:
    """The status and JSON body of a request to 127.0.0.1:``port`` (a POST with ``body``)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


@contextmanager
def serving(
    project: Project, command: str, port: int, env: Mapping[str, str]
) -> Iterator[Callable[[], str]]:
    """Run a README command line that starts a server on ``port``; wait (at most a minute)
    until it answers, and stop it at the end. Yields what gives the server's output so far,
    once it has stopped."""
    process = project.start(*shlex.split(command), env=env)
    output: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"`{command}` exited {process.returncode}:\n{process.communicate()[0]}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/docs", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"`{command}` did not answer on port {port} within a minute")
                time.sleep(0.2)
        yield lambda: "".join(output)
    finally:
        process.terminate()
        try:
            output.append(process.communicate(timeout=30)[0])
        except subprocess.TimeoutExpired:
            process.kill()
            output.append(process.communicate()[0])


@pytest.fixture(scope="module")
def project(baked: Callable[[str], Project]) -> Project:
    return baked(COMBINATION)


@pytest.fixture
def admin(project: Project) -> Iterator[Server]:
    assert project.test_database_url is not None
    with server(project.test_database_url) as admin:
        yield admin


def fastapi_section(project: Project) -> list[list[str]]:
    readme = (project.path / "README.md").read_text(encoding="utf-8")
    return console_blocks(readme, "### FastAPI")


def test_uvicorn_serves_the_app_whose_health_follows_the_migrations_it_never_runs(
    project: Project, admin: Server
) -> None:
    [[upgrade, serve], _] = fastapi_section(project)
    assert (upgrade, serve) == ("alembic upgrade head", "uvicorn my_project.app:app")
    database, env = new_database(admin)
    port = free_port()
    env["UVICORN_PORT"] = str(port)  # uvicorn reads its options from UVICORN_* variables

    with serving(project, serve, port, env) as output:
        status, body = get(port, "/health")
        assert (status, body["current"], body["pending"]) == (503, [], SHIPPED)
        assert "behind head: 3 pending revision(s)" in body["reason"]
        tables = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        assert admin.scalar(tables, database) == 0  # the app migrated nothing

        project.run(*shlex.split(upgrade), env=env)
        assert get(port, "/health") == (
            200,
            {"status": "ok", "reason": None, "current": [SHIPPED[-1]], "pending": []},
        )
        status, user = get(port, "/users", {"email": "ada@example.com", "display_name": "Ada"})
        assert status == 201
        # Committed by the app's session policy: another connection reads it.
        emails = admin.execute("SELECT email FROM users", database=database)
        assert emails == [("ada@example.com",)]
        assert get(port, f"/users/{user['id']}/roles", {"name": "admin"})[1]["roles"] == ["admin"]
        assert get(port, "/users", {"email": "ada@example.com", "display_name": "A"})[0] == 409

    # The lifespan ran to its end (the engine disposed of) on the server's SIGTERM.
    assert "Application shutdown complete" in output()


def test_health_is_503_while_the_database_server_does_not_answer(project: Project) -> None:
    port = free_port()
    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"
    env = {"DATABASE_URL": dead, "UVICORN_PORT": str(port)}

    with serving(project, "uvicorn my_project.app:app", port, env):
        status, body = get(port, "/health")

    where = dead.replace("postgresql://", "postgresql+psycopg://")
    assert status == 503
    assert body["reason"].startswith(f"the database is not reachable: cannot connect to {where}: ")


def timed(port: int, path: str) -> tuple[int, str, float]:
    """The status, body and duration of ``GET path`` (its wait bounded by urllib's timeout)."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=20) as response:
            status, body = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read().decode()
    return status, body, time.monotonic() - started


# Async psycopg, whose connect the check cancels; sync PyMySQL, whose handshake only the
# driver's own timeouts can end (the worker thread running it cannot be stopped).
@pytest.mark.parametrize(
    ("combination", "driver"),
    [(COMBINATION, "postgresql+psycopg"), ("mysql-fastapi", "mysql+pymysql")],
    ids=["async", "sync"],
)
def test_health_is_503_within_its_time_limit_while_the_server_is_silent_and_stays_served(
    baked: Callable[[str], Project], combination: str, driver: str
) -> None:
    project = baked(combination)
    port = free_port()
    with silent_server() as silent:
        env = {
            "DATABASE_URL": f"{driver}://app:secret@127.0.0.1:{silent}/nowhere",
            "UVICORN_PORT": str(port),
        }
        with serving(project, "uvicorn my_project.app:app", port, env):
            # As many probes at once as the engine's pool has connections (5 + 10 overflow):
            # attempts that never ended would keep every slot.
            with ThreadPoolExecutor(POOL) as probes:
                answers = list(probes.map(lambda _: timed(port, "/health"), range(POOL)))
            # The abandoned sync attempts end a second after their 503s (PyMySQL's timeout starts
            # once the TCP connection is made). A route on the database then gets a slot at
            # once, and its attempt fails within the limit too: a 500, not a 30 s wait.
            time.sleep(2)
            status, body, took = timed(port, "/users")

    reason = (
        f"the database is not reachable: no answer within {HEALTH_TIMEOUT} s "
        f"from {driver}://app:***@127.0.0.1:{silent}/nowhere"
    )
    for code, text, seconds in answers:
        assert (code, json.loads(text)["reason"]) == (503, reason)
        assert seconds < HEALTH_TIMEOUT + SLACK
    assert (status, body) == (500, "Internal Server Error")
    assert took < 2 * HEALTH_TIMEOUT + SLACK


def test_fastapi_run_serves_the_app_that_pyproject_names(project: Project, admin: Server) -> None:
    [_, [run]] = fastapi_section(project)
    assert run == "fastapi run"
    _, env = new_database(admin)
    port = free_port()

    # The README's command, kept to the loopback interface and a free port.
    with serving(project, f"{run} --host 127.0.0.1 --port {port}", port, env):
        status, body = get(port, "/health")

    # This project's app, on the database the environment names, not migrated yet.
    assert (status, body["pending"]) == (503, SHIPPED)


def test_without_alembic_ini_the_app_does_not_start_and_says_where_it_looked(
    project: Project,
) -> None:
    missing = project.path / "elsewhere" / "alembic.ini"
    env = {"ALEMBIC_CONFIG": str(missing), "UVICORN_PORT": str(free_port())}

    result = project.run("timeout", "60", "uvicorn", "my_project.app:app", env=env, check=False)

    assert result.returncode not in (0, 124)
    assert f"ALEMBIC_CONFIG: no alembic.ini at {missing}" in result.stderr
    assert "Application startup failed" in result.stderr


FASTAPI_MODULES = ["app.py", "dependencies.py", "health.py", "routes.py", "schemas.py"]
TEMPLATE_ONLY = ["app_fastapi.py", "dependencies_async.py", "routes_async.py"]


@pytest.mark.parametrize("async_driver", [True, False], ids=["async", "sync"])
def test_a_fastapi_bake_has_one_module_of_each_and_none_of_another_framework(
    bake: BakeProject, async_driver: bool
) -> None:
    project = bake(web_framework="fastapi", async_driver=async_driver)
    package = project.package
    app = (package / "app.py").read_text(encoding="utf-8")
    routes = (package / "routes.py").read_text(encoding="utf-8")
    sessions = (project.path / "tests" / "app_sessions.py").read_text(encoding="utf-8")

    assert [name for name in FASTAPI_MODULES if not (package / name).is_file()] == []
    assert [path.name for path in project.path.rglob("*_async.py")] == []
    assert [name for name in TEMPLATE_ONLY if (package / name).exists()] == []
    assert not (project.path / "tests" / "test_app_fastapi.py").exists()
    assert "FastAPI" in app and "flask" not in app.lower()
    assert not (package / "extensions.py").exists() and not (project.path / ".flaskenv").exists()
    assert ("async def list_users" in routes) is async_driver
    assert ("async_sessionmaker" in sessions) is async_driver
    pyproject = (project.path / "pyproject.toml").read_text(encoding="utf-8")
    assert 'entrypoint = "my_project.app:app"' in pyproject
    assert '"fastapi-cli>=' in pyproject and '"uvicorn>=' in pyproject


def test_fastapi_without_the_example_models_keeps_only_the_health_route(
    bake: BakeProject,
) -> None:
    project = bake(web_framework="fastapi", example_models=False)
    app = (project.package / "app.py").read_text(encoding="utf-8")

    assert not (project.package / "routes.py").exists()
    assert not (project.package / "schemas.py").exists()
    assert "router" not in app
    assert '"/health"' in app


def test_projects_of_other_frameworks_have_no_fastapi_file(bake: BakeProject) -> None:
    for framework in ("none", "flask"):
        project = bake(web_framework=framework, project_slug=f"{framework}-project")
        package = project.package
        leftovers = [name for name in FASTAPI_MODULES + TEMPLATE_ONLY if (package / name).exists()]
        if framework == "flask":
            leftovers.remove("app.py")
        assert leftovers == [], framework
        assert not (project.path / "tests" / "app_sessions.py").exists()
        assert "fastapi" not in (project.path / "pyproject.toml").read_text(encoding="utf-8")
