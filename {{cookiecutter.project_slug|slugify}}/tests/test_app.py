"""The Flask app works on the models, on a database the migrations built."""

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import URL, {% if cookiecutter.example_models %}select, {% endif %}text

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.extensions import db
{%- if cookiecutter.example_models %}
from {{ cookiecutter.package_name }}.models import Role, User, metadata
{%- else %}
from {{ cookiecutter.package_name }}.models import metadata
{%- endif %}
from {{ cookiecutter.package_name }}.settings import DatabaseSettings
from tests.migrations.runner import MigrationRunner


@pytest.fixture
def app(runner: MigrationRunner, database_url: URL) -> Iterator[Flask]:
    """The app on this test's database, migrated to head."""
    runner.upgrade("heads")
    url = database_url.render_as_string(hide_password=False)
    app = create_app(DatabaseSettings(_env_file=None, url=url))
    yield app
    with app.app_context():
        db.engine.dispose()


def test_the_app_queries_the_migrated_database_with_the_models_metadata(
    app: Flask, runner: MigrationRunner
) -> None:
    with app.app_context():
        versions = db.session.scalars(text("SELECT version_num FROM alembic_version")).all()

        assert db.metadata is metadata
    assert tuple(versions) == runner.heads()
{%- if cookiecutter.example_models %}


def test_the_app_writes_and_reads_the_models(app: Flask) -> None:
    with app.app_context():
        admin = Role(name="admin")
        db.session.add(User(email="ada@example.com", display_name="Ada", roles=[admin]))
        db.session.commit()

    with app.app_context():
        user = db.session.scalars(select(User).where(User.email == "ada@example.com")).one()

        assert [role.name for role in user.roles] == ["admin"]
        assert user.is_active is True
{%- endif %}
{%- if cookiecutter.database == "sqlite" %}


def test_sqlite_connections_of_the_app_enforce_foreign_keys(app: Flask) -> None:
    with app.app_context():
        assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
{%- endif %}
