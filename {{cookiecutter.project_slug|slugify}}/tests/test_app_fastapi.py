"""The FastAPI app through HTTP: its routes on a database the migrations built, and its health
check before and after migrating."""

import socket
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
{% if cookiecutter.database != "sqlite" %}
import anyio
{%- endif %}
import pytest
from alembic import command
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import URL, create_engine, pool{% if cookiecutter.example_models %}, text{% endif %}

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.settings import DatabaseSettings
from tests.app_sessions import sessions_rolled_back
from tests.conftest import NewDatabase, alembic_config_for, as_database_url
{%- if cookiecutter.example_models %}
from tests.migrations.runner import MigrationRunner
{%- endif %}

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def settings_for(url: URL) -> DatabaseSettings:
    """Settings naming ``url`` with the project's own driver, whatever the environment says."""
    return DatabaseSettings(_env_file=None, url=as_database_url(url))


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[AsyncClient]:
    """An HTTP client of ``app``, started and stopped around it as a server would do it
    (ASGITransport leaves the lifespan to its caller)."""
    async with app.router.lifespan_context(app):
        transport = ASGITransport(app=app)
        async with AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def health_of(url: URL) -> tuple[int, dict[str, Any]]:
    """What ``GET /health`` answers, status and body, for an app on ``url``."""
    async with serving(create_app(settings_for(url))) as client:
        response = await client.get("/health")
    return response.status_code, response.json()


@pytest.fixture(scope="session")
def migrated_database(new_database: NewDatabase) -> URL:
    """One database for the whole run, built by ``alembic upgrade head`` (never create_all)."""
    url = new_database()
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        command.upgrade(alembic_config_for(connection), "head")
    engine.dispose()
    return url


@pytest.fixture
async def client(migrated_database: URL) -> AsyncIterator[AsyncClient]:
    """The app on the run's database; whatever a test writes is rolled back after it."""
    settings = settings_for(migrated_database)
    app = create_app(settings)
    async with serving(app) as client, sessions_rolled_back(app, settings):
        yield client


async def test_health_is_200_on_a_database_at_head(client: AsyncClient) -> None:
    response = await client.get("/health")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["pending"] == []
{%- if cookiecutter.example_models %}


async def test_health_is_503_naming_the_pending_revisions_until_the_database_is_at_head(
    runner: MigrationRunner, database_url: URL
) -> None:
    revisions = [revision.revision for revision in runner.revisions()]
    *earlier, last = revisions

    status, body = await health_of(database_url)
    assert (status, body["current"], body["pending"]) == (503, [], revisions)
    assert f"{len(revisions)} pending revision(s), {', '.join(revisions)}" in body["reason"]

    runner.upgrade(earlier[-1])
    status, body = await health_of(database_url)
    assert (status, body["current"], body["pending"]) == (503, [earlier[-1]], [last])
    assert "behind head" in body["reason"] and "alembic upgrade head" in body["reason"]

    runner.upgrade("heads")
    status, body = await health_of(database_url)
    assert (status, body) == (
        200,
        {"status": "ok", "reason": None, "current": [last], "pending": []},
    )


async def test_health_is_503_on_a_database_migrated_by_newer_code(
    runner: MigrationRunner, database_url: URL
) -> None:
    runner.upgrade("heads")
    runner.connection.execute(text("UPDATE alembic_version SET version_num = 'f00dcafe1234'"))
    runner.connection.commit()

    status, body = await health_of(database_url)

    assert status == 503
    assert body["current"] == ["f00dcafe1234"]
    assert "f00dcafe1234, which migrations/ does not have" in body["reason"]
{%- else %}


async def test_health_is_200_on_an_empty_database_while_there_are_no_revisions(
    database_url: URL,
) -> None:
    assert await health_of(database_url) == (
        200,
        {"status": "ok", "reason": None, "current": [], "pending": []},
    )
{%- endif %}


async def test_health_is_503_when_the_database_is_not_reachable(
    database_url: URL, tmp_path: Path
) -> None:
    if database_url.get_backend_name() == "sqlite":
        unreachable = database_url.set(database=str(tmp_path / "no-such-directory" / "x.sqlite3"))
    else:
        with socket.socket() as probe:  # a port nothing listens on
            probe.bind(("127.0.0.1", 0))
            closed_port = probe.getsockname()[1]
        unreachable = database_url.set(host="127.0.0.1", port=closed_port)

    before = set(threading.enumerate())
    status, body = await health_of(unreachable)
    # aiosqlite stops its worker thread after a failed connect without waiting for it: let it
    # end while this test's event loop is open, or it reports to a closed loop, an error.
    for thread in set(threading.enumerate()) - before:
        if thread.name.endswith("(_connection_worker_thread)"):
            thread.join(timeout=10)

    assert status == 503
    assert body["reason"].startswith("the database is not reachable: cannot connect to ")
    assert body["current"] == body["pending"] == []
{%- if cookiecutter.database != "sqlite" %}


