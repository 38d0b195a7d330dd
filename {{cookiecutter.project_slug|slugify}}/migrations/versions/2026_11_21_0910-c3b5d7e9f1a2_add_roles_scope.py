"""add roles.scope

Revision ID: c3b5d7e9f1a2
Revises: 9a4e7c1d2b8f
Create Date: 2026-11-21 09:10:00

An enum column. On PostgreSQL the enum is a type of its own: create it before the column
uses it and drop it after the column is gone, or the downgrade leaves it behind (a plain
``drop_column`` does). Elsewhere ``create`` and ``drop`` do nothing and the column holds the
names as text (SQLite) or as an inline ENUM (MySQL).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c3b5d7e9f1a2"
down_revision: str | Sequence[str] | None = "9a4e7c1d2b8f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

role_scope = sa.Enum("site", "team", name="role_scope")


def upgrade() -> None:
    role_scope.create(op.get_bind())
    with op.batch_alter_table("roles", recreate="never") as batch_op:
        batch_op.add_column(sa.Column("scope", role_scope, server_default="site", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("roles", recreate="never") as batch_op:
        batch_op.drop_column("scope")
    role_scope.drop(op.get_bind())
