"""An existing Alembic project adopts the baked env.py by following the baked README's steps."""

import re
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from uv import find_uv_bin

from tests.conftest import BakeProject, Project
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


def adoption_steps(readme: str) -> AdoptionSteps:
    section = readme.split(SECTION, 1)[1].split("\n## ", 1)[0]
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


def start_the_shop(shop: Project, ini_url: str) -> str:
    """`alembic init`, models in one module, the URL in alembic.ini, migrated; its revision."""
    shop.run("alembic", "init", "migrations")
    shop.write("app/__init__.py", "")
    shop.write("app/models.py", SHOP_MODELS)
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
    shop.run("alembic", "revision", "--autogenerate", "-m", "create shop tables")
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
