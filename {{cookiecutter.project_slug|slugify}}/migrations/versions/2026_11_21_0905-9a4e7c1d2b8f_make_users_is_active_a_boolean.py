"""make users.is_active a boolean

Revision ID: 9a4e7c1d2b8f
Revises: 6d1f0c2a9b3e
Create Date: 2026-11-21 09:05:00

A data migration that changes a column's type without losing its values: add a column of the
new type, copy the values across, drop the old column, rename the new one. The downgrade does
the same in reverse. ``recreate="never"`` keeps SQLite on plain ALTER TABLE statements (no
table rebuild), so this revision also renders with ``--sql``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9a4e7c1d2b8f"
down_revision: str | Sequence[str] | None = "6d1f0c2a9b3e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
{%- if cookiecutter.database == "postgresql" %}

# Findings of the lint (tests/migrations/test_lint.py) this revision takes on purpose.
lint_accepted = {
    "ban-drop-column": "the boolean takes is_active's name in this revision; "
    "deploy the code that reads it as a boolean with it",
    "renaming-column": "is_active_new lives only inside this revision; no client knows it",
}
{%- endif %}

users = sa.table("users", sa.column("is_active"), sa.column("is_active_new"))


def upgrade() -> None:
    with op.batch_alter_table("users", recreate="never") as batch_op:
        batch_op.add_column(
            sa.Column("is_active_new", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
    op.execute(
        users.update().values(
            is_active_new=sa.case((users.c.is_active == "yes", sa.true()), else_=sa.false())
        )
    )
    with op.batch_alter_table("users", recreate="never") as batch_op:
        batch_op.drop_column("is_active")
        batch_op.alter_column(
            "is_active_new",
            new_column_name="is_active",
            existing_type=sa.Boolean(),
            existing_server_default=sa.true(),
            existing_nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("users", recreate="never") as batch_op:
        batch_op.add_column(
            sa.Column("is_active_new", sa.String(length=3), server_default="yes", nullable=False)
        )
    op.execute(
        users.update().values(
            is_active_new=sa.case((users.c.is_active == sa.true(), "yes"), else_="no")
        )
    )
    with op.batch_alter_table("users", recreate="never") as batch_op:
        batch_op.drop_column("is_active")
        batch_op.alter_column(
            "is_active_new",
            new_column_name="is_active",
            existing_type=sa.String(length=3),
            existing_server_default="yes",
            existing_nullable=False,
        )
