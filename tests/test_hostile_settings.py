"""Hostile settings: never another server than the one named, never a piece of a secret, never
a traceback; every bad value ends in one line naming its variable."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.alembic_many import alembic_many, failed_line
from tests.conftest import SERVERS, Project
from tests.servers import Server, password_checking_postgresql, server

SECRET = "Qx7-Secret"


@pytest.fixture(scope="module")
def postgresql_project(baked: Callable[[str], Project]) -> Project:
    return baked("postgresql")


@pytest.fixture(scope="module")
def mysql_async_project(baked: Callable[[str], Project]) -> Project:
    return baked("mysql-async")


@pytest.fixture(scope="module")
def scram_admin() -> Iterator[Server]:
    """Admin access to a private PostgreSQL that really checks passwords."""
    with password_checking_postgresql() as url, server(url) as admin:
        yield admin


@pytest.fixture(scope="module")
def postgresql_admin() -> Iterator[Server]:
    with server(SERVERS["postgresql"]) as admin:
        yield admin


def failed_line_of(result: dict[str, Any]) -> str:
    return failed_line(result["code"], result["output"])


def tables_of(admin: Server, database: str) -> list[str]:
    rows = admin.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'", database=database
    )
    return sorted(row[0] for row in rows)


def test_control_characters_never_reach_the_driver_nor_another_database(
    postgresql_project: Project, postgresql_admin: Server
) -> None:
    """Before this was refused, ``target%00x`` migrated the database ``target``."""
    admin = postgresql_admin
    target = admin.create_database()
    url = f"postgresql://postgres@{admin.host}:{admin.port}/"
    parts = {"DATABASE_HOST": admin.host, "DATABASE_USER": "postgres", "DATABASE_NAME": target}
    cases = {
        "DATABASE_URL": [
            {"DATABASE_URL": f"{url}{target}%00x"},
            {"DATABASE_URL": f"{url}{target}%0Ax"},
            {"DATABASE_URL": f"{url}{target}?application_name=a%0Db"},
            {"DATABASE_URL": f"{url}{target}\rx"},
            {"DATABASE_URL": f"postgresql://post%00gres@{admin.host}:{admin.port}/{target}"},
        ],
        "DATABASE_HOST": [{**parts, "DATABASE_HOST": f"{admin.host}\nx"}],
        "DATABASE_NAME": [{**parts, "DATABASE_NAME": f"{target}\x1bx"}],
        "DATABASE_USER": [{**parts, "DATABASE_USER": "post\x7fgres"}],
        "DATABASE_PASSWORD": [{**parts, "DATABASE_PASSWORD": f"{SECRET}\x01"}],
    }
    runs = [{"env": env, "argv": ["upgrade", "head"]} for envs in cases.values() for env in envs]
    results = iter(alembic_many(postgresql_project, runs))

    for variable, envs in cases.items():
        for env in envs:
            line = failed_line_of(next(results))
            assert line.startswith(f"FAILED: {variable} has a control character"), (env, line)
            assert target not in line and SECRET not in line
    assert tables_of(admin, target) == []

    # A .env file can hold a NUL byte, which no environment variable can.
    dotenv = postgresql_project.path / ".env"
    dotenv.write_bytes(f"DATABASE_URL={url}{target}\x00x\n".encode())
    try:
        result = postgresql_project.run("alembic", "upgrade", "head", check=False)
    finally:
        dotenv.unlink()
    assert result.returncode != 0
    assert (result.stdout + result.stderr).strip() == (
        "FAILED: DATABASE_URL has a control character (NUL, CR, LF or the like); remove it"
    )
    assert tables_of(admin, target) == []


def test_surrounding_whitespace_is_dropped_from_every_variable_alike(
    postgresql_project: Project, scram_admin: Server
) -> None:
    admin = scram_admin
    user = admin.create_user(SECRET)
    database = admin.create_database(owner=user)
    spaced = {
        "DATABASE_HOST": f" {admin.host}\n",
        "DATABASE_PORT": f"{admin.port} ",
        "DATABASE_USER": f"\t{user}",
        "DATABASE_PASSWORD": f"{SECRET}\n",  # as `kubectl create secret --from-file` leaves it
        "DATABASE_NAME": f"{database} ",
    }
    [by_parts, by_url] = alembic_many(
        postgresql_project,
        [
            {"env": spaced, "argv": ["upgrade", "head"]},
            {
                "env": {"DATABASE_URL": f" {admin.url_for(database, user, SECRET)}\n"},
                "argv": ["current"],
            },
        ],
    )

    assert by_parts["code"] == 0, by_parts["output"]
    assert by_url["code"] == 0, by_url["output"]
    assert "(head)" in by_url["output"]
    assert SECRET not in by_parts["output"] + by_url["output"]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # Raw '@' in the password: part of it taken for the host, or for a port.
        (
            f"postgresql://u:{SECRET[:4]}@{SECRET[4:]}@127.0.0.1/app",
            "DATABASE_URL is not a database URL",
        ),
        (
            f"postgresql://u:{SECRET[:4]}@x:{SECRET[4:]}@127.0.0.1/app",
            "DATABASE_URL is not a database URL",
        ),
        # A raw ':' parses: the whole password is hidden where the URL is shown.
        (
            f"postgresql://u:{SECRET[:4]}:{SECRET[4:]}@127.0.0.1:1/app",
            "cannot connect to postgresql+psycopg://u:***@127.0.0.1:1/app: ",
        ),
        (
            f"postgresql://u@127.0.0.1/app?password={SECRET}",
            "DATABASE_URL carries a secret in its query",
        ),
        (
            f"postgresql://u@127.0.0.1/app?PASSWORD={SECRET}",
            "DATABASE_URL carries a secret in its query",
        ),
        (
            f"postgresql://u@127.0.0.1/app?sslpassword={SECRET}",
            "DATABASE_URL carries a secret in its query",
        ),
    ],
    ids=["raw-at", "raw-at-port", "raw-colon", "query-password", "query-upper", "sslpassword"],
)
def test_a_password_in_a_broken_url_or_its_query_never_shows(
    postgresql_project: Project, url: str, expected: str
) -> None:
    [result] = alembic_many(
        postgresql_project, [{"env": {"DATABASE_URL": url}, "argv": ["upgrade", "head"]}]
    )

    line = failed_line_of(result)
    assert line.startswith(f"FAILED: {expected}"), line
    for piece in (SECRET, SECRET[:4], SECRET[4:]):
        assert piece not in line


# Run in the project: every printable form of the settings, the URL and the engine.
PRINT_EVERYTHING = """
from my_project.db import create_db_engine
from my_project.settings import load_migration_settings, load_settings

