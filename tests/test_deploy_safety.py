"""Deploys are safe: any password works and never shows, failures are one clear line, replicas
take turns, waits are bounded, and a failed migration loses nothing."""

import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.alembic_many import alembic_many, failed_line
from tests.conftest import SERVERS, Project
from tests.project_edits import HEAD, SLOW_STATEMENT, plant_revision, planted, slow_first_revision
from tests.servers import Server, new_database, password_checking_postgresql, server

BEFORE_HEAD = "9a4e7c1d2b8f"

PASSWORDS = [
    "50%",
    "%(here)s",
    "p%40ss",
    "a@b",
    "a/b",
    "a:b",
    "a#b",
    "a?b",
    "a+b",
    "a=b",
    "a b",
    'quo"te',
    "apo'strophe",
    "back\\slash",
    "pässwörd密码",
    "***",
    "".join(chr(33 + i % 94) for i in range(200)),  # every printable ASCII character, 200 long
]


@pytest.fixture(scope="module")
def postgresql_project(baked: Callable[[str], Project]) -> Project:
    return baked("postgresql")


@pytest.fixture(scope="module")
def mysql_project(baked: Callable[[str], Project]) -> Project:
    return baked("mysql")


@pytest.fixture
def postgresql() -> Iterator[Server]:
    with server(SERVERS["postgresql"]) as admin:
        yield admin


@pytest.fixture
def mysql() -> Iterator[Server]:
    with server(SERVERS["mysql"]) as admin:
        yield admin


@pytest.fixture(scope="module")
def scram_postgresql() -> Iterator[str]:
    with password_checking_postgresql() as url:
        yield url


def as_parts(admin: Server, database: str, user: str, password: str) -> dict[str, str]:
    return {
        "DATABASE_HOST": admin.host,
        "DATABASE_PORT": str(admin.port),
        "DATABASE_USER": user,
        "DATABASE_PASSWORD": password,
        "DATABASE_NAME": database,
    }


def version_of(admin: Server, database: str) -> str | None:
    version: str | None = admin.scalar("SELECT version_num FROM alembic_version", database)
    return version


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_every_kind_of_password_authenticates_as_a_url_and_as_parts_and_never_shows(
    request: pytest.FixtureRequest, backend: str
) -> None:
    if backend == "postgresql":
        project = request.getfixturevalue("postgresql_project")
        context = server(request.getfixturevalue("scram_postgresql"))
    else:
        project = request.getfixturevalue("mysql_project")
        context = server(SERVERS["mysql"])
    with context as admin:
        accounts = []
        for password in PASSWORDS:
            user = admin.create_user(password)
            accounts.append((admin.create_database(owner=user), user, password))
        cases = []
        for database, user, password in accounts:
            url = {"DATABASE_URL": admin.url_for(database, user, password)}
            parts = as_parts(admin, database, user, password)
            cases += [
                {"env": url, "argv": ["upgrade", "head"]},
                {"env": url, "argv": ["upgrade", "head", "--sql"]},
                {"env": parts, "argv": ["upgrade", "head", "--sql"]},
                {"env": parts, "argv": ["current"]},
            ]
        wrong = {"DATABASE_URL": admin.url_for(accounts[0][0], accounts[0][1], "wrong-Pa55word")}
        cases.append({"env": wrong, "argv": ["current"]})

        results = alembic_many(project, cases)

        for index, (database, _user, password) in enumerate(accounts):
            online, offline_url, offline_parts, current = results[4 * index : 4 * index + 4]
            shown = repr(password[:20])
            assert online["code"] == 0, f"{shown}: {online['output']}"
            assert current["code"] == 0, f"{shown}: {current['output']}"
            assert f"{HEAD} (head)" in current["output"], shown
            assert version_of(admin, database) == HEAD, shown
            for offline in (offline_url, offline_parts):
                assert offline["code"] == 0, f"{shown}: {offline['output']}"
                assert "CREATE TABLE users" in offline["output"], shown
            # Short passwords such as "a b" occur in ordinary output ("a boolean"): each may
            # appear no more often than in the same command's output for another account.
            other = 4 * (1 if index == 0 else 0)
            for offset, result in enumerate((online, offline_url, offline_parts, current)):
                baseline = results[other + offset]["output"]
                assert result["output"].count(password) <= baseline.count(password), shown
        refused = results[-1]
        assert refused["code"] != 0
        assert refused["output"].startswith("FAILED: cannot connect to "), refused["output"]
        assert "wrong-Pa55word" not in refused["output"]
        assert len(refused["output"].strip().splitlines()) == 1


