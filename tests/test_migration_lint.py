"""Changes that lock busy tables: PostgreSQL projects' suites name them (file and rule, through
squawk), pass those accepted on purpose and the README's safe ways; MySQL's README clauses run."""

import re
import textwrap

from tests.conftest import BakeProject, Project
from tests.project_edits import (
    HEAD,
    PRODUCTS,
    REVISION,
    autogenerate,
    plant_revision,
    register_products,
)
from tests.readme import python_blocks
from tests.servers import database_of

LINT_TEST = "tests/migrations/test_lint.py"

# Changes that lock a table the application is using: (revision, upgrade, downgrade, rules).
LOCKING = [
    (
        "a00000000001",
        '    op.create_index("ix_users_created_at", "users", ["created_at"])',
        '    op.drop_index("ix_users_created_at", table_name="users")',
        {"require-concurrent-index-creation"},
    ),
    (
        "a00000000002",
        '    op.add_column("roles", sa.Column("rank", sa.Integer(), nullable=False))',
        '    op.drop_column("roles", "rank")',
        {"adding-required-field"},
    ),
    (
        "a00000000003",
        '    op.add_column("users", sa.Column("manager_id", sa.Integer()))\n'
        '    op.create_foreign_key("fk_users_manager_id_users", "users", "users",'
        ' ["manager_id"], ["id"])',
        '    op.drop_constraint("fk_users_manager_id_users", "users", type_="foreignkey")\n'
        '    op.drop_column("users", "manager_id")',
        {"constraint-missing-not-valid", "adding-foreign-key-constraint"},
    ),
    (
        "a00000000004",
        '    op.create_check_constraint("name_not_blank", "roles", "name <> \'\'")',
        '    op.drop_constraint("ck_roles_name_not_blank", "roles", type_="check")',
        {"constraint-missing-not-valid"},
    ),
    (
        "a00000000005",
        '    op.alter_column("users", "display_name", type_=sa.Text(),'
        " existing_type=sa.String(100))",
        '    op.alter_column("users", "display_name", type_=sa.String(100),'
        " existing_type=sa.Text())",
        {"changing-column-type"},
    ),
    (
        "a00000000006",
        '    op.alter_column("roles", "description", nullable=False, existing_type=sa.Text())',
        '    op.alter_column("roles", "description", nullable=True, existing_type=sa.Text())',
        {"adding-not-nullable-field"},
    ),
    (
        "a00000000007",
        '    op.drop_index("ix_users_display_name", table_name="users")',
        '    op.create_index("ix_users_display_name", "users", ["display_name"])',
        {"require-concurrent-index-deletion"},
    ),
]


def planted_locks(project: Project) -> dict[str, set[str]]:
    """Plant LOCKING one after another; each file name with the rules squawk must name."""
    planted, down_revision = {}, HEAD
    for revision, upgrade, downgrade, rules in LOCKING:
        planted[plant_revision(project, revision, upgrade, downgrade, down_revision)] = rules
        down_revision = revision
    return planted


def named(output: str) -> dict[str, set[str]]:
    """The files and rules the lint named: ``<file>: <rule> (<statement>): <message>``."""
    found: dict[str, set[str]] = {}
    for name, rule in re.findall(r"^(\S+\.py): ([a-z-]+) \(", output, re.MULTILINE):
        found.setdefault(name, set()).add(rule)
    return found


def accept(project: Project, name: str, accepted: dict[str, str]) -> None:
    """Set ``lint_accepted = accepted`` in the revision file ``name``."""
    path = project.path / "migrations" / "versions" / name
    text = re.sub(r"^lint_accepted = .*\n", "", path.read_text(encoding="utf-8"), flags=re.M)
    marker = f"depends_on = None\nlint_accepted = {accepted!r}\n"
    path.write_text(text.replace("depends_on = None\n", marker), encoding="utf-8")


def test_each_change_that_locks_a_busy_table_is_named_with_its_file_and_rule(
    bake: BakeProject,
) -> None:
    project = bake(database="postgresql")
    project.install()
    planted = planted_locks(project)

    result = project.run("pytest", "-p", "no:cacheprovider", check=False)

    assert result.returncode != 0
    assert named(result.stdout) == planted, result.stdout
    assert "FAILED tests/migrations/test_lint.py::" in result.stdout


def test_a_revision_that_accepts_its_findings_passes_and_a_marker_accepting_nothing_is_named(
    bake: BakeProject,
) -> None:
    project = bake(database="postgresql")
    project.install()
    planted = planted_locks(project)
    for name, rules in planted.items():
        accept(project, name, {rule: "the table is small" for rule in rules})

    project.run("pytest", "-p", "no:cacheprovider", LINT_TEST)

    first, rules = next(iter(planted.items()))
    accept(project, first, {**dict.fromkeys(rules, "the table is small"), "ban-drop-table": "no"})
    stale = project.run("pytest", "-p", "no:cacheprovider", LINT_TEST, check=False)
    assert stale.returncode != 0
    assert (
        f"{first}: lint_accepted accepts ban-drop-table, which squawk does not find in it"
    ) in stale.stdout
    assert named(stale.stdout) == {}, stale.stdout


# Run by the project's Python: statements through the project's own engine; rows printed.
RUN_SQL = """
import sys
from sqlalchemy import text
from my_project.db import create_db_engine

with create_db_engine().begin() as connection:
    for statement in sys.argv[1:]:
        result = connection.execute(text(statement))
    print(result.all() if result.returns_rows else "")
"""

# The products model with what the README's safe revisions add: an index and a foreign key.
PRODUCTS_AFTER = (
    PRODUCTS.replace("mapped_column(String(10))", "mapped_column(String(10), index=True)").replace(
        "from sqlalchemy import String",
        "from sqlalchemy import ForeignKey, String",
    )
    + '    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))\n'
)


