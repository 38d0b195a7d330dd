"""The PostgreSQL combinations pass on PostgreSQL 18, which new projects start on, as on 15."""

from collections.abc import Callable, Iterator

import pytest

from tests.conftest import Project
from tests.project_edits import HEAD
from tests.servers import postgresql_18, server

POSTGRESQL_COMBINATIONS = [
    "postgresql",
    "postgresql-async",
    "postgresql-flask",
    "postgresql-fastapi-async",
]


@pytest.fixture(scope="module")
def postgresql18() -> Iterator[str]:
    with postgresql_18() as url, server(url) as admin:
        [(version,)] = admin.execute("SHOW server_version_num")
        assert 180000 <= int(version) < 190000, f"not PostgreSQL 18: {version}"
        yield url


@pytest.mark.parametrize("combination", POSTGRESQL_COMBINATIONS)
def test_the_history_walks_and_the_projects_own_suite_passes_on_postgresql_18(
    baked: Callable[[str], Project], postgresql18: str, combination: str
) -> None:
    project = baked(combination)
    with server(postgresql18) as admin:
        database = admin.create_database()
        environment = {"DATABASE_URL": admin.url_for(database, *admin.login)}
        project.run("alembic", "upgrade", "head", env=environment)
        assert f"{HEAD} (head)" in project.run("alembic", "current", env=environment).stdout
        project.run("alembic", "check", env=environment)
        project.run("alembic", "downgrade", "base", env=environment)
        assert (
            admin.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                " AND tablename <> 'alembic_version'",
                database=database,
            )
            == []
        )
    # The project's own suite (round trip, models match, offline SQL, its app) on 18.
    result = project.run(
        "pytest", "-p", "no:cacheprovider", env={"TEST_DATABASE_URL": postgresql18}
    )
    summary = result.stdout.strip().splitlines()[-1]
    assert "passed" in summary and "skipped" not in summary, summary