def one_line_failure(project: Project, env: dict[str, str], *argv: str) -> str:
    """Run alembic, expecting it to fail with one FAILED line beside its INFO progress lines."""
    result = project.run("alembic", *argv, env=env, check=False)
    return failed_line(result.returncode, result.stdout + result.stderr)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "DATABASE_URL is not set; set it to a URL such as postgresql://"),
        ({"DATABASE_URL": ""}, "DATABASE_URL is empty; give a URL such as"),
        ({"DATABASE_URL": "S3cr3tPw@db:5432/app"}, "DATABASE_URL is not a database URL"),
        ({"DATABASE_URL": "oracle+nope://u:S3cr3tPw@db/app"}, "DATABASE_URL names the driver"),
        (
            {"DATABASE_HOST": "db", "DATABASE_NAME": "app", "DATABASE_PORT": "54x32"},
            "DATABASE_PORT is not valid",
        ),
        (
            {"DATABASE_HOST": "db", "DATABASE_NAME": "app", "DATABASE_PASSWORD": ""},
            "DATABASE_PASSWORD is empty",
        ),
        (
            {"DATABASE_HOST": "db", "DATABASE_PASSWORD": "S3cr3tPw"},
            "DATABASE_NAME is not set but DATABASE_HOST is",
        ),
        (
            {"DATABASE_URL": "postgresql://u:S3cr3tPw@127.0.0.1:1/app"},
            "cannot connect to postgresql+psycopg://u:***@127.0.0.1:1/app: connection failed: "
            'connection to server at "127.0.0.1", port 1 failed: Connection refused',
        ),
        (
            {"DATABASE_URL": "postgresql://u:S3cr3tPw@no-such-host.invalid/app"},
            "cannot connect to postgresql+psycopg://u:***@no-such-host.invalid/app: ",
        ),
        (
            {"DATABASE_URL": "postgresql://u:S3cr3tPw@db/app", "MIGRATION_LOCK_WAIT": "soon"},
            "MIGRATION_LOCK_WAIT is not valid",
        ),
    ],
    ids=[
        "nothing-set",
        "empty-url",
        "no-scheme",
        "unknown-driver",
        "port-not-a-number",
        "empty-password",
        "parts-without-name",
        "closed-port",
        "unknown-host",
        "bad-lock-wait",
    ],
)
def test_a_bad_setting_or_unreachable_server_is_one_line_naming_it_without_the_password(
    postgresql_project: Project, env: dict[str, str], expected: str
) -> None:
    output = one_line_failure(postgresql_project, env, "upgrade", "head")

    assert output.startswith(f"FAILED: {expected}"), output
    assert "S3cr3tPw" not in output


def test_a_wrong_password_is_one_line_naming_the_user_without_the_password(
    postgresql_project: Project, scram_postgresql: str
) -> None:
    with server(scram_postgresql) as admin:
        user = admin.create_user("Right-Pa55word")
        database = admin.create_database(owner=user)
        env = {"DATABASE_URL": admin.url_for(database, user, "Wrong-Pa55word")}

        output = one_line_failure(postgresql_project, env, "current")

    assert f'password authentication failed for user "{user}"' in output
    assert "Pa55word" not in output


