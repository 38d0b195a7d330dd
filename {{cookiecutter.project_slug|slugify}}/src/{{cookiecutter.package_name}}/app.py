"""The Flask application factory, `create_app()`, found by `flask` through .flaskenv."""

import click
from flask import Flask

from {{ cookiecutter.package_name }}.db import enforce_sqlite_foreign_keys
from {{ cookiecutter.package_name }}.extensions import db, migrate
from {{ cookiecutter.package_name }}.settings import (
    DatabaseSettings,
    SettingsError,
    driver_connect_args,
    load_settings,
)


def create_app(settings: DatabaseSettings | None = None) -> Flask:
    """An app on the database the settings name (``DATABASE_URL`` and co.), as Alembic's."""
    try:
        url = (settings or load_settings()).sqlalchemy_url
    except SettingsError as error:
        # `flask` prints this as one line naming the variable, as `alembic` does.
        raise click.ClickException(str(error)) from None
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": driver_connect_args(url)}
    db.init_app(app)
    migrate.init_app(app, db)
    with app.app_context():
        enforce_sqlite_foreign_keys(db.engine)
    return app
