"""Autogenerate, used the way the generated README teaches, writes revisions you can trust."""

import re

from tests.conftest import BakeProject, Project
from tests.project_edits import PRODUCTS, autogenerate, register_products

# Every kind of change autogenerate must see: an added column with a foreign key and another
# with an index, a removed column, a type change, a nullability change, a new unique constraint.
PRODUCTS_CHANGED = '''\
"""Products for sale."""

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from my_project.models.base import Base
from my_project.models.mixins import TimestampMixin


class Product(TimestampMixin, Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    price_cents: Mapped[int | None] = mapped_column(index=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    category: Mapped[str] = mapped_column(String(40), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
'''


def test_a_new_model_module_becomes_a_revision_with_named_constraints(project: Project) -> None:
    project.run("alembic", "upgrade", "head")
    project.write("src/my_project/models/products.py", PRODUCTS)
    register_products(project)

    revision = autogenerate(project, "add products")

    assert 'op.create_table(\n        "products"' in revision
    for name in ("pk_products", "uq_products_sku", "ix_products_price_cents"):
        assert f'op.f("{name}")' in revision, name
    assert "name=None" not in revision
    assert "import my_project.models.column_types" in revision
    project.run("alembic", "upgrade", "head")
    project.run("alembic", "check")
    project.run("ruff", "check", "migrations")
    project.run("ruff", "format", "--check", "migrations")


def test_changed_columns_constraints_and_keys_are_detected_and_apply_in_batch_mode(
    project: Project,
) -> None:
    project.run("alembic", "upgrade", "head")
    project.write("src/my_project/models/products.py", PRODUCTS)
    register_products(project)
    autogenerate(project, "add products")
    project.run("alembic", "upgrade", "head")
    project.write("src/my_project/models/products.py", PRODUCTS_CHANGED)

    revision = autogenerate(project, "change products")

    expected = {
        "batch mode": r'with op\.batch_alter_table\("products"',
        "added column": r'add_column\(sa\.Column\("name"',
        "removed column": r'drop_column\("legacy_code"\)',
        "type change": r'alter_column\(\s*"sku",(?:(?!batch_op).)*type_=sa\.String\(length=64\)',
        "nullable change": r'alter_column\(\s*"price_cents",(?:(?!batch_op).)*nullable=True',
        "new index": r'create_index\(batch_op\.f\("ix_products_category"\)',
        "new unique": r'create_unique_constraint\(batch_op\.f\("uq_products_name"\)',
        "new foreign key": r'create_foreign_key\(\s*batch_op\.f\("fk_products_owner_id_users"\)',
    }
    upgrade = revision.split("def downgrade")[0]
    missing = [what for what, pattern in expected.items() if not re.search(pattern, upgrade, re.S)]
    assert missing == [], revision
    project.run("alembic", "upgrade", "head")
    project.run("alembic", "check")
    project.run("alembic", "downgrade", "-1")
    project.run("alembic", "upgrade", "head")
    project.run("ruff", "check", "migrations")
    project.run("mypy")
    project.run("pytest", "-p", "no:cacheprovider")


def test_autogenerate_with_nothing_to_change_writes_no_file(project: Project) -> None:
    project.run("alembic", "upgrade", "head")
    before = project.revisions()

    result = project.run("alembic", "revision", "--autogenerate", "-m", "nothing")

    assert "no revision written" in result.stdout
    assert project.revisions() == before


def test_a_model_module_left_out_of_the_package_stops_autogenerate_and_tests(
    project: Project,
) -> None:
    project.run("alembic", "upgrade", "head")
    project.write("src/my_project/models/products.py", PRODUCTS)
    before = project.revisions()

    autogen = project.run("alembic", "revision", "--autogenerate", "-m", "x", check=False)
    tests = project.run("pytest", "-p", "no:cacheprovider", check=False)

    assert autogen.returncode != 0
    assert "my_project.models.products is not imported" in autogen.stderr
    assert project.revisions() == before
    assert tests.returncode != 0
    assert "my_project.models.products is not imported" in tests.stdout + tests.stderr


def test_a_project_without_examples_starts_its_history_with_its_first_model(
    bake: BakeProject,
) -> None:
    project = bake(example_models=False)
    project.install()
    project.run("alembic", "upgrade", "head")
    assert "No new upgrade operations detected" in project.run("alembic", "check").stdout
    project.write("src/my_project/models/products.py", PRODUCTS)
    register_products(project)

    revision = autogenerate(project, "add products")

    assert "down_revision: str | Sequence[str] | None = None" in revision
    assert 'op.f("uq_products_sku")' in revision
    project.run("alembic", "upgrade", "head")
    project.run("alembic", "check")
    assert "CREATE TABLE products" in project.run("alembic", "upgrade", "head", "--sql").stdout
    project.run("pytest", "-p", "no:cacheprovider")