def test_heads_history_and_offline_sql_need_no_reachable_database(
    postgresql_project: Project,
) -> None:
    unreachable = {"DATABASE_URL": "postgresql://u:S3cr3tPw@127.0.0.1:1/app"}

    heads = postgresql_project.run("alembic", "heads", env={})
    history = postgresql_project.run("alembic", "history", env={})
    sql = postgresql_project.run("alembic", "upgrade", "head", "--sql", env=unreachable)
    back = postgresql_project.run("alembic", "downgrade", f"{HEAD}:base", "--sql", env=unreachable)

    assert heads.stdout.strip() == f"{HEAD} (head)"
    assert f"-> {HEAD} (head), add roles.scope" in history.stdout
    assert "CREATE TABLE users" in sql.stdout
    assert "DROP TABLE users" in back.stdout
    assert "S3cr3tPw" not in sql.stdout + sql.stderr + back.stdout + back.stderr


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_five_deploys_at_once_take_turns_and_apply_each_revision_once(
    request: pytest.FixtureRequest, backend: str
) -> None:
    project: Project = request.getfixturevalue(f"{backend}_project")
    admin: Server = request.getfixturevalue(backend)
    database, env = new_database(admin)
    sleep = "SELECT pg_sleep(2)" if backend == "postgresql" else "SELECT SLEEP(2)"

    with slow_first_revision(project, sleep):
        deploys = [project.start("alembic", "upgrade", "head", env=env) for _ in range(5)]
        outputs = [deploy.communicate(timeout=120)[0] for deploy in deploys]

    assert [deploy.returncode for deploy in deploys] == [0] * 5, outputs
    applied = [line for out in outputs for line in out.splitlines() if "Running upgrade" in line]
    assert len(applied) == 3, applied
    assert admin.scalar("SELECT COUNT(*) FROM alembic_version", database) == 1
    assert version_of(admin, database) == HEAD


def test_a_deploy_that_cannot_get_the_lock_in_time_fails_clearly(
    postgresql_project: Project, postgresql: Server
) -> None:
    database, env = new_database(postgresql)

    # The first deploy holds the lock 12 s; the second gives up long before, after its 1 s wait
    # and its own start (some seconds on a busy machine).
    with slow_first_revision(postgresql_project, "SELECT pg_sleep(12)"):
        first = postgresql_project.start("alembic", "upgrade", "head", env=env)
        _wait_for_advisory_lock(postgresql, database)
        started = time.monotonic()
        output = one_line_failure(
            postgresql_project, {**env, "MIGRATION_LOCK_WAIT": "1"}, "upgrade", "head"
        )
        waited = time.monotonic() - started
        first_output = first.communicate(timeout=60)[0]

    assert output.startswith(
        "FAILED: another process kept the migration lock for more than MIGRATION_LOCK_WAIT (1 s)"
    ), output
    assert waited < 10, waited
    assert first.returncode == 0, first_output
    assert version_of(postgresql, database) == HEAD


def _wait_for_advisory_lock(admin: Server, database: str) -> None:
    """Until a session holds an advisory lock in ``database``: the first deploy's lock."""
    query = (
        "SELECT COUNT(*) FROM pg_locks JOIN pg_database ON pg_database.oid = pg_locks.database "
        f"WHERE locktype = 'advisory' AND granted AND datname = '{database}'"
    )
    deadline = time.monotonic() + 30
    while not admin.scalar(query, "postgres"):
        assert time.monotonic() < deadline, "the first deploy never took the lock"
        time.sleep(0.1)


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_a_migration_blocked_by_another_session_gives_up_and_keeps_the_data(
    request: pytest.FixtureRequest, backend: str
) -> None:
    project: Project = request.getfixturevalue(f"{backend}_project")
    admin: Server = request.getfixturevalue(backend)
    database, env = new_database(admin)
    env["MIGRATION_LOCK_TIMEOUT"] = "1"
    project.run("alembic", "upgrade", BEFORE_HEAD, env=env)
    admin.execute("INSERT INTO roles (name) VALUES ('admin'), ('staff')", database=database)

    with admin.holding_a_read_lock(database, "roles"):
        started = time.monotonic()
        output = one_line_failure(project, env, "upgrade", "head")
        waited = time.monotonic() - started

    assert "gave up after MIGRATION_LOCK_TIMEOUT (1 s)" in output, output
    assert waited < 10, waited
    assert version_of(admin, database) == BEFORE_HEAD
    assert admin.scalar("SELECT COUNT(*) FROM roles", database) == 2
    project.run("alembic", "upgrade", "head", env=env)  # with the lock gone, it goes through
    assert version_of(admin, database) == HEAD