async def test_health_is_503_within_its_time_limit_while_the_server_never_answers(
    database_url: URL,
) -> None:
    # The kernel completes the connections to a listening port; nobody accepts or answers them.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        url = database_url.set(host="127.0.0.1", port=port, password="not-shown")
        app = create_app(settings_for(url), health_timeout=1)
        async with serving(app) as client:
            with anyio.fail_after(3):  # the limit, and time to spare
                response = await client.get("/health")
            # The attempt ends too, cancelled or by the driver's own connect timeout (2 s at
            # least on PostgreSQL), and leaves the pool as it was: empty.
            engine_pool = app.state.engine.pool
            with anyio.fail_after(10):
                while engine_pool.checkedout():
                    await anyio.sleep(0.1)
            assert engine_pool.checkedin() == 0

    assert response.status_code == 503
    reason = response.json()["reason"]
    assert reason.startswith("the database is not reachable: no answer within 1 s from ")
    assert f":***@127.0.0.1:{port}/" in reason and "not-shown" not in reason
{%- endif %}
{%- if cookiecutter.example_models %}


async def create_user(client: AsyncClient, email: str = "ada@example.com") -> dict[str, Any]:
    response = await client.post("/users", json={"email": email, "display_name": "Ada"})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_a_created_user_is_listed_and_fetched_with_the_defaults_the_database_set(
    client: AsyncClient,
) -> None:
    created = await create_user(client)

    assert created["email"] == "ada@example.com"
    assert created["is_active"] is True
    assert created["roles"] == []
    assert created["created_at"]
    assert (await client.get("/users")).json() == [created]
    assert (await client.get(f"/users/{created['id']}")).json() == created


@pytest.mark.parametrize("attempt", [1, 2])
async def test_each_test_starts_without_the_rows_of_the_others(
    client: AsyncClient, attempt: int
) -> None:
    assert (await client.get("/users")).json() == []
    await create_user(client, "same@example.com")  # a 409 the second time, had it stayed


async def test_a_second_user_with_the_same_email_is_409_and_the_first_is_kept(
    client: AsyncClient,
) -> None:
    first = await create_user(client)

    response = await client.post("/users", json={"email": "ada@example.com", "display_name": "B"})

    assert response.status_code == 409
    assert response.json() == {"detail": "a user with the email ada@example.com exists already"}
    assert (await client.get("/users")).json() == [first]


async def test_an_unknown_user_is_404_naming_it(client: AsyncClient) -> None:
    for response in (
        await client.get("/users/4242"),
        await client.post("/users/4242/roles", json={"name": "admin"}),
    ):
        assert response.status_code == 404
        assert response.json() == {"detail": "no user with id 4242"}


async def test_a_malformed_user_is_422_naming_each_bad_field(client: AsyncClient) -> None:
    response = await client.post(
        "/users", json={"email": "not-an-address", "display_name": "x" * 101, "admin": True}
    )

    assert response.status_code == 422
    problems = {tuple(error["loc"]): error["type"] for error in response.json()["detail"]}
    assert problems == {
        ("body", "email"): "string_pattern_mismatch",
        ("body", "display_name"): "string_too_long",
        ("body", "admin"): "extra_forbidden",
    }
    assert (await client.get("/users")).json() == []


async def test_a_user_is_given_roles_once_each(client: AsyncClient) -> None:
    user = await create_user(client)
    other = await create_user(client, "bo@example.com")

    given = await client.post(f"/users/{user['id']}/roles", json={"name": "admin"})
    assert given.status_code == 200
    assert given.json()["roles"] == ["admin"]
    # The role exists now: another user gets the same one.
    await client.post(f"/users/{other['id']}/roles", json={"name": "admin"})
    also = await client.post(f"/users/{other['id']}/roles", json={"name": "editor"})
    assert also.json()["roles"] == ["admin", "editor"]

    again = await client.post(f"/users/{user['id']}/roles", json={"name": "admin"})
    assert again.status_code == 409
    assert again.json() == {"detail": f"user {user['id']} holds the role admin already"}
    assert (await client.get(f"/users/{user['id']}")).json()["roles"] == ["admin"]
    too_long = await client.post(f"/users/{user['id']}/roles", json={"name": "r" * 51})
    assert too_long.status_code == 422
    assert too_long.json()["detail"][0]["loc"] == ["body", "name"]
{%- endif %}
