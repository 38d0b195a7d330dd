"""Deploys are safe: any password works and never shows, failures are one clear line, replicas
take turns, waits are bounded, and a failed migration loses nothing."""

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.conftest import SERVERS, Project, bake_with
from tests.servers import Server, password_checking_postgresql, server
from tests.test_planted_faults import HEAD

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

# Runs many alembic command lines in one process, through alembic's own CLI entry point, so
# that dozens of credentials cost seconds; prints each one's exit code and output as JSON.
ALEMBIC_MANY = """\
import json, os, sys, tempfile
from alembic.config import main

results = []
for case in json.load(open(sys.argv[1], encoding="utf-8")):
    for name in [name for name in os.environ if name.startswith(("DATABASE_", "MIGRATION_"))]:
        del os.environ[name]
    os.environ.update(case["env"])
    code = 0
    with tempfile.TemporaryFile("w+", encoding="utf-8") as output:
        saved = os.dup(1), os.dup(2)
        os.dup2(output.fileno(), 1)
        os.dup2(output.fileno(), 2)
        try:
            main(argv=case["argv"], prog="alembic")
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else 1
        except Exception as error:
            code = 99
            print(f"{type(error).__name__}: {error}", file=sys.stderr)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
        output.seek(0)
        results.append({"code": code, "output": output.read()})
json.dump(results, open(sys.argv[2], "w", encoding="utf-8"))
"""


@pytest.fixture(scope="module")
def postgresql_project(cookies_session: Any) -> Project:
    project = bake_with(cookies_session, {"database": "postgresql"})
    project.install()
    return project


@pytest.fixture(scope="module")
def mysql_project(cookies_session: Any) -> Project:
    project = bake_with(cookies_session, {"database": "mysql"})
    project.install()
    return project


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


def alembic_many(project: Project, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    script = project.write("alembic_many.py", ALEMBIC_MANY)
    listed = project.write("alembic_many.json", json.dumps(cases))
    answers = project.path / "alembic_many.out.json"
    result = project.run("python", str(script), str(listed), str(answers), check=False)
    assert result.returncode == 0, result.stderr
    results: list[dict[str, Any]] = json.loads(answers.read_text(encoding="utf-8"))
    for path in (script, listed, answers):
        path.unlink()
    return results


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
    result = project.run("alembic", *argv, env=env, check=False)
    output = (result.stdout + result.stderr).strip()
    assert result.returncode != 0, output
    assert len(output.splitlines()) == 1, output
    assert output.startswith("FAILED: "), output
    assert "Traceback" not in output
    return output


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


@contextmanager
def slow_first_revision(project: Project, sleep: str) -> Iterator[None]:
    """Make the first shipped revision sleep first, so that racing deploys surely overlap."""
    first = next(path for path in project.revisions() if "create_users_and_roles" in path.name)
    original = first.read_text(encoding="utf-8")
    slowed = f"def upgrade() -> None:\n    op.execute({sleep!r})\n"
    first.write_text(original.replace("def upgrade() -> None:\n", slowed, 1), encoding="utf-8")
    try:
        yield
    finally:
        first.write_text(original, encoding="utf-8")


def start_alembic(project: Project, env: dict[str, str], *argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["alembic", *argv],
        cwd=project.path,
        env=project.environment(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_five_deploys_at_once_take_turns_and_apply_each_revision_once(
    request: pytest.FixtureRequest, backend: str
) -> None:
    project: Project = request.getfixturevalue(f"{backend}_project")
    admin: Server = request.getfixturevalue(backend)
    database = admin.create_database()
    env = {"DATABASE_URL": admin.url_for(database, *admin.login)}
    sleep = "SELECT pg_sleep(2)" if backend == "postgresql" else "SELECT SLEEP(2)"

    with slow_first_revision(project, sleep):
        deploys = [start_alembic(project, env, "upgrade", "head") for _ in range(5)]
        outputs = [deploy.communicate(timeout=120)[0] for deploy in deploys]

    assert [deploy.returncode for deploy in deploys] == [0] * 5, outputs
    applied = [line for out in outputs for line in out.splitlines() if "Running upgrade" in line]
    assert len(applied) == 3, applied
    assert admin.scalar("SELECT COUNT(*) FROM alembic_version", database) == 1
    assert version_of(admin, database) == HEAD