def test_a_statement_running_past_the_statement_timeout_is_stopped_and_rolled_back(
    postgresql_project: Project, postgresql: Server
) -> None:
    database, env = new_database(postgresql)
    postgresql_project.run("alembic", "upgrade", HEAD, env=env)
    with planted(postgresql_project, **SLOW_STATEMENT):
        output = one_line_failure(
            postgresql_project, {**env, "MIGRATION_STATEMENT_TIMEOUT": "1"}, "upgrade", "head"
        )

    assert "gave up after MIGRATION_STATEMENT_TIMEOUT (1 s)" in output, output
    assert "canceling statement due to statement timeout" in output
    assert version_of(postgresql, database) == HEAD
    columns = "SELECT COUNT(*) FROM information_schema.columns WHERE column_name = 'rank'"
    assert postgresql.scalar(columns, database) == 0


def test_a_failing_revision_leaves_the_previous_revision_and_every_row(
    postgresql_project: Project, postgresql: Server
) -> None:
    database, env = new_database(postgresql)
    postgresql_project.run("alembic", "upgrade", HEAD, env=env)
    postgresql.execute(
        "INSERT INTO users (email, display_name) VALUES ('a@example.com', 'A'), "
        "('b@example.com', 'B'), ('c@example.com', 'C')",
        database=database,
    )
    with planted(
        postgresql_project,
        "fa11fa11fa11",
        upgrade='    op.add_column("users", sa.Column("nickname", sa.String(50)))\n'
        "    op.execute(\"UPDATE users SET nickname = 'x', display_name = 'changed'\")\n"
        "    op.execute(\"DELETE FROM users WHERE email = 'a@example.com'\")\n"
        '    op.create_unique_constraint("uq_users_nickname", "users", ["nickname"])',
        downgrade='    op.drop_column("users", "nickname")',
    ):
        result = postgresql_project.run("alembic", "upgrade", "head", env=env, check=False)

    assert result.returncode != 0
    assert "could not create unique index" in result.stderr
    assert version_of(postgresql, database) == HEAD
    assert postgresql.execute(
        "SELECT email, display_name FROM users ORDER BY email", database=database
    ) == [("a@example.com", "A"), ("b@example.com", "B"), ("c@example.com", "C")]


BATCH_REBUILD_OF_ROLES = """\
import sys

from alembic import command
from alembic.config import Config

from my_project.db import create_db_engine

engine = create_db_engine()
with engine.connect() as connection:
    enforced_before = connection.exec_driver_sql("PRAGMA foreign_keys").scalar()
    connection.commit()  # hand it over between transactions
    config = Config("alembic.ini")
    config.attributes["connection"] = connection
    command.upgrade(config, sys.argv[1])
    enforced_after = connection.exec_driver_sql("PRAGMA foreign_keys").scalar()
    print(enforced_before, enforced_after)
"""


def test_a_sqlite_batch_rebuild_of_a_parent_table_keeps_every_child_row(project: Project) -> None:
    project.run("alembic", "upgrade", "head")
    database = project.path / "my_project.sqlite3"
    with sqlite3.connect(database) as connection:
        connection.executescript(
            "INSERT INTO roles (id, name) VALUES (1, 'admin'), (2, 'staff');"
            "INSERT INTO users (id, email, display_name) VALUES (1, 'a@x.org', 'A'), "
            "(2, 'b@x.org', 'B');"
            "INSERT INTO user_roles VALUES (1, 1), (1, 2), (2, 2);"
        )
    plant_revision(
        project,
        "ba7cba7cba7c",
        upgrade='    with op.batch_alter_table("roles", recreate="always") as batch_op:\n'
        '        batch_op.alter_column("description", type_=sa.String(500))',
        downgrade='    with op.batch_alter_table("roles", recreate="always") as batch_op:\n'
        '        batch_op.alter_column("description", type_=sa.Text())',
    )
    script = project.write("rebuild.py", BATCH_REBUILD_OF_ROLES)

    # Through a connection that enforces foreign keys, as the application's engine does...
    enforced = project.run("python", str(script), "head").stdout.split()
    assert _count(database, "user_roles") == 3
    # ...and through the alembic command line, back down and up again.
    project.run("alembic", "downgrade", "-1")
    project.run("alembic", "upgrade", "head")

    assert enforced == ["1", "1"]  # on before, and on again after
    assert _count(database, "user_roles") == 3
    assert _count(database, "roles") == 2


def _count(database: Path, table: str) -> int:
    with sqlite3.connect(database) as connection:
        count: int = connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    return count
