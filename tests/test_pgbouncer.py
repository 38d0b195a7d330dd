"""Deploys through PgBouncer: replicas take turns in transaction and session pooling alike, the
waits stay bounded, and nothing of a deploy is left on the server connections it used."""

import re
import time
from collections.abc import Callable, Iterator

import psycopg
import pytest

from tests.alembic_many import failed_line
from tests.conftest import SERVERS, Project
from tests.network import stalling_proxy, wait_until
from tests.pgbouncer import pgbouncer
from tests.project_edits import HEAD, SLOW_STATEMENT, plant_revision, planted, slow_first_revision
from tests.readme import section
from tests.servers import Server, server

BEFORE_HEAD = "9a4e7c1d2b8f"
POOL_SIZE = 2


@pytest.fixture(scope="module")
def project(baked: Callable[[str], Project]) -> Project:
    return baked("postgresql")


@pytest.fixture
def postgresql() -> Iterator[Server]:
    with server(SERVERS["postgresql"]) as admin:
        yield admin


@pytest.fixture(scope="module", params=["transaction", "session"])
def pooler(request: pytest.FixtureRequest) -> Iterator[int]:
    """The port of a PgBouncer in transaction or session pooling mode, with a small pool."""
    with pgbouncer(SERVERS["postgresql"], request.param, POOL_SIZE) as port:
        yield port


@pytest.fixture(scope="module")
def transaction_pooler() -> Iterator[int]:
    with pgbouncer(SERVERS["postgresql"], "transaction", POOL_SIZE) as port:
        yield port


def through(port: int, admin: Server) -> tuple[str, dict[str, str]]:
    """A throwaway database, and the environment that reaches it through PgBouncer at ``port``."""
    database = admin.create_database()
    user, _password = admin.login
    return database, {"DATABASE_URL": f"postgresql://{user}@127.0.0.1:{port}/{database}"}


def version_of(admin: Server, database: str) -> str | None:
    version: str | None = admin.scalar("SELECT version_num FROM alembic_version", database)
    return version


def server_sessions_state(port: int, admin: Server, database: str) -> list[tuple[object, ...]]:
    """What each of the pool's server connections holds for its next client.

    Each connection stays in a transaction while the next one opens, so that PgBouncer must
    hand them the pool's every server connection, each once, in either pooling mode.
    """
    user, _password = admin.login
    connections = [
        psycopg.connect(host="127.0.0.1", port=port, user=user, dbname=database)
        for _ in range(POOL_SIZE)
    ]
    try:
        return [
            connection.execute(
                "SELECT pg_backend_pid(), current_setting('lock_timeout'), "
                "current_setting('statement_timeout'), "
                "current_setting('idle_in_transaction_session_timeout'), "
                "current_setting('idle_session_timeout'), "
                "(SELECT COUNT(*) FROM pg_prepared_statements)"
            ).fetchone()
            or ()
            for connection in connections
        ]
    finally:
        for connection in connections:
            connection.close()


def one_line_failure(project: Project, env: dict[str, str], *argv: str) -> str:
    result = project.run("alembic", *argv, env=env, check=False)
    return failed_line(result.returncode, result.stdout + result.stderr)


def test_five_deploys_through_pgbouncer_take_turns_and_leave_nothing_behind(
    project: Project, postgresql: Server, pooler: int
) -> None:
    database, env = through(pooler, postgresql)

    with slow_first_revision(project, "SELECT pg_sleep(2)"):
        deploys = [project.start("alembic", "upgrade", "head", env=env) for _ in range(5)]
        outputs = [deploy.communicate(timeout=120)[0] for deploy in deploys]

    assert [deploy.returncode for deploy in deploys] == [0] * 5, outputs
    applied = [line for out in outputs for line in out.splitlines() if "Running upgrade" in line]
    assert len(applied) == 3, applied
    assert postgresql.scalar("SELECT COUNT(*) FROM alembic_version", database) == 1
    assert version_of(postgresql, database) == HEAD
    # The next clients of the server connections find the server's defaults: no lock_timeout,
    # statement_timeout or idle timeout of the deploy's, no prepared statement of its driver,
    # and no advisory lock still held.
    sessions = server_sessions_state(pooler, postgresql, database)
    assert len({pid for pid, *_ in sessions}) == POOL_SIZE, sessions
    assert [tuple(state) for _pid, *state in sessions] == [("0", "0", "0", "0", 0)] * POOL_SIZE
    advisory = "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory'"
    assert postgresql.scalar(advisory, database) == 0


