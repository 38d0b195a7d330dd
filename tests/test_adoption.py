"""An existing Alembic project adopts the baked env.py by following the baked README's steps."""

import re
import shlex
import shutil
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from uv import find_uv_bin

from tests.conftest import SERVERS, BakeProject, Project
from tests.servers import server

SECTION = "## Adopting this env.py in an existing project"

# The existing project's models, all in one module and with no naming convention: its unique
# constraints are unnamed, and some of its defaults are set by the database.
SHOP_MODELS = '''\
"""The shop's tables."""

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint, false, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(200), unique=True)
    joined_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (UniqueConstraint("customer_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    number: Mapped[int]
    paid: Mapped[bool] = mapped_column(server_default=false())
    note: Mapped[str | None] = mapped_column(String(500))
'''


@dataclass
class AdoptionSteps:
    """What the README's adoption section says to do, read from its tables and commands."""

    copies: list[tuple[str, str]]  # (file in the baked project, where it goes)
    edits: list[tuple[str, str, str]]  # (file, line, what the line becomes)
    ini_option: str  # the option to delete from alembic.ini
    requirement: str  # the dependency to add
    checks: list[str]  # the commands that show nothing else changed


def adoption_section(readme: str) -> str:
    """The README's adoption section, its subsections included."""
    return readme.split(SECTION, 1)[1].split("\n## ", 1)[0]


def adoption_steps(readme: str) -> AdoptionSteps:
    section = adoption_section(readme).split("\n### ", 1)[0]  # the numbered steps
    rows = [
        [re.findall(r"`([^`]+)`", cell)[0] for cell in line.strip().strip("|").split("|")]
        for line in section.splitlines()
        if line.strip().startswith("| `")
    ]
    consoles = re.findall(r"```console\n(.*?)```", section, re.DOTALL)
    ini_option = re.search(r"Delete the `([^`]+)` line from `alembic.ini`", section)
    requirement = re.fullmatch(r'pip install "([^"]+)"', consoles[0].strip())
    assert ini_option and requirement, "the README no longer says which option or dependency"
    return AdoptionSteps(
        copies=[(source, target) for source, target in (row for row in rows if len(row) == 2)],
        edits=[(file, line, new) for file, line, new in (row for row in rows if len(row) == 3)],
        ini_option=ini_option[1],
        requirement=requirement[1],
        checks=[line.split("#")[0].strip() for line in consoles[1].strip().splitlines()],
    )


def distribution(requirement: str) -> str:
    """The distribution a requirement names: ``pydantic-settings>=2.6`` -> pydantic-settings."""
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower()


def dependencies_of(project: Project) -> list[str]:
    """The ``[project] dependencies`` of the baked pyproject.toml."""
    pyproject = (project.path / "pyproject.toml").read_text(encoding="utf-8")
    listed = re.search(r"^dependencies = \[\n(.*?)^\]", pyproject, re.MULTILINE | re.DOTALL)
    assert listed, "pyproject.toml lists no dependencies"
    return re.findall(r'"([^"]+)"', listed[1])


@dataclass
class Databases:
    """The shop's database as alembic.ini and as DATABASE_URL name it, and an empty one."""

    ini_url: str
    url: str
    other_url: str


@contextmanager
def databases_for(project: Project, shop: Project) -> Iterator[Databases]:
    """SQLite files in the shop's directory, or two throwaway databases on the test server."""
    if project.test_database_url is None:
        yield Databases("sqlite:///shop.db", "sqlite:///shop.db", "sqlite:///elsewhere.db")
        return
    server_url = urlsplit(project.test_database_url)
    driver, driverless = project.context["__driver"], project.context["database"]
    with server(project.test_database_url) as admin:
        names = [admin.create_database(), admin.create_database()]
        yield Databases(
            ini_url=server_url._replace(scheme=driver, path=f"/{names[0]}").geturl(),
            # Driverless, as hosting platforms hand them out.
            url=server_url._replace(scheme=driverless, path=f"/{names[0]}").geturl(),
            other_url=server_url._replace(scheme=driverless, path=f"/{names[1]}").geturl(),
        )