def write_revision(project: Project, revision: str, down_revision: str, body: str) -> str:
    """A revision file with REVISION's header and ``body`` (module lines and functions)."""
    header = REVISION.split("\n\ndef upgrade()")[0].format(
        message=f"safe {revision}", revision=revision, down_revision=down_revision
    )
    if "sa." not in body:
        header = header.replace("import sqlalchemy as sa\n", "")
    name = f"2030_01_01_0000-{revision}_safe.py"
    project.write(f"migrations/versions/{name}", f"{header}\n\n{body}")
    return name


def test_the_readme_safe_ways_pass_the_whole_suite_and_fill_every_row(bake: BakeProject) -> None:
    project = bake(database="postgresql")
    project.install()
    readme = (project.path / "README.md").read_text(encoding="utf-8")
    heading = "### Changes that lock busy tables"
    index, foreign_key, validate, backfill, marker = (
        textwrap.dedent(block) for block in python_blocks(readme, heading)
    )
    assert "lint_accepted = {" in marker

    with database_of(project.test_database_url) as environment:

        def sql(*statements: str) -> str:
            return project.run("python", "-c", RUN_SQL, *statements, env=environment).stdout

        project.run("alembic", "upgrade", "head", env=environment)
        project.write("src/my_project/models/products.py", PRODUCTS)
        register_products(project)
        created = autogenerate(project, "add products", environment)
        [products] = re.findall(r'^revision: str = "(\w+)"', created, re.M)
        project.run("alembic", "upgrade", "head", env=environment)
        sql(
            "INSERT INTO products (sku, price_cents) SELECT 'sku-' || n, n"
            " FROM generate_series(1, 2500) AS n"
        )
        project.write("src/my_project/models/products.py", PRODUCTS_AFTER)
        chain = [("b00000000001", index), ("b00000000002", foreign_key)]
        chain += [("b00000000003", validate), ("b00000000004", backfill)]
        down, files = products, []
        for revision, body in chain:
            files.append(write_revision(project, revision, down, body))
            down = revision

        project.run("alembic", "upgrade", "head", env=environment)
        assert sql("SELECT count(*) FROM products WHERE legacy_code IS NULL") == "[(0,)]\n"
        valid = (
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'ix_products_legacy_code'::regclass"
        )
        assert sql(valid) == "[(True,)]\n"
        assert (
            "No new upgrade operations detected"
            in project.run("alembic", "check", env=environment).stdout
        )

    paths = [f"migrations/versions/{name}" for name in files]
    project.run("ruff", "check", *paths)
    project.run("ruff", "format", "--check", *paths)
    project.run("mypy")
    tests = project.run("pytest", "-p", "no:cacheprovider", "-v").stdout
    assert "test_lint.py::test_no_revision_takes_a_lock_that_stops_a_busy_table PASSED" in tests
    assert re.search(r"test_round_trip\.py::test_every_revision\S+ PASSED", tests), tests
    assert "skipped" not in tests.splitlines()[-1], tests


def test_the_lint_ships_with_postgresql_projects_only(bake: BakeProject) -> None:
    for database in ("sqlite", "mysql", "postgresql"):
        project = bake(database=database)
        files = [project.path / LINT_TEST, project.path / "tests/migrations/lint.py"]
        pyproject = (project.path / "pyproject.toml").read_text(encoding="utf-8")
        readme = (project.path / "README.md").read_text(encoding="utf-8")
        shipped = database == "postgresql"
        assert [path.is_file() for path in files] == [shipped, shipped], database
        assert ('"squawk-cli>=' in pyproject) == shipped, database
        assert ("squawk" in readme) == shipped, database


def test_the_mysql_readme_algorithm_clauses_run_and_the_server_refuses_a_copy(
    bake: BakeProject,
) -> None:
    project = bake(database="mysql")
    project.install()
    readme = (project.path / "README.md").read_text(encoding="utf-8")
    [instant] = python_blocks(readme, "### Changes that lock busy tables")

    with database_of(project.test_database_url) as environment:
        project.run("alembic", "upgrade", "head", env=environment)
        project.write("src/my_project/models/products.py", PRODUCTS)
        register_products(project)
        created = autogenerate(project, "add products", environment)
        [products] = re.findall(r'^revision: str = "(\w+)"', created, re.M)
        # The model gets the same column and index, as the README says.
        project.write(
            "src/my_project/models/products.py",
            PRODUCTS.replace("mapped_column(String(10))", "mapped_column(String(10), index=True)")
            + "    note: Mapped[str | None] = mapped_column(String(200))\n",
        )
        write_revision(project, "c00000000001", products, textwrap.dedent(instant))
        for step in (("upgrade", "head"), ("downgrade", "-1"), ("upgrade", "head")):
            project.run("alembic", *step, env=environment)
        assert "No new upgrade operations detected" in (
            project.run("alembic", "check", env=environment).stdout
        )

        # A change that must copy the table is refused, and nothing is changed.
        copy = 'op.execute("ALTER TABLE products MODIFY price_cents BIGINT, ALGORITHM=INSTANT")'
        write_revision(
            project, "c00000000002", "c00000000001", f"def upgrade() -> None:\n    {copy}\n"
        )
        refused = project.run("alembic", "upgrade", "head", env=environment, check=False)
        assert refused.returncode != 0
        assert "ALGORITHM=INSTANT is not supported" in refused.stdout + refused.stderr
        current = project.run("alembic", "current", env=environment).stdout
        assert current.split()[0] == "c00000000001", current