def test_behind_pgbouncer_a_blocked_migration_gives_up_after_the_lock_timeout(
    project: Project, postgresql: Server, transaction_pooler: int
) -> None:
    database, env = through(transaction_pooler, postgresql)
    env["MIGRATION_LOCK_TIMEOUT"] = "1"
    project.run("alembic", "upgrade", BEFORE_HEAD, env=env)
    postgresql.execute("INSERT INTO roles (name) VALUES ('admin'), ('staff')", database=database)

    with postgresql.holding_a_read_lock(database, "roles"):
        started = time.monotonic()
        output = one_line_failure(project, env, "upgrade", "head")
        waited = time.monotonic() - started

    assert "gave up after MIGRATION_LOCK_TIMEOUT (1 s)" in output, output
    assert "rolled back whole" in output
    assert waited < 10, waited
    assert version_of(postgresql, database) == BEFORE_HEAD
    assert postgresql.scalar("SELECT COUNT(*) FROM roles", database) == 2
    project.run("alembic", "upgrade", "head", env=env)  # with the lock gone, it goes through
    assert version_of(postgresql, database) == HEAD


def test_behind_pgbouncer_a_deploy_fails_whole_after_the_statement_timeout(
    project: Project, postgresql: Server, transaction_pooler: int
) -> None:
    database, env = through(transaction_pooler, postgresql)
    project.run("alembic", "upgrade", BEFORE_HEAD, env=env)
    with planted(project, **SLOW_STATEMENT):
        output = one_line_failure(
            project, {**env, "MIGRATION_STATEMENT_TIMEOUT": "1"}, "upgrade", "head"
        )

    assert "gave up after MIGRATION_STATEMENT_TIMEOUT (1 s)" in output, output
    assert "canceling statement due to statement timeout" in output
    # One transaction: the shipped revision before the planted one is rolled back too.
    assert version_of(postgresql, database) == BEFORE_HEAD
    columns = "SELECT column_name FROM information_schema.columns WHERE table_name = 'roles'"
    added = {row[0] for row in postgresql.execute(columns, database=database)} & {"rank", "scope"}
    assert added == set()


def test_behind_pgbouncer_a_deploy_that_cannot_get_the_lock_in_time_fails_clearly(
    project: Project, postgresql: Server, transaction_pooler: int
) -> None:
    database, env = through(transaction_pooler, postgresql)
    project.run("alembic", "upgrade", BEFORE_HEAD, env=env)
    advisory = "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"

    # The first deploy holds the deploy lock for as long as the test holds roles, which the
    # revision it runs alters; the second may wait for it one second.
    with postgresql.holding_a_read_lock(database, "roles"):
        first = project.start(
            "alembic", "upgrade", "head", env={**env, "MIGRATION_LOCK_TIMEOUT": "0"}
        )
        deadline = time.monotonic() + 30
        while not postgresql.scalar(advisory, database):
            assert time.monotonic() < deadline, "the first deploy never took the lock"
            time.sleep(0.1)
        started = time.monotonic()
        output = one_line_failure(project, {**env, "MIGRATION_LOCK_WAIT": "1"}, "upgrade", "head")
        waited = time.monotonic() - started
        # A deploy connected to the server itself waits for the same lock.
        direct = {"DATABASE_URL": postgresql.url_for(database, *postgresql.login)}
        direct_output = one_line_failure(
            project, {**direct, "MIGRATION_LOCK_WAIT": "1"}, "upgrade", "head"
        )
        still_waiting = first.poll() is None
    first_output = first.communicate(timeout=60)[0]

    for failure in (output, direct_output):
        assert failure.startswith(
            "FAILED: another process kept the migration lock for more than MIGRATION_LOCK_WAIT "
            "(1 s)"
        ), failure
    assert waited < 10, waited
    assert still_waiting
    assert first.returncode == 0, first_output
    assert version_of(postgresql, database) == HEAD


