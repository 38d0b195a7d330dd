"""A Flask project: `flask db` and `alembic` drive one history, and the app uses its models."""

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import BakeProject, Project
from tests.project_edits import PRODUCTS, register_products
from tests.readme import python_blocks
from tests.servers import database_of

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


# A model written as Flask-SQLAlchemy's docs and Flask-Migrate's tutorial write it, appended
# at the bottom of models/__init__.py as SQLAlchemy's articles do; and a typed `Base` model in
# the same project that refers to it.
TUTORIAL_REGISTRATION = "\nfrom .products import Product\nfrom .reviews import Review\n"
PRICE = "    price = db.Column(db.Float)\n"
REVIEWS = '''\
"""Reviews of products."""

from sqlalchemy import ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from my_project.models.base import Base
from my_project.models.products import Product


class Review(Base):
    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    body: Mapped[str] = mapped_column(Text)
    product: Mapped[Product] = relationship()
'''

# The app writes a product and its review through db.session; a fresh context reads them back.
APP_WRITES_BOTH_STYLES = """
import json
from sqlalchemy import inspect, select
from my_project.app import create_app
from my_project.extensions import db
from my_project.models import Product, Review

app = create_app()
with app.app_context():
    db.session.add(Review(body="Sturdy.", product=Product(name="chair", price=49.5)))
    db.session.commit()
with app.app_context():
    review = db.session.scalars(select(Review)).one()
    print(json.dumps({
        "review": [review.body, review.product.name, review.product.price],
        "tables": sorted(inspect(db.engine).get_table_names()),
    }))
"""

COLUMNS_OF_PRODUCT = (
    "from sqlalchemy import inspect; from my_project.db import create_db_engine; "
    "print(sorted(c['name'] for c in inspect(create_db_engine()).get_columns('product')))"
)


def flask_db_migrate(project: Project, message: str, env: dict[str, str]) -> str:
    """The text of the revision `flask db migrate -m message` writes."""
    before = set(project.revisions())
    project.run("flask", "db", "migrate", "-m", message, env=env)
    [new] = set(project.revisions()) - before
    return new.read_text(encoding="utf-8")


# Each database is a unit of work of its own for the xdist workers.
WORKER_SPLIT = "database"


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_the_flask_migrate_tutorial_runs_as_written_with_db_model_and_base_models_mixed(
    bake: BakeProject, database: str
) -> None:
    project = bake(web_framework="flask", database=database)
    project.install()
    readme = (project.path / "README.md").read_text(encoding="utf-8")
    [tutorial_model] = [
        block for block in python_blocks(readme, "### Flask") if "(db.Model)" in block
    ]
    products = project.write("src/my_project/models/products.py", tutorial_model)
    project.write("src/my_project/models/reviews.py", REVIEWS)
    init = project.package / "models" / "__init__.py"
    init.write_text(init.read_text(encoding="utf-8") + TUTORIAL_REGISTRATION, encoding="utf-8")

    with database_of(project.test_database_url) as env:
        project.run("flask", "db", "upgrade", env=env)  # the quick start: the shipped history
        # Whatever a program imports first, `db` is there for the model modules.
        for first in ("my_project.extensions", "my_project.models.products", "my_project.app"):
            project.run("python", "-c", f"import {first}", env=env)

        created = flask_db_migrate(project, "products and reviews", env)
        assert 'op.create_table(\n        "product"' in created
        assert 'op.create_table(\n        "reviews"' in created
        project.run("flask", "db", "upgrade", env=env)

        products.write_text(products.read_text(encoding="utf-8") + PRICE, encoding="utf-8")
        price = flask_db_migrate(project, "add price", env)
        assert "add_column(" in price
        assert 'sa.Column("price", sa.Float()' in price
        project.run("flask", "db", "upgrade", env=env)
        assert project.run("python", "-c", COLUMNS_OF_PRODUCT, env=env).stdout.strip() == (
            "['id', 'name', 'price']"
        )
        project.run("flask", "db", "downgrade", env=env)
        assert project.run("python", "-c", COLUMNS_OF_PRODUCT, env=env).stdout.strip() == (
            "['id', 'name']"
        )
        project.run("flask", "db", "upgrade", env=env)
        assert (
            "No new upgrade operations detected"
            in project.run("flask", "db", "check", env=env).stdout
        )

        written = json.loads(project.run("python", "-c", APP_WRITES_BOTH_STYLES, env=env).stdout)
        assert written["review"] == ["Sturdy.", "chair", 49.5]
        assert {"product", "reviews", "users"} <= set(written["tables"])

    # The project's own suite walks the grown history; its mypy accepts the README's model.
    project.run("pytest", "-p", "no:cacheprovider")
    project.run("mypy")


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


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("hunter2@nowhere", "DATABASE_URL is not a database URL; expected a form like"),
        ("sqlite:///app.sqlite3?password=hunter2", "DATABASE_URL carries a secret in its query"),
        ("sqlite:///app.sqlite3?x=hunter2%0A", "DATABASE_URL has a control character"),
    ],
    ids=["unparsable", "password-in-query", "control-character"],
)
def test_a_bad_database_url_stops_flask_db_in_one_line_without_echoing_it(
    baked: Callable[[str], Project], url: str, complaint: str
) -> None:
    flask_project = baked("sqlite-flask")  # shared: nothing here gets as far as the database
    bad = {"DATABASE_URL": url}
    upgrade = flask_project.run("flask", "db", "upgrade", env=bad, check=False)
    # `flask --help` loads the app to list its commands; Flask shows the traceback of any
    # failure to load it (short of its own NoAppException, which would make `flask db` add
    # a misleading "No such command 'db'"), ending in the same line.
    help_ = flask_project.run("flask", "--help", env=bad, check=False)

    assert upgrade.returncode != 0
    assert f"Error: {complaint}" in upgrade.stderr
    assert "Traceback" not in upgrade.stdout + upgrade.stderr
    assert complaint in help_.stderr
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