settings = load_settings()
url = settings.sqlalchemy_url
engine = create_db_engine()
for thing in (settings, load_migration_settings(), url, engine):
    print(str(thing), repr(thing))
print(settings.model_dump(), settings.model_dump_json())
"""

DEBUG_LOGGING = {
    "[logger_root]\nlevel = WARNING": "[logger_root]\nlevel = DEBUG",
    "[logger_sqlalchemy]\nlevel = WARNING": "[logger_sqlalchemy]\nlevel = DEBUG",
    "qualname = sqlalchemy.engine": "qualname = sqlalchemy",
    "[logger_alembic]\nlevel = INFO": "[logger_alembic]\nlevel = DEBUG",
}


def test_a_right_password_never_shows_in_output_repr_debug_logs_or_offline_sql(
    postgresql_project: Project, scram_admin: Server
) -> None:
    admin = scram_admin
    user = admin.create_user(SECRET)
    database = admin.create_database(owner=user)
    ini = (postgresql_project.path / "alembic.ini").read_text(encoding="utf-8")
    for quiet, loud in DEBUG_LOGGING.items():
        assert quiet in ini
        ini = ini.replace(quiet, loud)
    debug_ini = postgresql_project.write("alembic-debug.ini", ini)
    roads = {
        "url": {"DATABASE_URL": admin.url_for(database, user, SECRET)},
        "parts": {
            "DATABASE_HOST": admin.host,
            "DATABASE_PORT": str(admin.port),
            "DATABASE_USER": user,
            "DATABASE_PASSWORD": SECRET,
            "DATABASE_NAME": database,
        },
    }
    try:
        for env in roads.values():
            outputs = [
                postgresql_project.run("alembic", "-c", str(debug_ini), *argv, env=env)
                for argv in (["upgrade", "head"], ["downgrade", "-1"], ["current"])
            ]
            outputs.append(postgresql_project.run("alembic", "upgrade", "head", "--sql", env=env))
            outputs.append(postgresql_project.run("python", "-c", PRINT_EVERYTHING, env=env))
            for result in outputs:
                assert SECRET not in result.stdout + result.stderr, result.args
            assert "DEBUG" in outputs[0].stderr  # the logs really were at DEBUG
            assert "Engine(postgresql+psycopg://" in outputs[-1].stdout
    finally:
        debug_ini.unlink()


def test_a_wrong_password_is_withheld_structurally_never_masked_letter_by_letter(
    postgresql_project: Project, scram_admin: Server
) -> None:
    """A one-letter password masked in the driver's message would spell out where it is."""
    admin = scram_admin
    user = admin.create_user(SECRET)
    database = admin.create_database(owner=user)

    [wrong_e] = alembic_many(
        postgresql_project,
        [{"env": {"DATABASE_URL": admin.url_for(database, user, "e")}, "argv": ["current"]}],
    )

    line = failed_line_of(wrong_e)
    assert line.startswith(f"FAILED: cannot connect to postgresql+psycopg://{user}:***@"), line
    assert "its message is withheld" in line
    assert "***ction" not in line and "fail***d" not in line


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("MIGRATION_LOCK_TIMEOUT", "inf", "is not valid (input should be a finite number)"),
        ("MIGRATION_STATEMENT_TIMEOUT", "nan", "is not valid (input should be a finite number)"),
        ("MIGRATION_LOCK_WAIT", "-1", "is not valid (input should be greater than or equal to 0)"),
        ("MIGRATION_LOCK_TIMEOUT", "0.0004", "is under a millisecond, which the servers read"),
        ("MIGRATION_STATEMENT_TIMEOUT", "1e-9", "is under a millisecond, which the servers read"),
        ("MIGRATION_STATEMENT_TIMEOUT", "99999999", "is not valid (input should be less than"),
        ("MIGRATION_CONNECT_TIMEOUT", "1e12", "is not valid (input should be less than"),
        ("MIGRATION_CONNECT_TIMEOUT", "0", "is not valid (input should be greater than 0)"),
    ],
)
@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_timeouts_out_of_the_servers_range_are_refused_in_one_line(
    request: pytest.FixtureRequest, backend: str, variable: str, value: str, expected: str
) -> None:
    if backend == "postgresql":
        project = request.getfixturevalue("postgresql_project")
        url = SERVERS["postgresql"]
    else:
        project = request.getfixturevalue("mysql_async_project")
        url = SERVERS["mysql"]
    env = {"DATABASE_URL": url, variable: value}

    [result] = alembic_many(project, [{"env": env, "argv": ["current"]}])

    assert failed_line_of(result).startswith(f"FAILED: {variable} {expected}")


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_the_shortest_and_longest_timeouts_allowed_are_taken_by_the_server(
    request: pytest.FixtureRequest, backend: str
) -> None:
    if backend == "postgresql":
        project = request.getfixturevalue("postgresql_project")
        context = server(SERVERS["postgresql"])
    else:
        project = request.getfixturevalue("mysql_async_project")
        context = server(SERVERS["mysql"])
    with context as admin:
        database = admin.create_database()
        url = admin.url_for(database, *admin.login)
        limits = [
            {"MIGRATION_LOCK_TIMEOUT": "0.001", "MIGRATION_STATEMENT_TIMEOUT": "2147483"},
            {
                "MIGRATION_LOCK_TIMEOUT": "2147483",
                "MIGRATION_LOCK_WAIT": "31536000",
                "MIGRATION_CONNECT_TIMEOUT": "31536000",
            },
        ]
        results = alembic_many(
            project,
            [
                {"env": {"DATABASE_URL": url, **limit}, "argv": ["upgrade", "head"]}
                for limit in limits
            ],
        )
    for result in results:
        assert result["code"] == 0, result["output"]


