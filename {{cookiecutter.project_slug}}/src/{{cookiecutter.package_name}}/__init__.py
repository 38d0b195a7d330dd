"""{{ cookiecutter.project_name }}: SQLAlchemy models and their Alembic migrations."""
