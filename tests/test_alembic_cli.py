"""The Alembic commands of the contract work from a fresh project with no environment set."""

import re
from pathlib import Path

from tests.conftest import Project


def head_of(project: Project) -> str:
    return project.revisions()[-1].name.split("-")[1].split("_")[0]


def test_the_everyday_commands_walk_the_history_on_the_default_sqlite_file(
    project: Project,
) -> None:
    head = head_of(project)
    database = project.path / "my_project.sqlite3"

    project.run("alembic", "upgrade", "head")
    assert database.exists()
    assert f"{head} (head)" in project.run("alembic", "current").stdout

    project.run("alembic", "downgrade", "-1")
    assert head not in project.run("alembic", "current").stdout

    project.run("alembic", "upgrade", "+1")
    assert f"{head} (head)" in project.run("alembic", "current").stdout

    history = project.run("alembic", "history", "--verbose").stdout
    assert f"Rev: {head} (head)" in history
    assert "create users and roles" in history
    assert "No new upgrade operations detected" in project.run("alembic", "check").stdout


def test_offline_sql_is_rendered_without_creating_the_database(project: Project) -> None:
    sql = project.run("alembic", "upgrade", "head", "--sql").stdout

    assert "CREATE TABLE users" in sql
    assert "CONSTRAINT uq_users_email UNIQUE (email)" in sql
    assert not (project.path / "my_project.sqlite3").exists()


def test_the_sqlite_file_is_the_same_whatever_the_working_directory(
    project: Project, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    project.run(
        "alembic", "-c", str(project.path / "alembic.ini"), "upgrade", "head", cwd=elsewhere
    )

    assert list(elsewhere.iterdir()) == []
    assert (project.path / "my_project.sqlite3").exists()
    assert "(head)" in project.run("alembic", "current").stdout


def test_a_relative_sqlite_url_is_taken_from_the_project_root(
    project: Project, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": "sqlite:///var/app.sqlite3"}
    (project.path / "var").mkdir()

    project.run(
        "alembic", "-c", str(project.path / "alembic.ini"), "upgrade", "head", env=env, cwd=tmp_path
    )

    assert not (tmp_path / "var").exists()
    assert (project.path / "var" / "app.sqlite3").exists()
    assert not (project.path / "my_project.sqlite3").exists()


def test_a_malformed_database_url_fails_in_one_line_without_echoing_it(project: Project) -> None:
    result = project.run(
        "alembic", "upgrade", "head", env={"DATABASE_URL": "hunter2@nowhere"}, check=False
    )

    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "FAILED: DATABASE_URL is not a database URL; expected a form like" in result.stdout
    assert "Traceback" not in output
    assert "hunter2" not in output


def test_the_readme_example_of_a_relative_sqlite_url_works_as_written(project: Project) -> None:
    readme = (project.path / "README.md").read_text(encoding="utf-8")
    [row] = [line for line in readme.splitlines() if line.startswith("| `DATABASE_URL` |")]
    [example] = re.findall(r"`(sqlite:///[^/`][^`]*)`", row)
    relative = example.removeprefix("sqlite:///")
    assert "/" in relative, "the example should name a file in a directory of its own"
    assert not (project.path / relative).parent.exists()

    project.run("alembic", "upgrade", "head", env={"DATABASE_URL": example})

    assert (project.path / relative).is_file()
    assert "(head)" in project.run("alembic", "current", env={"DATABASE_URL": example}).stdout
