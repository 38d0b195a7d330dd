"""A Flask project: `flask db` and `alembic` drive one history, and the app uses its models."""

import json
import re
from pathlib import Path

import pytest

from tests.conftest import BakeProject, Project
from tests.revisions import PRODUCTS, register_products

FLASK_FILES = [
    ".flaskenv",
    "src/my_project/app.py",
    "src/my_project/extensions.py",
    "tests/test_app.py",
]

# Run in the baked project after `flask db upgrade`: the app writes a user with a role, then
# reads it back in a new application context; a plain engine from the settings reads it too.
APP_WRITES_AND_READS = """
import json
from sqlalchemy import select, text
from my_project.app import create_app
from my_project.db import create_db_engine
from my_project.extensions import db
from my_project.models import Role, User

app = create_app()
with app.app_context():
    db.session.add(User(email="ada@example.com", display_name="Ada", roles=[Role(name="admin")]))
    db.session.commit()
with app.app_context():
    user = db.session.scalars(select(User)).one()
    read = {"email": user.email, "roles": [role.name for role in user.roles]}
    database = db.engine.url.database
with create_db_engine().connect() as connection:
    emails = connection.scalars(text("SELECT email FROM users")).all()
print(json.dumps({"read": read, "database": database, "plain_engine_reads": emails}))
"""


@pytest.fixture
def flask_project(bake: BakeProject) -> Project:
    """The default project with Flask, installed."""
    project = bake(web_framework="flask")
    project.install()
    return project


def revision_ids(project: Project) -> list[str]:
    """The shipped revision ids, oldest first (the file names start with the date)."""
    return [path.name.split("-")[1].split("_")[0] for path in project.revisions()]


def current(project: Project, *command: str) -> str:
    return project.run(*command, "current").stdout.strip()


def test_flask_db_and_alembic_walk_the_same_history_on_the_same_database(
    flask_project: Project, tmp_path: Path
) -> None:
    project = flask_project
    *_, previous, head = revision_ids(project)

    project.run("flask", "db", "upgrade")
    assert current(project, "flask", "db") == f"{head} (head)"
    assert current(project, "alembic") == f"{head} (head)"

    project.run("flask", "db", "downgrade")
    assert current(project, "alembic") == previous
    assert current(project, "flask", "db") == previous

    project.run("alembic", "upgrade", "head")
    assert current(project, "flask", "db") == f"{head} (head)"

    history = project.run("flask", "db", "history").stdout
    assert history == project.run("alembic", "history").stdout
    assert f"-> {head} (head), add roles.scope" in history

    # Outside the project .flaskenv is out of reach; --app names the app, and the same
    # alembic.ini and SQLite file are still found.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = project.run("flask", "--app", "my_project.app", "db", "current", cwd=elsewhere)
    assert result.stdout.strip() == f"{head} (head)"
    assert list(elsewhere.iterdir()) == []
    assert not (project.path / "instance").exists()


def test_flask_db_migrate_writes_a_formatted_revision_for_a_new_model_and_none_without_one(
    flask_project: Project,
) -> None:
    project = flask_project
    project.run("flask", "db", "upgrade")
    shipped = project.revisions()

    unchanged = project.run("flask", "db", "migrate", "-m", "nothing changed")
    assert "No changes in schema detected; no revision written." in unchanged.stdout
    assert project.revisions() == shipped
    assert "No new upgrade operations detected" in project.run("flask", "db", "check").stdout

    project.write("src/my_project/models/products.py", PRODUCTS)
    register_products(project)
    stale = project.run("flask", "db", "check", check=False)
    assert stale.returncode != 0
    assert "add_table" in stale.stderr
    assert "products" in stale.stderr

    project.run("flask", "db", "migrate", "-m", "add products")
    [new] = set(project.revisions()) - set(shipped)
    # Named by alembic.ini's file_template and tidied by its ruff hooks: the project's file.
    assert re.fullmatch(r"\d{4}_\d\d_\d\d_\d{6}-[0-9a-f]{12}_add_products\.py", new.name)
    revision = new.read_text(encoding="utf-8")
    assert 'op.create_table(\n        "products"' in revision
    assert 'op.f("uq_products_sku")' in revision
    project.run("ruff", "format", "--check", str(new))
    project.run("ruff", "check", str(new))

    project.run("alembic", "upgrade", "head")
    assert "No new upgrade operations detected" in project.run("alembic", "check").stdout
    assert "No new upgrade operations detected" in project.run("flask", "db", "check").stdout
    assert current(project, "flask", "db") == f"{revision_ids(project)[-1]} (head)"


def test_the_app_writes_and_reads_its_models_after_flask_db_upgrade(
    flask_project: Project,
) -> None:
    project = flask_project
    project.run("flask", "db", "upgrade")

    result = json.loads(project.run("python", "-c", APP_WRITES_AND_READS).stdout)

    assert result == {
        "read": {"email": "ada@example.com", "roles": ["admin"]},
        "database": str((project.path / "my_project.sqlite3").resolve()),
        "plain_engine_reads": ["ada@example.com"],
    }


def test_a_malformed_database_url_stops_flask_db_in_one_line_without_echoing_it(
    flask_project: Project,
) -> None:
    bad = {"DATABASE_URL": "hunter2@nowhere"}
    upgrade = flask_project.run("flask", "db", "upgrade", env=bad, check=False)
    # `flask --help` loads the app to list its commands; Flask shows the traceback of any
    # failure to load it (short of its own NoAppException, which would make `flask db` add
    # a misleading "No such command 'db'"), ending in the same line.
    help_ = flask_project.run("flask", "--help", env=bad, check=False)

    assert upgrade.returncode != 0
    assert "Error: DATABASE_URL is not a database URL; expected a form like" in upgrade.stderr
    assert "Traceback" not in upgrade.stdout + upgrade.stderr
    assert "DATABASE_URL is not a database URL; expected a form like" in help_.stderr
    assert "Usage: flask [OPTIONS] COMMAND [ARGS]..." in help_.stdout
    for result in (upgrade, help_):
        assert "hunter2" not in result.stdout + result.stderr


def test_only_a_flask_project_has_the_flask_files_and_dependencies(bake: BakeProject) -> None:
    plain, flask = bake(), bake(web_framework="flask", project_slug="flask-project")

    assert [name for name in FLASK_FILES if (plain.path / name).exists()] == []
    assert "flask" not in (plain.path / "pyproject.toml").read_text(encoding="utf-8").lower()
    for name in FLASK_FILES:
        assert (flask.path / name.replace("my_project", "flask_project")).is_file(), name
    assert (flask.path / ".flaskenv").read_text().splitlines()[-1] == "FLASK_APP=flask_project.app"
    pyproject = (flask.path / "pyproject.toml").read_text(encoding="utf-8")
    for dependency in ('"flask[dotenv]', '"flask-migrate', '"flask-sqlalchemy'):
        assert dependency in pyproject