def shop_with(tmp_path: Path, requirements: list[str]) -> Project:
    """The existing project's directory, with a virtualenv holding ``requirements``."""
    shop = Project(tmp_path / "shop", {})
    shop.path.mkdir()
    uv = find_uv_bin()
    shop.run(uv, "venv", "--quiet", "--python", sys.executable, ".venv")
    shop.run(uv, "pip", "install", "--quiet", "--python", ".venv/bin/python", *requirements)
    return shop


def replace_line(path: Path, line: str, new: str | None) -> None:
    """Replace (or, with None, delete) the one line of ``path`` that is ``line``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines.count(line) == 1, f"{path.name} has no single line {line!r}"
    lines[lines.index(line) : lines.index(line) + 1] = [] if new is None else [new]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def start_the_shop(
    shop: Project, ini_url: str, models: str = SHOP_MODELS, history: dict[str, str] | None = None
) -> str:
    """`alembic init`, models in one module, the URL in alembic.ini, migrated; its revision.

    The history is one autogenerated revision, or the revision files ``history`` gives.
    """
    shop.run("alembic", "init", "migrations")
    shop.write("app/__init__.py", "")
    shop.write("app/models.py", models)
    ini = shop.path / "alembic.ini"
    [url_line] = [
        line for line in ini.read_text().splitlines() if line.startswith("sqlalchemy.url")
    ]
    replace_line(ini, url_line, f"sqlalchemy.url = {ini_url}")
    env_py = shop.path / "migrations" / "env.py"
    replace_line(
        env_py,
        "target_metadata = None",
        "from app.models import Base\ntarget_metadata = Base.metadata",
    )
    if history is None:
        shop.run("alembic", "revision", "--autogenerate", "-m", "create shop tables")
    for name, text in (history or {}).items():
        shop.write(f"migrations/versions/{name}", text)
    shop.run("alembic", "upgrade", "head")
    return shop.run("alembic", "current").stdout.split()[0]


def adopt(shop: Project, project: Project, steps: AdoptionSteps) -> None:
    """Steps 1 to 4 of the README, as it gives them."""
    for source, target in steps.copies:
        shutil.copyfile(project.path / source, shop.path / target)
    for file, line, new in steps.edits:
        replace_line(shop.path / file, line, new)
    # Step 2: a models module with only a declarative Base adds its metadata.
    with (shop.path / "app" / "models.py").open("a", encoding="utf-8") as models:
        models.write("\nmetadata = Base.metadata\n")
    ini = shop.path / "alembic.ini"
    [option] = [line for line in ini.read_text().splitlines() if line.startswith(steps.ini_option)]
    replace_line(ini, option, None)
    shop.run(
        find_uv_bin(),
        "pip",
        "install",
        "--quiet",
        "--python",
        ".venv/bin/python",
        steps.requirement,
    )


# A type of the shop's own, for a column added after adoption: the revision must import it.
COUPON_CODE = '''\
class CouponCode(TypeDecorator[str]):
    """Coupon codes, stored upper-case."""

    impl = String(20)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: object) -> str | None:
        return None if value is None else value.upper()


class Base(DeclarativeBase):'''

ADOPTERS = {
    "sqlite": {},
    "sqlite-async": {"async_driver": True},
    "postgresql": {"database": "postgresql"},
    "mysql": {"database": "mysql"},
}


@pytest.mark.parametrize("answers", ADOPTERS.values(), ids=ADOPTERS.keys())
def test_an_alembic_init_project_keeps_its_revision_and_takes_its_url_from_the_environment(
    bake: BakeProject, tmp_path: Path, answers: dict[str, Any]
) -> None:
    project = bake(**answers)
    database = project.context["database"]
    steps = adoption_steps((project.path / "README.md").read_text(encoding="utf-8"))
    # Two lines to adapt, both in env.py: settings.py finds the shop's root by itself.
    assert [file for file, _, _ in steps.edits] == ["migrations/env.py"] * 2
    dependencies = dependencies_of(project)
    # The one dependency the README adds is the project's own; the shop has all the others.
    assert steps.requirement in dependencies
    added = distribution(steps.requirement)
    shop = shop_with(tmp_path, [d for d in dependencies if distribution(d) != added])

    with databases_for(project, shop) as databases:
        revision = start_the_shop(shop, databases.ini_url)
        adopt(shop, project, steps)

        # Step 5, with the URL that alembic.ini held now in the environment.
        assert steps.checks == ["alembic current", "alembic check"]
        from_environment = {"DATABASE_URL": databases.url}
        current = shop.run("alembic", "current", env=from_environment).stdout
        assert current.split()[0] == revision
        check = shop.run("alembic", "check", env=from_environment).stdout
        assert "No new upgrade operations detected" in check

        # alembic.ini names no database any more: with nothing set, the shop's is not found.
        assert revision not in shop.run("alembic", "current", check=False).stdout
        shop.write(".env", f"DATABASE_URL={databases.url}\n")
        assert revision in shop.run("alembic", "current").stdout

        # The environment wins over .env, and takes Alembic to another database.
        elsewhere = {"DATABASE_URL": databases.other_url}
        assert revision not in shop.run("alembic", "current", env=elsewhere).stdout
        if database == "sqlite":
            assert (shop.path / "elsewhere.db").exists()

        # The next model change, with a type of the shop's own, autogenerates on top of the
        # old history, imports that type, and applies.
        models = shop.path / "app" / "models.py"
        replace_line(
            models,
            "from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column",
            "from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column\n"
            "from sqlalchemy.types import TypeDecorator",
        )
        replace_line(models, "class Base(DeclarativeBase):", COUPON_CODE)
        replace_line(
            models,
            "    note: Mapped[str | None] = mapped_column(String(500))",
            "    note: Mapped[str | None] = mapped_column(String(500))\n"
            "    coupon: Mapped[str | None] = mapped_column(CouponCode(), index=True)",
        )
        shop.run("alembic", "revision", "--autogenerate", "-m", "add coupon")
        [coupon_revision] = (shop.path / "migrations" / "versions").glob("*add_coupon.py")
        text = coupon_revision.read_text(encoding="utf-8")
        assert "import app.models\n" in text
        assert "app.models.CouponCode(" in text
        upgrade = shop.run("alembic", "upgrade", "head")
        assert re.search(rf"Running upgrade {revision} -> \w+, add coupon", upgrade.stderr)


CONVENTION_SECTION = "### Taking on the naming convention"
TESTS_SECTION = "### The round-trip tests for your history"
OWN_ENV_SECTION = "#### With your own env.py and settings"


def subsection(readme: str, heading: str) -> str:
    """One ### subsection of the README's adoption section."""
    return adoption_section(readme).split(f"\n{heading}\n", 1)[1].split("\n### ", 1)[0]


