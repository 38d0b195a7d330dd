"""Constraint and index names follow the convention and fit the backend's identifier limit."""

from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import CheckConstraint, Column, Connection, ForeignKey, Integer, MetaData, String
from sqlalchemy import inspect as inspect_database

from {{ cookiecutter.package_name }}.models.base import NAMING_CONVENTION

PARENT = "customer_subscription_billing_periods"
CHILD = "customer_subscription_billing_adjustments"
COLUMN = "previous_billing_period_reference_identifier"


def test_long_derived_names_are_shortened_to_fit_and_still_created(connection: Connection) -> None:
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Alembic names what it creates by the convention of the target metadata, as in env.py.
    context = MigrationContext.configure(connection, opts={"target_metadata": metadata})
    operations = Operations(context)
    operations.create_table(PARENT, Column("id", Integer, primary_key=True))
    operations.create_table(
        CHILD,
        Column("id", Integer, primary_key=True),
        Column(COLUMN, Integer, ForeignKey(f"{PARENT}.id"), index=True),
        Column("adjustment_reason_description_text", String(40), unique=True),
        CheckConstraint(f"{COLUMN} > 0", name="positive_reference"),
    )
    connection.commit()

    inspector = inspect_database(connection)
    names = [
        *(fk["name"] for fk in inspector.get_foreign_keys(CHILD)),
        *(index["name"] for index in inspector.get_indexes(CHILD)),
        *(unique["name"] for unique in inspector.get_unique_constraints(CHILD)),
    ]
    limit = connection.dialect.max_identifier_length
    assert len(names) >= 3
    assert all(name and name.startswith(("fk_", "ix_", "uq_")) for name in names), names
    assert all(len(name) <= limit for name in names if name), (limit, names)
    assert len(f"fk_{CHILD}_{COLUMN}_{PARENT}") > 64, "the names must be long enough to matter"
