"""A project baked from one template commit takes the next with cruft, keeping the team's work."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter

from tests.conftest import GIT_ENVIRONMENT, Project, git, template_repository
from tests.cookiecutter_cli import cookiecutter_config
from tests.project_edits import plant_revision

ANSWERS = {"project_name": "Inventory Service"}
TEMPLATE = "{{cookiecutter.project_slug|slugify}}"
FIRST_REVISION = "migrations/versions/2026_11_21_0900-6d1f0c2a9b3e_create_users_and_roles.py"

PRODUCTS = '''\
"""Products for sale."""

from sqlalchemy.orm import Mapped, mapped_column

from inventory_service.models.base import Base


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
'''

# The team's revision for it, on top of the shipped history's head.
PRODUCTS_UPGRADE = """\
    op.create_table(
        "products",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
    )"""


def run(command: str, cwd: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run a shell command line with cruft on PATH, git's test identity, no user config."""
    environment = {
        **os.environ,
        **GIT_ENVIRONMENT,
        # The cruft of `pip install cruft`, as the README says: dev.py pip-installs the pinned
        # cruft of requirements-test.txt into the tests' own virtualenv.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "COOKIECUTTER_CONFIG": str(cookiecutter_config(tmp_path)),
    }
    return subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=environment, capture_output=True, text=True
    )


def succeeds(command: str, cwd: Path, tmp_path: Path) -> str:
    result = run(command, cwd, tmp_path)
    assert result.returncode == 0, f"`{command}` failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def updates_section(project: Path) -> str:
    """The README's "Template updates" section."""
    readme = (project / "README.md").read_text(encoding="utf-8")
    return readme.split("## Template updates", 1)[1].split("\n## ", 1)[0]


def readme_commands(project: Path) -> list[str]:
    """The shell lines of the README's "Template updates" section, without their comments."""
    blocks = re.findall(r"```console\n(.*?)```", updates_section(project), re.DOTALL)
    return [re.sub(r"\s+# .*", "", line) for block in blocks for line in block.splitlines()]


def the_command(project: Path, start: str) -> str:
    [command] = [line for line in readme_commands(project) if line.startswith(start)]
    return command


def the_inline_command(project: Path, start: str) -> str:
    """A command the "Template updates" section gives in its prose, as `code`."""
    section = updates_section(project)
    [command] = [span for span in re.findall(r"`([^`\n]+)`", section) if span.startswith(start)]
    return command


def commit_everything(repository: Path, message: str, date: str | None = None) -> None:
    git("init", "--quiet", cwd=repository)  # a no-op in an existing repository
    git("add", "--all", cwd=repository)
    dated = {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date} if date else {}
    git("commit", "--quiet", "-m", message, cwd=repository, env=dated)


def team_changes(project: Path) -> None:
    """What a team does after baking: a model module, registered, its revision, README notes."""
    package = project / "src" / "inventory_service"
    (package / "models" / "products.py").write_text(PRODUCTS, encoding="utf-8")
    plant_revision(
        Project(project, {}),
        "5e8a1f3c7b20",
        upgrade=PRODUCTS_UPGRADE,
        downgrade='    op.drop_table("products")',
    )
    init = package / "models" / "__init__.py"
    init.write_text(
        init.read_text(encoding="utf-8").replace(
            "from inventory_service.models.registration",
            "from inventory_service.models.products import Product\n"
            "from inventory_service.models.registration",
        ),
        encoding="utf-8",
    )
    with (project / "README.md").open("a", encoding="utf-8") as readme:
        readme.write("\n## Team notes\n\nProducts are ours.\n")
    commit_everything(project, "Add products")


def template_changes(template: Path, date: str | None = None) -> str:
    """The template's next commit: edits in files the team did and did not touch, a new file."""
    edits = {
        f"{TEMPLATE}/alembic.ini": ("truncate_slug_length = 40", "truncate_slug_length = 60"),
        f"{TEMPLATE}/migrations/env.py": (
            '"""Alembic environment: the database',
            '"""Alembic environment (template B): the database',
        ),
        f"{TEMPLATE}/README.md": (
            "SQLAlchemy 2.x models with Alembic migrations.",
            "SQLAlchemy 2.x models with Alembic migrations (template B).",
        ),
        # Revisions are the project's history: the update must leave this one alone.
        f"{TEMPLATE}/{FIRST_REVISION}": ('"""create users and roles', '"""Template B: users'),
    }
    for relative, (old, new) in edits.items():
        path = template / relative
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{relative} no longer has {old!r}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
    (template / TEMPLATE / "CHANGELOG.md").write_text(
        "# {{ cookiecutter.project_name }} changelog\n", encoding="utf-8"
    )
    commit_everything(template, "Template B", date)
    return git("rev-parse", "HEAD", cwd=template).strip()


def files_of(root: Path) -> set[str]:
    return {
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file() and ".git" not in path.relative_to(root).parts
    }