def table_rows(text: str) -> list[list[str]]:
    """The rows of the tables in ``text``, each cell as its first `code span`."""
    return [
        [re.findall(r"`([^`]+)`", cell)[0] for cell in line.strip().strip("|").split("|")]
        for line in text.splitlines()
        if line.strip().startswith("| `")
    ]


def console_lines(text: str) -> list[str]:
    """The command lines of the console blocks in ``text``, without comments."""
    blocks = re.findall(r"```console\n(.*?)```", text, re.DOTALL)
    lines = (line.split("#")[0].strip() for block in blocks for line in block.splitlines())
    return [line for line in lines if line]


# A league's models and history from before it had a naming convention. Its first revision,
# hand-written, creates a foreign key without a name; the second drops that key by the name
# PostgreSQL gave it, to make awards go with their team.
LEAGUE_MODELS = '''\
"""The league's tables."""

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)


class Award(Base):
    __tablename__ = "awards"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(120))
'''

LEAGUE_HISTORY = {
    "1a1a1a1a1a1a_create_teams_and_awards.py": '''\
"""create teams and awards

Revision ID: 1a1a1a1a1a1a
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "1a1a1a1a1a1a"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "awards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"]),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade():
    op.drop_table("awards")
    op.drop_table("teams")
''',
    "2b2b2b2b2b2b_awards_go_with_their_team.py": '''\
"""awards go with their team

Revision ID: 2b2b2b2b2b2b
Revises: 1a1a1a1a1a1a
"""

from alembic import op

revision = "2b2b2b2b2b2b"
down_revision = "1a1a1a1a1a1a"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_constraint("awards_team_id_fkey", "awards", type_="foreignkey")
    op.create_foreign_key(
        "awards_team_id_fkey", "awards", "teams", ["team_id"], ["id"], ondelete="CASCADE"
    )


def downgrade():
    op.drop_constraint("awards_team_id_fkey", "awards", type_="foreignkey")
    op.create_foreign_key("awards_team_id_fkey", "awards", "teams", ["team_id"], ["id"])
''',
}

