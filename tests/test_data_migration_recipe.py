"""The baked README's data migration and its test work as written, on every database."""

import re

import pytest

from tests.conftest import BakeProject
from tests.project_edits import PRODUCTS, autogenerate, register_products
from tests.readme import python_blocks
from tests.servers import database_of

TEST_FILE = "tests/migrations/test_product_names.py"

# Run by the project's Python: one statement through the project's own engine; rows printed.
RUN_SQL = """
import sys
from sqlalchemy import text
from my_project.db import create_db_engine

with create_db_engine().begin() as connection:
    result = connection.execute(text(sys.argv[1]))
    print(result.all() if result.returns_rows else "")
"""


# Each database is a unit of work of its own for the xdist workers.
WORKER_SPLIT = "database"


@pytest.mark.parametrize("database", ["sqlite", "postgresql", "mysql"])
def test_the_readme_data_migration_fills_a_required_column_and_its_test_passes(
    bake: BakeProject, database: str
) -> None:
    project = bake(database=database)
    project.install()
    readme = (project.path / "README.md").read_text(encoding="utf-8")
    field, revision_body = python_blocks(readme, "### Write a data migration")
    [test_code] = [
        block
        for block in python_blocks(readme, "### Tests")
        if "def test_existing_products_are_named_after_their_sku" in block
    ]
    model = project.package / "models" / "products.py"

    with database_of(project.test_database_url) as environment:

        def sql(statement: str) -> str:
            return project.run("python", "-c", RUN_SQL, statement, env=environment).stdout

        project.run("alembic", "upgrade", "head", env=environment)
        project.write("src/my_project/models/products.py", PRODUCTS)
        register_products(project)
        autogenerate(project, "add products", environment)
        project.run("alembic", "upgrade", "head", env=environment)
        sql("INSERT INTO products (sku, price_cents) VALUES ('a-1', 150), ('b-2', 275)")

        # The README's field, in the class: autogenerate adds it as required in one step.
        model.write_text(model.read_text(encoding="utf-8") + field, encoding="utf-8")
        written = autogenerate(project, "name the products", environment)
        required = r'add_column\((\s*"products",)?\s*sa\.Column\(\s*"name".*?nullable=False'
        assert re.search(required, written, re.S), written
        [path] = [p for p in project.revisions() if p.name.endswith("_name_the_products.py")]
        as_written = project.run("alembic", "upgrade", "head", env=environment, check=False)
        if database == "mysql":
            assert sql("SELECT sku, name FROM products ORDER BY sku").strip() == (
                "[('a-1', ''), ('b-2', '')]"
            )
            project.run("alembic", "downgrade", "-1", env=environment)
        else:
            assert as_written.returncode != 0

        # Written as the README says, the rows take their SKU as their name.
        header = written.split("\ndef upgrade()", 1)[0]
        path.write_text(f"{header}\n{revision_body}", encoding="utf-8")
        project.run("alembic", "upgrade", "head", env=environment)
        assert sql("SELECT sku, name FROM products ORDER BY sku").strip() == (
            "[('a-1', 'a-1'), ('b-2', 'b-2')]"
        )
        check = project.run("alembic", "check", env=environment).stdout
        assert "No new upgrade operations detected" in check

    [revision_id] = re.findall(r'^revision: str = "(\w+)"', written, re.M)
    project.write(TEST_FILE, test_code.replace("<revision id>", revision_id))
    project.run("ruff", "check", str(path), TEST_FILE)
    project.run("ruff", "format", "--check", str(path), TEST_FILE)
    project.run("mypy")
    tests = project.run("pytest", "-p", "no:cacheprovider", "-v").stdout
    assert "test_existing_products_are_named_after_their_sku PASSED" in tests
    assert re.search(r"test_round_trip\.py::\S+ PASSED", tests)