def test_behind_pgbouncer_an_autocommit_block_is_refused_in_one_line_and_applies_nothing(
    project: Project, postgresql: Server, transaction_pooler: int
) -> None:
    database, env = through(transaction_pooler, postgresql)
    project.run("alembic", "upgrade", "head", env=env)
    direct = {"DATABASE_URL": postgresql.url_for(database, *postgresql.login)}
    with planted(
        project,
        "ac0cac0cac0c",
        upgrade='    op.add_column("roles", sa.Column("rank", sa.Integer()))\n'
        "    with op.get_context().autocommit_block():\n"
        '        op.execute("CREATE INDEX CONCURRENTLY ix_roles_rank ON roles (rank)")',
        downgrade='    op.drop_index("ix_roles_rank", "roles")\n'
        '    op.drop_column("roles", "rank")',
    ) as name:
        output = one_line_failure(project, env, "upgrade", "head")
        columns = "SELECT COUNT(*) FROM information_schema.columns WHERE column_name = 'rank'"
        added = postgresql.scalar(columns, database)
        version = version_of(postgresql, database)
        project.run("alembic", "upgrade", "head", env=direct)  # as the line advises
        after_direct = version_of(postgresql, database)

    assert output == (
        f"FAILED: {name} runs statements outside a transaction (autocommit_block), which behind "
        "a connection pooler would run without the deploy lock and the timeouts; nothing was "
        "applied; run this deploy with DATABASE_URL naming the database server itself, not "
        "the pooler"
    ), output
    assert (added, version) == (0, HEAD)
    assert after_direct == "ac0cac0cac0c"


def test_behind_pgbouncer_a_deploy_whose_network_stalls_frees_the_lock_within_the_idle_timeout(
    project: Project, postgresql: Server, transaction_pooler: int
) -> None:
    database, env = through(transaction_pooler, postgresql)
    project.run("alembic", "upgrade", "head", env=env)
    postgresql.execute("INSERT INTO roles (name) VALUES ('admin')", database=database)
    name = plant_revision(
        project,
        "51a1151a1151",
        upgrade="    op.execute(\"UPDATE roles SET description = 'first'\")\n"
        '    op.execute("SELECT pg_sleep(3)")',
        downgrade="    pass",
    )
    sleeping = (
        "SELECT COUNT(*) FROM pg_stat_activity WHERE state = 'active' "
        "AND query LIKE 'SELECT pg_sleep%'"
    )
    held = "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory'"
    try:
        # The network between the deploy and PgBouncer stops; PgBouncer and the server do not.
        with stalling_proxy("127.0.0.1", transaction_pooler) as proxy:
            silent = {
                "DATABASE_URL": env["DATABASE_URL"].replace(
                    f":{transaction_pooler}/", f":{proxy.port}/"
                ),
                "MIGRATION_IDLE_TIMEOUT": "2",
            }
            deploy = project.start("alembic", "upgrade", "head", env=silent)
            try:
                wait_until(lambda: postgresql.scalar(sleeping, database), 60, "the sleep")
                proxy.stall()
                freed = wait_until(
                    lambda: not postgresql.scalar(held, database), 30, "the deploy lock freed"
                )
            finally:
                proxy.close()
                output = deploy.communicate(timeout=30)[0]
    finally:
        (project.path / "migrations" / "versions" / name).unlink()

    assert freed < 3 + 2 + 5, freed  # the statement running, then MIGRATION_IDLE_TIMEOUT
    assert version_of(postgresql, database) == HEAD
    assert postgresql.scalar("SELECT description FROM roles", database) != "first"
    assert "lost the connection" in failed_line(deploy.returncode, output), output


# Runs one query in ten transactions through the application's engine, made as given, and
# prints how many statements the last transaction's server connection holds prepared.
PREPARED_BY_APPLICATION = """\
from sqlalchemy import text

from my_project.db import create_db_engine

engine = {engine}
for _ in range(10):
    with engine.begin() as connection:
        connection.execute(text("SELECT 1")).scalar()
with engine.begin() as connection:
    print(connection.execute(text("SELECT COUNT(*) FROM pg_prepared_statements")).scalar())
"""


def prepared_by_application(project: Project, engine: str, env: dict[str, str]) -> int:
    script = project.write("prepared.py", PREPARED_BY_APPLICATION.format(engine=engine))
    try:
        return int(project.run("python", str(script), env=env).stdout)
    finally:
        script.unlink()


def test_the_application_engine_the_readme_shows_prepares_nothing_behind_pgbouncer(
    project: Project, postgresql: Server, transaction_pooler: int
) -> None:
    readme = (project.path / "README.md").read_text(encoding="utf-8")
    poolers = section(readme, "### Behind a connection pooler (PgBouncer)")
    advised = re.findall(r"`(create_db_engine\(.*?\))`", poolers)
    results = []
    for engine in ["create_db_engine()", *advised]:
        # A database, and so a pool of server connections, of its own for each engine.
        _database, env = through(transaction_pooler, postgresql)
        results.append(prepared_by_application(project, engine, env))
    by_default, *as_advised = results

    assert advised == ['create_db_engine(connect_args={"prepare_threshold": None})']
    assert by_default > 0  # psycopg prepares a statement it has run five times
    assert as_advised == [0]