# The first model the league adds after adopting: its revision is autogenerated.
TROPHIES = """

class Trophy(Base):
    __tablename__ = "trophies"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    name: Mapped[str] = mapped_column(String(80), unique=True)
"""


def constraint_names(url: str, kind: str) -> set[str]:
    """The names of the constraints of ``kind`` (f, u, p) in the PostgreSQL database ``url``."""
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT conname FROM pg_constraint JOIN pg_namespace n ON n.oid = connamespace "
            "WHERE nspname = 'public' AND contype = %s",
            (kind,),
        ).fetchall()
    return {name for (name,) in rows}


def test_a_history_written_without_a_naming_convention_builds_a_fresh_database_after_adopting(
    bake: BakeProject, tmp_path: Path
) -> None:
    project = bake(database="postgresql")
    readme = (project.path / "README.md").read_text(encoding="utf-8")
    steps = adoption_steps(readme)
    convention = subsection(readme, CONVENTION_SECTION)
    [switch] = re.findall(r"`(\w+) = False`", convention)
    assert console_lines(convention) == [
        'alembic revision --autogenerate -m "name constraints by the convention"',
        "alembic upgrade head",
    ]
    rename, upgrade = (shlex.split(line) for line in console_lines(convention))
    round_trip = subsection(readme, TESTS_SECTION).split(OWN_ENV_SECTION, 1)[0]
    test_copies = [row for row in table_rows(round_trip) if len(row) == 2]
    test_edits = [row for row in table_rows(round_trip) if len(row) == 3]
    base_py = (project.package / "models" / "base.py").read_text(encoding="utf-8")
    [naming_convention] = re.findall(r"^NAMING_CONVENTION = \{\n.*?^\}\n", base_py, re.M | re.S)
    added = distribution(steps.requirement)
    requirements = [d for d in dependencies_of(project) if distribution(d) != added]
    shop = shop_with(tmp_path, [*requirements, "pytest"])
    env_py = shop.path / "migrations" / "env.py"
    models = shop.path / "app" / "models.py"

    with databases_for(project, shop) as databases:
        revision = start_the_shop(shop, databases.ini_url, LEAGUE_MODELS, LEAGUE_HISTORY)
        assert revision == "2b2b2b2b2b2b"
        assert constraint_names(databases.url, "f") == {"awards_team_id_fkey"}
        adopt(shop, project, steps)
        existing = {"DATABASE_URL": databases.url}
        fresh = {"DATABASE_URL": databases.other_url}
        assert "No new upgrade operations" in shop.run("alembic", "check", env=existing).stdout

        # Step 2 of the convention: the MetaData gets the project's naming convention.
        replace_line(
            models,
            "from sqlalchemy import ForeignKey, String",
            f"from sqlalchemy import ForeignKey, MetaData, String\n{naming_convention}",
        )
        replace_line(
            models, "    pass", "    metadata = MetaData(naming_convention=NAMING_CONVENTION)"
        )
        # Without step 1, Alembic names the old revision's foreign key by the convention on a
        # fresh database, and the revision after it cannot drop awards_team_id_fkey.
        failed = shop.run("alembic", "upgrade", "head", env=fresh, check=False)
        assert failed.returncode != 0
        assert 'constraint "awards_team_id_fkey" of relation "awards" does not exist' in (
            failed.stdout + failed.stderr
        )
        assert constraint_names(databases.other_url, "f") == {"fk_awards_team_id_teams"}
        shop.run("alembic", "downgrade", "base", env=fresh)

        # Step 1, then step 3: the unique constraint the database named takes the
        # convention's name, in a revision of its own.
        replace_line(env_py, f"{switch} = True", f"{switch} = False")
        shop.run(*rename, env=existing)
        [renaming] = (shop.path / "migrations" / "versions").glob("*name_constraints_by_the*.py")
        # (The league's alembic.ini formats no revision: Alembic writes single quotes.)
        upgrade_text = (
            renaming.read_text(encoding="utf-8").replace("'", '"').split("def downgrade")[0]
        )
        assert 'op.drop_constraint(op.f("teams_name_key"), "teams", type_="unique")' in upgrade_text
        assert (
            'op.create_unique_constraint(op.f("uq_teams_name"), "teams", ["name"]' in upgrade_text
        )
        shop.run(*upgrade, env=existing)
        assert "No new upgrade operations" in shop.run("alembic", "check", env=existing).stdout

        # A fresh database gets the history's own names, then the convention's.
        shop.run("alembic", "upgrade", "head", env=fresh)
        for url in (databases.url, databases.other_url):
            assert constraint_names(url, "f") == {"awards_team_id_fkey"}
            assert constraint_names(url, "u") == {"uq_teams_name"}

        # A new model's revision, autogenerated, spells the convention's names out.
        with models.open("a", encoding="utf-8") as module:
            module.write(TROPHIES)
        shop.run("alembic", "revision", "--autogenerate", "-m", "add trophies", env=existing)
        [trophies] = (shop.path / "migrations" / "versions").glob("*add_trophies.py")
        text = trophies.read_text(encoding="utf-8").replace("'", '"')
        for name in ("pk_trophies", "fk_trophies_team_id_teams", "uq_trophies_name"):
            assert f'op.f("{name}")' in text
        for environment in (existing, fresh):
            shop.run("alembic", "upgrade", "head", env=environment)
        assert "fk_trophies_team_id_teams" in constraint_names(databases.other_url, "f")

        # The project's round-trip tests, copied as the README says, walk the whole history
        # from an empty database of their own.
        for source, target in test_copies:
            (shop.path / target).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(project.path / source, shop.path / target)
        for file, line, new in test_edits:
            replace_line(shop.path / file, line, new)
        assert project.test_database_url is not None
        walked = shop.run(
            "pytest", "-p", "no:cacheprovider", env={"TEST_DATABASE_URL": project.test_database_url}
        )
        summary = walked.stdout.strip().splitlines()[-1]
        assert re.search(r"\b6 passed\b", summary) and "skipped" not in summary, walked.stdout


