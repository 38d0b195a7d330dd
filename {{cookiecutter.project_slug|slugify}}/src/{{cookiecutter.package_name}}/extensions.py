"""Flask-SQLAlchemy on the project's models, and Flask-Migrate on the project's migrations."""

from alembic.config import Config
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from {{ cookiecutter.package_name }}.models.base import Base
from {{ cookiecutter.package_name }}.settings import PROJECT_ROOT

# db.Model and db.metadata are Base's registry and metadata: one set of tables for the app,
# autogenerate and the tests, whether a model subclasses Base or db.Model.
db = SQLAlchemy(model_class=Base)

# `flask db ...` runs migrations/env.py, which sets every option of the migration context;
# the options Migrate takes are for the env.py that `flask db init` would write, unused here.
migrate = Migrate(directory=PROJECT_ROOT / "migrations")


def use_project_alembic_ini(flask_migrate_config: Config) -> Config:
    """`flask db` reads the project's alembic.ini, as `alembic` does, not migrations/alembic.ini.

    That file holds the revision file names, the ruff hooks for new revisions and the logging
    setup. Flask-Migrate's command options (``autogenerate`` for ``flask db migrate``, ``-x``)
    are kept, so env.py sees them as it sees the ``alembic`` command's.
    """
    return Config(PROJECT_ROOT / "alembic.ini", cmd_opts=flask_migrate_config.cmd_opts)


migrate.configure(use_project_alembic_ini)