def test_unusable_hosts_tls_files_and_drivers_are_one_line_each(
    postgresql_project: Project, mysql_async_project: Project
) -> None:
    postgresql = SERVERS["postgresql"]
    mysql = SERVERS["mysql"]
    on_postgresql = alembic_many(
        postgresql_project,
        [
            {"env": {"DATABASE_URL": "postgresql://u@bad..host/app"}, "argv": ["current"]},
            {
                "env": {"DATABASE_URL": f"postgresql://u@{'x' * 64}.example/app"},
                "argv": ["current"],
            },
            {
                "env": {"DATABASE_HOST": "db..internal", "DATABASE_NAME": "app"},
                "argv": ["current"],
            },
            {
                "env": {"DATABASE_URL": f"{postgresql}?sslmode=verify-full&sslrootcert=nope.pem"},
                "argv": ["current"],
            },
        ],
    )
    on_mysql = alembic_many(
        mysql_async_project,
        [
            {"env": {"DATABASE_URL": f"{mysql}?ssl_ca=/nonexistent/ca.pem"}, "argv": ["current"]},
            {
                "env": {"DATABASE_URL": mysql.replace("mysql://", "mysql+pymysql://")},
                "argv": ["current"],
            },
        ],
    )

    lines = [failed_line_of(result) for result in on_postgresql + on_mysql]
    empty_label = "has a host name with an empty or over-long label"
    assert lines[0].startswith(f"FAILED: DATABASE_URL {empty_label}")
    assert lines[1].startswith(f"FAILED: DATABASE_URL {empty_label}")
    assert lines[2].startswith(f"FAILED: DATABASE_HOST {empty_label}")
    assert lines[3].startswith("FAILED: DATABASE_URL names a TLS file in its query (sslrootcert=)")
    assert lines[4].startswith("FAILED: DATABASE_URL names a TLS file in its query (ssl_ca=)")
    assert lines[5] == (
        "FAILED: DATABASE_URL names the driver 'mysql+pymysql', which cannot run "
        "asynchronously as this project does; use mysql+aiomysql:// (this project's driver)"
    )