# A store's tables, in one module with no naming convention, and its hand-written history: the
# first revision's foreign key, unique and check constraints are unnamed, the second moves
# data, the third adds a column and an index.
STORE_MODELS = """\
\"\"\"The store's tables.\"\"\"

from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Numeric, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(200), unique=True)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (CheckConstraint("total >= 0"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    total: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    status: Mapped[str] = mapped_column(String(20), index=True)
    note: Mapped[str | None] = mapped_column(String(500))
"""


def store_revision(revision: str, down: str | None, message: str, up: str, down_body: str) -> str:
    return f"""\
\"\"\"{message}

Revision ID: {revision}
Revises: {down or ""}
\"\"\"

import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade():
{up}

def downgrade():
{down_body}
"""


ADD_NOTE_DOWNGRADE = """\
    op.drop_index("ix_orders_status", table_name="orders")
    op.drop_column("orders", "note")
"""

STORE_HISTORY = {
    "aaaa00000001_create_customers_and_orders.py": store_revision(
        "aaaa00000001",
        None,
        "create customers and orders",
        """\
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("total", sa.Numeric(10, 2), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.CheckConstraint("total >= 0"),
        sa.PrimaryKeyConstraint("id"),
    )
""",
        """\
    op.drop_table("orders")
    op.drop_table("customers")
""",
    ),
    "aaaa00000002_walk_in_customer_and_open_orders.py": store_revision(
        "aaaa00000002",
        "aaaa00000001",
        "walk-in customer and open orders",
        """\
    op.execute("INSERT INTO customers (email) VALUES ('walk-in@store.example')")
    op.execute("UPDATE orders SET status = 'open' WHERE status = 'new'")
""",
        """\
    op.execute("UPDATE orders SET status = 'new' WHERE status = 'open'")
    op.execute("DELETE FROM customers WHERE email = 'walk-in@store.example'")
""",
    ),
    "aaaa00000003_add_order_note.py": store_revision(
        "aaaa00000003",
        "aaaa00000002",
        "add order note",
        """\
    op.add_column("orders", sa.Column("note", sa.String(length=500), nullable=True))
    op.create_index("ix_orders_status", "orders", ["status"])
""",
        ADD_NOTE_DOWNGRADE,
    ),
}


