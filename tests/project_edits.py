"""What a user writes into a baked project in the tests: a model module, its import, revisions."""

from collections.abc import Iterator
from contextlib import contextmanager

from tests.conftest import Project

PRODUCTS = '''\
"""Products for sale."""

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from my_project.models.base import Base
from my_project.models.mixins import TimestampMixin


class Product(TimestampMixin, Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(32), unique=True)
    price_cents: Mapped[int] = mapped_column(index=True)
    legacy_code: Mapped[str | None] = mapped_column(String(10))
'''


def register_model(project: Project, module: str, name: str) -> None:
    """Import ``name`` from models/``module``.py in models/__init__.py and export it, as the
    baked README says."""
    init = project.package / "models" / "__init__.py"
    text = init.read_text(encoding="utf-8")
    text = text.replace(
        "from my_project.models.registration",
        f"from my_project.models.{module} import {name}\nfrom my_project.models.registration",
    ).replace('    "Base",\n', f'    "Base",\n    "{name}",\n')
    init.write_text(text, encoding="utf-8")


def register_products(project: Project) -> None:
    register_model(project, "products", "Product")


def autogenerate(project: Project, message: str, env: dict[str, str] | None = None) -> str:
    """The text of the revision `alembic revision --autogenerate -m message` writes."""
    before = set(project.revisions())
    project.run("alembic", "revision", "--autogenerate", "-m", message, env=env)
    [new] = set(project.revisions()) - before
    return new.read_text(encoding="utf-8")


HEAD = "c3b5d7e9f1a2"

REVISION = '''\
"""{message}

Revision ID: {revision}
Revises: {down_revision}
"""

import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = "{down_revision}"
branch_labels = None
depends_on = None


def upgrade() -> None:
{upgrade}


def downgrade() -> None:
{downgrade}
'''


def plant_revision(
    project: Project, revision: str, upgrade: str, downgrade: str, down_revision: str = HEAD
) -> str:
    """Write a revision file after ``down_revision``; return its file name."""
    name = f"2030_01_01_0000-{revision}_{revision}_planted.py"
    project.write(
        f"migrations/versions/{name}",
        REVISION.format(
            message=f"planted {revision}",
            revision=revision,
            down_revision=down_revision,
            upgrade=upgrade,
            downgrade=downgrade,
        ),
    )
    return name


@contextmanager
def planted(
    project: Project, revision: str, upgrade: str, downgrade: str, down_revision: str = HEAD
) -> Iterator[str]:
    """A revision planted for the duration of the block (its file name), then removed."""
    name = plant_revision(project, revision, upgrade, downgrade, down_revision)
    try:
        yield name
    finally:
        (project.path / "migrations" / "versions" / name).unlink()


# A revision whose second statement outlasts a one-second MIGRATION_STATEMENT_TIMEOUT.
SLOW_STATEMENT = {
    "revision": "5a0e5a0e5a0e",
    "upgrade": '    op.add_column("roles", sa.Column("rank", sa.Integer()))\n'
    '    op.execute("SELECT pg_sleep(5)")',
    "downgrade": '    op.drop_column("roles", "rank")',
}


def recreate_role_key(options: str) -> str:
    """A revision body recreating user_roles' foreign key to roles with ``options``."""
    return (
        '    with op.batch_alter_table("user_roles") as batch_op:\n'
        '        name = "fk_user_roles_role_id_roles"\n'
        '        batch_op.drop_constraint(name, type_="foreignkey")\n'
        f'        batch_op.create_foreign_key(name, "roles", ["role_id"], ["id"]{options})'
    )


# Faulty downgrades of different kinds, each (revision, upgrade, downgrade, what the walk says),
# for plant_chain; the enum one needs PostgreSQL.
FAULTY_DOWNGRADES = [
    (
        "f00000000001",
        '    op.create_table("products", sa.Column("id", sa.Integer(), primary_key=True))',
        "    pass",
        "leaves table products",
    ),
    (
        "f00000000002",
        '    op.create_index("ix_roles_created_at", "roles", ["created_at"])\n'
        '    op.create_index("ix_users_created_at", "users", ["created_at"])',
        '    op.drop_index("ix_users_created_at", table_name="users")',
        "leaves index ix_roles_created_at on roles",
    ),
    (
        "f00000000003",
        '    with op.batch_alter_table("users") as batch_op:\n'
        '        batch_op.alter_column("display_name", type_=sa.String(200))',
        '    with op.batch_alter_table("users") as batch_op:\n'
        '        batch_op.alter_column("display_name", type_=sa.String(150))',
        "leaves column display_name on users as VARCHAR(150) NOT NULL"
        " instead of VARCHAR(100) NOT NULL",
    ),
    (
        "f00000000004",
        '    with op.batch_alter_table("roles") as batch_op:\n'
        '        batch_op.create_check_constraint("name_not_blank", "name <> \'\'")',
        "    pass",
        "leaves check constraint ck_roles_name_not_blank on roles",
    ),
    (
        "f00000000005",
        '    op.create_index("ix_users_updated_at", "users", ["updated_at"])',
        '    raise RuntimeError("this downgrade was never finished")',
        "failed: RuntimeError: this downgrade was never finished",
    ),
    (
        "f00000000006",
        recreate_role_key(', ondelete="RESTRICT"'),
        recreate_role_key(""),
        "leaves foreign key fk_user_roles_role_id_roles on user_roles as (role_id) REFERENCES"
        " roles(id) instead of (role_id) REFERENCES roles(id) ON DELETE CASCADE",
    ),
]

POSTGRESQL_FAULTY_DOWNGRADES = [
    (
        "f00000000007",
        '    level = sa.Enum("low", "high", name="role_level")\n'
        "    level.create(op.get_bind())\n"
        '    op.add_column("roles", sa.Column("level", level))',
        '    op.drop_column("roles", "level")',
        "leaves enum type role_level",
    ),
]


def plant_chain(project: Project, revisions: list[tuple[str, str, str, str]]) -> dict[str, str]:
    """Plant these revisions one after another after HEAD; each file name with its last item."""
    planted, down_revision = {}, HEAD
    for revision, upgrade, downgrade, expected in revisions:
        planted[plant_revision(project, revision, upgrade, downgrade, down_revision)] = expected
        down_revision = revision
    return planted


@contextmanager
def slow_first_revision(project: Project, sleep: str) -> Iterator[None]:
    """Make the first shipped revision sleep first, so that racing deploys surely overlap."""
    first = next(path for path in project.revisions() if "create_users_and_roles" in path.name)
    original = first.read_text(encoding="utf-8")
    slowed = f"def upgrade() -> None:\n    op.execute({sleep!r})\n"
    first.write_text(original.replace("def upgrade() -> None:\n", slowed, 1), encoding="utf-8")
    try:
        yield
    finally:
        first.write_text(original, encoding="utf-8")
