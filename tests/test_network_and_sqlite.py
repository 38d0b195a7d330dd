"""Broken networks and concurrent runs: connects give up in time, a silent migration frees its
locks, reading commands never queue behind a deploy, and SQLite revisions are all or nothing."""

import contextlib
import hashlib
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest

from tests.alembic_many import failed_line
from tests.conftest import SERVERS, Project
from tests.network import silent_server, stalling_proxy, wait_until
from tests.project_edits import HEAD, plant_revision
from tests.servers import Server, new_database, server

SECRET = "S3cr3tPw"
PLANTED = "fa11fa11fa11"


@pytest.fixture
def admin(request: pytest.FixtureRequest) -> Iterator[Server]:
    with server(SERVERS[request.param]) as admin:
        yield admin


def finish(process: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str]:
    """Wait for ``process`` (killing it if it outlives ``timeout``): its exit code and output."""
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return process.returncode, output


def planted(project: Project, upgrade: str) -> Path:
    """Plant revision PLANTED after head with ``upgrade`` as its body; its path."""
    name = plant_revision(project, PLANTED, upgrade=upgrade, downgrade="    pass")
    return project.path / "migrations" / "versions" / name


# Connects give up within MIGRATION_CONNECT_TIMEOUT.


@pytest.mark.parametrize("combination", ["postgresql", "postgresql-async", "mysql", "mysql-async"])
def test_a_server_that_accepts_and_never_answers_fails_within_the_connect_timeout(
    baked: Callable[[str], Project], combination: str
) -> None:
    project = baked(combination)
    scheme = combination.split("-")[0]
    driver = project.context["__driver"]

    with silent_server() as port:
        env = {
            "DATABASE_URL": f"{scheme}://app:{SECRET}@127.0.0.1:{port}/app",
            "MIGRATION_CONNECT_TIMEOUT": "2",
        }
        started = time.monotonic()
        result = project.run("alembic", "upgrade", "head", env=env, check=False)
        took = time.monotonic() - started

    output = result.stdout + result.stderr
    assert failed_line(result.returncode, output) == (
        f"FAILED: cannot connect to {driver}://app:***@127.0.0.1:{port}/app: no answer within "
        "MIGRATION_CONNECT_TIMEOUT (2 s); check that the server is up and that DATABASE_URL "
        "(or DATABASE_HOST, DATABASE_PORT) names it, or raise MIGRATION_CONNECT_TIMEOUT"
    )
    assert SECRET not in output
    assert took < 15, took  # 2 s, and the start of a Python process on a busy machine


# A migration whose client goes silent frees its locks within MIGRATION_IDLE_TIMEOUT.


def sleeping_in(admin: Server, database: str) -> bool:
    """Whether a session of ``database`` runs the planted revision's sleep."""
    if admin.backend == "postgresql":
        query = (
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = %s AND state = 'active' "
            "AND query LIKE 'SELECT pg_sleep%%'"
        )
    else:
        query = (
            "SELECT COUNT(*) FROM information_schema.processlist WHERE db = %s "
            "AND info LIKE 'SELECT SLEEP%%'"
        )
    return bool(admin.execute(query, (database,))[0][0])


def locks_are_free(admin: Server, database: str) -> bool:
    """Whether another session may take the deploy lock and lock the rows the deploy updated."""
    try:
        admin.execute("SELECT id FROM roles FOR UPDATE NOWAIT", database=database)
    except (psycopg.Error, pymysql.Error):
        return False
    if admin.backend == "postgresql":
        key = int.from_bytes(hashlib.sha256(b"alembic_version").digest()[:8], "big", signed=True)
        # Autocommit: the session lock, if taken, goes with the connection at once.
        lock = "SELECT pg_try_advisory_lock(%s)"
        return bool(admin.execute(lock, (key,), database=database)[0][0])
    name = f"{database}.alembic_version"[-64:]
    return bool(admin.execute("SELECT IS_FREE_LOCK(%s)", (name,))[0][0])


@pytest.mark.parametrize("admin", ["postgresql", "mysql"], indirect=True)
def test_a_migration_whose_network_stalls_frees_its_locks_within_the_idle_timeout(
    baked: Callable[[str], Project], admin: Server
) -> None:
    project = baked(admin.backend)
    database, env = new_database(admin)
    project.run("alembic", "upgrade", "head", env=env)
    admin.execute("INSERT INTO roles (name) VALUES ('admin')", database=database)
    sleep = "SELECT pg_sleep(3)" if admin.backend == "postgresql" else "SELECT SLEEP(3)"
    update = "UPDATE roles SET description = 'first'"
    revision = planted(project, f"    op.execute({update!r})\n    op.execute({sleep!r})")
    try:
        with stalling_proxy(admin.host, admin.port) as proxy:
            url = env["DATABASE_URL"].replace(f":{admin.port}/", f":{proxy.port}/")
            silent = {"DATABASE_URL": url, "MIGRATION_IDLE_TIMEOUT": "2"}
            deploy = project.start("alembic", "upgrade", "head", env=silent)
            try:
                wait_until(lambda: sleeping_in(admin, database), 60, "the deploy's sleep")
                proxy.stall()
                freed = wait_until(lambda: locks_are_free(admin, database), 30, "locks freed")
            finally:
                proxy.close()
                code, output = finish(deploy, timeout=30)
    finally:
        revision.unlink()

    assert freed < 3 + 2 + 5, freed  # the statement running, then MIGRATION_IDLE_TIMEOUT
    assert admin.scalar("SELECT version_num FROM alembic_version", database) == HEAD
    assert admin.scalar("SELECT description FROM roles", database) != "first"
    assert "lost the connection" in failed_line(code, output), output