def assert_updated(project: Path, template: Path, commit: str, tmp_path: Path) -> None:
    """The project has ``commit``'s version of every file the team left alone, and its own."""
    fresh = Path(
        cookiecutter(
            str(template),
            no_input=True,
            extra_context=ANSWERS,
            output_dir=str(tmp_path / "fresh"),
            config_file=str(cookiecutter_config(tmp_path)),
        )
    )
    team_files = {"README.md", "src/inventory_service/models/__init__.py"}
    for relative in files_of(fresh) - team_files - {".cookiecutter.json", FIRST_REVISION}:
        assert (project / relative).read_text() == (fresh / relative).read_text(), relative

    readme = (project / "README.md").read_text(encoding="utf-8")
    assert "(template B)" in readme
    assert readme.endswith("## Team notes\n\nProducts are ours.\n")
    assert (project / "src/inventory_service/models/products.py").read_text() == PRODUCTS
    assert "import Product" in (project / "src/inventory_service/models/__init__.py").read_text()
    assert (project / "CHANGELOG.md").read_text() == "# Inventory Service changelog\n"
    assert "Template B" not in (project / FIRST_REVISION).read_text()

    changed = {line[3:] for line in git("status", "--porcelain", cwd=project).splitlines()}
    assert changed == {
        ".cruft.json",
        "CHANGELOG.md",
        "README.md",
        "alembic.ini",
        "migrations/env.py",
    }
    leftovers = [
        relative
        for relative in files_of(project)
        if relative.endswith((".rej", ".orig"))
        or re.search(r"^(<<<<<<<|>>>>>>>) ", (project / relative).read_text(), re.MULTILINE)
    ]
    assert leftovers == []
    assert json.loads((project / ".cruft.json").read_text())["commit"] == commit


def update(project: Path, template: Path, commit: str, tmp_path: Path) -> None:
    """The README's check, update and review in the project, once the template has ``commit``."""
    check = the_command(project, "cruft check")
    assert run(check, project, tmp_path).returncode != 0, "cruft check missed the new commit"

    succeeds(the_command(project, "cruft update"), project, tmp_path)
    review = succeeds(the_command(project, "git diff HEAD"), project, tmp_path)

    assert "+SQLAlchemy 2.x models with Alembic migrations (template B)." in review
    assert "+truncate_slug_length = 60" in review
    assert "-Products are ours." not in review
    assert_updated(project, template, commit, tmp_path)
    succeeds(check, project, tmp_path)


@pytest.fixture
def template(tmp_path: Path) -> Path:
    """The template as a git repository of its own, at its first commit."""
    return template_repository(tmp_path / "template")


def test_a_project_created_with_cruft_takes_the_next_template_commit(
    template: Path, tmp_path: Path
) -> None:
    succeeds(
        f"cruft create {template} --no-input --output-dir projects"
        f" --extra-context '{json.dumps(ANSWERS)}'",
        tmp_path,
        tmp_path,
    )
    project = tmp_path / "projects" / "inventory-service"
    commit_everything(project, "Bake")
    team_changes(project)

    update(project, template, template_changes(template), tmp_path)

    # The README's last step, in the updated project with its own virtualenv; the team's
    # database is migrated, as it was before the update.
    installed = Project(project, json.loads((project / ".cookiecutter.json").read_text()))
    installed.install()
    installed.run("alembic", "upgrade", "head")
    verdict = installed.run("bash", "-c", the_command(project, "alembic check && pytest"))
    assert "No new upgrade operations detected" in verdict.stdout
    assert re.search(r"\d+ passed", verdict.stdout), verdict.stdout
    assert "skipped" not in verdict.stdout


def test_a_project_baked_with_cookiecutter_links_to_its_commit_and_takes_the_next(
    template: Path, tmp_path: Path
) -> None:
    first_commit = git("rev-parse", "HEAD", cwd=template).strip()
    project = Path(
        cookiecutter(
            f"git+file://{template}",
            no_input=True,
            extra_context=ANSWERS,
            output_dir=str(tmp_path / "projects"),
            config_file=str(cookiecutter_config(tmp_path)),
        )
    )
    commit_everything(project, "Bake")
    team_changes(project)
    # The template moved on before the team links: B is dated an hour after the bake.
    baked_at = int(git("log", "--reverse", "--format=%ct", cwd=project).split()[0])
    commit = template_changes(template, date=f"{baked_at + 3600} +0000")

    baked_on = git("log", "--reverse", "--format=%cI", cwd=project).split()[0]
    find = the_inline_command(project, "git log").replace("<the date of the bake>", baked_on)
    assert succeeds(find, template, tmp_path).strip() == first_commit
    link = the_command(project, "cruft link")
    link = link.replace("<template git URL>", str(template)).replace("<commit>", first_commit)
    succeeds(link, project, tmp_path)
    succeeds(the_command(project, "git add .cruft.json"), project, tmp_path)

    update(project, template, commit, tmp_path)
    # Where the project differs from the template (as the change that would undo it): the
    # team's work, and nothing of commit B left out.
    differences = succeeds(the_inline_command(project, "cruft diff"), project, tmp_path)
    assert "-Products are ours." in differences
    assert "-from inventory_service.models.products import Product" in differences
    assert "template B" not in differences
    assert "alembic.ini" not in differences
