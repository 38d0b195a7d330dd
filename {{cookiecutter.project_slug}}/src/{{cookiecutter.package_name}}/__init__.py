"""SQLAlchemy models and their Alembic migrations."""