# Reading commands never queue behind a deploy's lock.


def end_sessions(admin: Server, database: str) -> None:
    """End every session of ``database``, so that a killed deploy's statement stops at once."""
    if admin.backend == "postgresql":
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (database,)
        )
        return
    query = "SELECT id FROM information_schema.processlist WHERE db = %s"
    for (session,) in admin.execute(query, (database,)):
        with contextlib.suppress(pymysql.Error):  # it ended by itself meanwhile
            admin.execute(f"KILL {int(session)}")


@pytest.mark.parametrize("admin", ["postgresql", "mysql"], indirect=True)
def test_reading_commands_answer_at_once_while_a_deploy_holds_the_lock(
    baked: Callable[[str], Project], admin: Server
) -> None:
    project = baked(admin.backend)
    database, env = new_database(admin)
    project.run("alembic", "upgrade", "head", env=env)
    sleep = "SELECT pg_sleep(120)" if admin.backend == "postgresql" else "SELECT SLEEP(120)"
    revision = planted(project, f"    op.execute({sleep!r})")
    try:
        deploy = project.start("alembic", "upgrade", "head", env=env)
        try:
            wait_until(lambda: sleeping_in(admin, database), 60, "the deploy's sleep")
            started = time.monotonic()
            readers = {
                argv: project.start("alembic", *argv.split(), env=env)
                for argv in ("current", "check", "history", "heads", "upgrade head --sql")
            }
            answers = {argv: finish(reader, timeout=90) for argv, reader in readers.items()}
            took = time.monotonic() - started
            still_deploying = deploy.poll() is None and sleeping_in(admin, database)
        finally:
            deploy.kill()
            finish(deploy)
            end_sessions(admin, database)
    finally:
        revision.unlink()

    # All five answered while the deploy still held the lock, in the time five Python
    # processes take to start at once on a busy machine (a few seconds on an idle one).
    assert still_deploying
    assert took < 60, took
    assert answers["current"][0] == 0, answers["current"]
    assert f"{HEAD}\n" in answers["current"][1]
    assert failed_line(*answers["check"]) == "FAILED: Target database is not up to date."
    assert answers["history"][0] == 0 and f"{HEAD} -> {PLANTED} (head)" in answers["history"][1]
    assert answers["heads"] == (0, f"{PLANTED} (head)\n")
    assert answers["upgrade head --sql"][0] == 0
    assert sleep in answers["upgrade head --sql"][1]


# SQLite revisions are all or nothing, and concurrent runs take turns.

# A revision that creates a table, rebuilds a parent table in batch mode, then fails (or,
# with {then} replaced, waits to be killed, or does nothing more).
HALFWAY = """\
    op.create_table("tags", sa.Column("id", sa.Integer(), primary_key=True))
    with op.batch_alter_table("roles", recreate="always") as batch_op:
        batch_op.alter_column("description", type_=sa.String(500))
{then}"""
FAIL = '    op.execute("SELECT * FROM no_such_table")\n'
HANG = '    open("mid-revision", "w").close()\n    __import__("time").sleep(60)\n'


def sqlite_state(database: Path) -> dict[str, Any]:
    """Everything a revision could have changed: the schema, the version table, the rows."""
    with sqlite3.connect(database) as connection:
        schema = connection.execute(
            "SELECT type, name, sql FROM sqlite_master ORDER BY type, name"
        ).fetchall()
        tables = [name for kind, name, _ in schema if kind == "table"]
        rows = {
            table: connection.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
            for table in tables
        }
    return {"schema": schema, "rows": rows}