def python_blocks(text: str) -> list[str]:
    return [textwrap.dedent(block) for block in re.findall(r"```python\n(.*?)```", text, re.S)]


def test_a_project_with_its_own_env_py_adopts_the_round_trip_tests_alone(
    bake: BakeProject, tmp_path: Path
) -> None:
    project = bake()
    readme = (project.path / "README.md").read_text(encoding="utf-8")
    tests_section = subsection(readme, TESTS_SECTION)
    copies = [row for row in table_rows(tests_section) if len(row) == 2]
    own = tests_section.split(OWN_ENV_SECTION, 1)[1]
    edits = [row for row in table_rows(own) if len(row) == 3]
    driver_module, online = python_blocks(own)
    assert "Add `import os` at the top of env.py" in own
    requirements = ["alembic>=1.16", "sqlalchemy>=2.0.36", "pytest", "psycopg[binary]"]
    shop = shop_with(tmp_path, requirements)
    start_the_shop(shop, "sqlite:///store.db", STORE_MODELS, STORE_HISTORY)

    for source, target in copies:
        (shop.path / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(project.path / source, shop.path / target)
    shop.write("tests/database_driver.py", driver_module)
    env_py = shop.path / "migrations" / "env.py"
    stock = env_py.read_text(encoding="utf-8")
    start = stock.index("def run_migrations_online")
    end = stock.index("\n\nif context.is_offline_mode()")
    env_py.write_text(f"import os\n{stock[:start]}{online.rstrip()}{stock[end:]}", "utf-8")
    for file, line, new in edits:  # the line as written, at whatever indentation
        lines = (shop.path / file).read_text(encoding="utf-8").splitlines()
        [indented] = [written for written in lines if written.strip() == line]
        replace_line(shop.path / file, indented, indented.replace(line, new))
    assert not list(shop.path.rglob("settings.py"))

    def suite(**env: str) -> str:
        walked = shop.run("pytest", "-p", "no:cacheprovider", env=env, check=False)
        return walked.stdout

    summary = suite().strip().splitlines()[-1]
    assert re.search(r"\b6 passed\b", summary) and "skipped" not in summary, summary

    # A downgrade that forgets the column and the index: the copied suite names its file.
    note = shop.path / "migrations" / "versions" / "aaaa00000003_add_order_note.py"
    text = note.read_text(encoding="utf-8")
    note.write_text(text.replace(ADD_NOTE_DOWNGRADE, "    pass\n"), encoding="utf-8")
    planted = suite()
    assert "1 failed" in planted, planted
    verdict = [line for line in planted.splitlines() if line.startswith(("downgrade", "upgrade"))]
    assert verdict == [
        "downgrade of aaaa00000003_add_order_note.py leaves column note on orders; "
        "leaves index ix_orders_status on orders"
    ], planted
    note.write_text(text, encoding="utf-8")

    # On PostgreSQL, where the database names the unnamed constraints itself.
    with server(SERVERS["postgresql"]):
        url = urlsplit(SERVERS["postgresql"])._replace(scheme="postgresql+psycopg").geturl()
        on_postgresql = suite(TEST_DATABASE_URL=url)
    summary = on_postgresql.strip().splitlines()[-1]
    assert re.search(r"\b6 passed\b", summary) and "skipped" not in summary, on_postgresql