def sqlite_at_head(project: Project, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A new SQLite file migrated to head, with rows in every example table."""
    database = tmp_path / "app.sqlite3"
    env = {"DATABASE_URL": f"sqlite:///{database}"}
    project.run("alembic", "upgrade", "head", env=env)
    with sqlite3.connect(database) as connection:
        connection.executescript(
            "INSERT INTO roles (id, name) VALUES (1, 'admin'), (2, 'staff');"
            "INSERT INTO users (id, email, display_name) VALUES (1, 'a@x.org', 'A');"
            "INSERT INTO user_roles VALUES (1, 1), (1, 2);"
        )
    return database, env


def assert_applied_once_fixed(project: Project, env: dict[str, str], database: Path) -> None:
    planted(project, HALFWAY.format(then="    pass"))
    project.run("alembic", "upgrade", "head", env=env)
    state = sqlite_state(database)
    assert state["rows"]["alembic_version"] == [(PLANTED,)]
    assert state["rows"]["tags"] == []
    assert state["rows"]["user_roles"] == [(1, 1), (1, 2)]


@pytest.mark.parametrize("combination", ["sqlite-default", "sqlite-async"])
def test_a_sqlite_revision_that_fails_part_way_leaves_nothing_and_applies_once_fixed(
    baked: Callable[[str], Project], combination: str, tmp_path: Path
) -> None:
    project = baked(combination)
    database, env = sqlite_at_head(project, tmp_path)
    before = sqlite_state(database)
    revision = planted(project, HALFWAY.format(then=FAIL))
    try:
        result = project.run("alembic", "upgrade", "head", env=env, check=False)
        after = sqlite_state(database)
        assert_applied_once_fixed(project, env, database)
    finally:
        revision.unlink()

    assert result.returncode != 0
    assert "no such table: no_such_table" in result.stderr
    assert after == before  # no tags, no _alembic_tmp_roles, roles as it was, version unchanged


def test_a_sqlite_migration_killed_mid_revision_leaves_nothing_and_current_answers_meanwhile(
    baked: Callable[[str], Project], tmp_path: Path
) -> None:
    project = baked("sqlite-default")
    database, env = sqlite_at_head(project, tmp_path)
    before = sqlite_state(database)
    marker = project.path / "mid-revision"
    revision = planted(project, HALFWAY.format(then=HANG))
    try:
        deploy = project.start("alembic", "upgrade", "head", env=env)
        try:
            wait_until(marker.exists, 60, "the revision's first changes")
            started = time.monotonic()
            current = project.run("alembic", "current", env=env)
            answered = time.monotonic() - started
        finally:
            deploy.send_signal(signal.SIGKILL)
            finish(deploy)
            marker.unlink(missing_ok=True)
        after = sqlite_state(database)
        assert_applied_once_fixed(project, env, database)
    finally:
        revision.unlink()

    assert deploy.returncode == -signal.SIGKILL
    assert f"{HEAD}\n" in current.stdout
    assert answered < 10, answered
    assert after == before


def test_concurrent_sqlite_upgrades_and_downgrades_take_turns(
    baked: Callable[[str], Project], tmp_path: Path
) -> None:
    project = baked("sqlite-default")
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'race.sqlite3'}"}
    first = next(path for path in project.revisions() if "create_users_and_roles" in path.name)
    original = first.read_text(encoding="utf-8")
    # Longer than sqlite3's own 5 s wait for a locked database: the waiters must outlast it.
    slowed = 'def upgrade() -> None:\n    __import__("time").sleep(6)\n'
    first.write_text(original.replace("def upgrade() -> None:\n", slowed, 1), encoding="utf-8")
    try:
        runs = [project.start("alembic", "upgrade", "head", env=env) for _ in range(5)]
        upgrades = [finish(run) for run in runs]
        runs = [project.start("alembic", "downgrade", "-1", env=env) for _ in range(3)]
        downgrades = [finish(run) for run in runs]
    finally:
        first.write_text(original, encoding="utf-8")

    assert [code for code, _ in upgrades + downgrades] == [0] * 8, upgrades + downgrades
    outputs = "".join(output for _, output in upgrades + downgrades)
    assert "Traceback" not in outputs
    assert outputs.count("Running upgrade") == 3
    assert outputs.count("Running downgrade") == 3
    assert sqlite_state(tmp_path / "race.sqlite3")["rows"]["alembic_version"] == []


def test_a_sqlite_file_an_application_keeps_locked_fails_after_the_lock_timeout_in_one_line(
    baked: Callable[[str], Project], tmp_path: Path
) -> None:
    project = baked("sqlite-default")
    database, env = sqlite_at_head(project, tmp_path)
    before = sqlite_state(database)
    revision = planted(project, HALFWAY.format(then="    pass"))
    application = sqlite3.connect(database, isolation_level=None)
    try:
        application.execute("BEGIN IMMEDIATE")  # an application's write, still open
        application.execute("UPDATE roles SET name = 'root' WHERE id = 1")
        started = time.monotonic()
        result = project.run(
            "alembic", "upgrade", "head", env={**env, "MIGRATION_LOCK_TIMEOUT": "1"}, check=False
        )
        waited = time.monotonic() - started
        application.execute("ROLLBACK")
        after = sqlite_state(database)
        project.run("alembic", "upgrade", "head", env=env)
    finally:
        application.close()
        revision.unlink()

    line = failed_line(result.returncode, result.stdout + result.stderr)
    assert line.startswith(
        "FAILED: a statement gave up after MIGRATION_LOCK_TIMEOUT (1 s): database is locked; "
        "its revision was rolled back"
    ), line
    assert waited < 30  # 1 s of waiting, and the start of a loaded machine's Python
    assert after == before
    assert sqlite_state(database)["rows"]["alembic_version"] == [(PLANTED,)]
