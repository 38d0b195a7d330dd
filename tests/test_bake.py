"""Every supported combination bakes the documented layout, fully rendered."""

import filecmp
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cookiecutter.main import cookiecutter

from tests.conftest import COMBINATIONS, BakeProject

UNRENDERED = re.compile(r"\{\{|\}\}|\{%|%\}|\{#|#\}|cookiecutter\.(?!json)")

ALWAYS = [
    "README.md",
    "pyproject.toml",
    "alembic.ini",
    ".env.example",
    ".gitignore",
    ".cookiecutter.json",
    ".github/workflows/ci.yml",
    "Dockerfile",
    ".dockerignore",
    "compose.yaml",
    "migrations/env.py",
    "migrations/script.py.mako",
    "src/my_project/__init__.py",
    "src/my_project/py.typed",
    "src/my_project/settings.py",
    "src/my_project/migration_guards.py",
    "src/my_project/type_changes.py",
    "src/my_project/db.py",
    "src/my_project/models/__init__.py",
    "src/my_project/models/base.py",
    "src/my_project/models/column_types.py",
    "src/my_project/models/mixins.py",
    "src/my_project/models/registration.py",
    "tests/conftest.py",
    "tests/__init__.py",
    "tests/migrations/__init__.py",
    "tests/migrations/runner.py",
    "tests/migrations/schema.py",
    "tests/migrations/round_trip.py",
    "tests/migrations/squash.py",
    "tests/migrations/test_history.py",
    "tests/migrations/test_round_trip.py",
    "tests/test_settings.py",
    "tests/test_model_registration.py",
    "tests/test_db.py",
]
EXAMPLES = [
    "src/my_project/models/roles.py",
    "src/my_project/models/users.py",
    "src/my_project/models/user_roles.py",
    "tests/test_example_models.py",
    "tests/migrations/test_data_migrations.py",
]


def files_of(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}


@pytest.mark.parametrize("answers", COMBINATIONS.values(), ids=COMBINATIONS.keys())
def test_every_file_is_fully_rendered(bake: BakeProject, answers: dict[str, Any]) -> None:
    project = bake(**answers)

    leftovers = [
        f"{path.relative_to(project.path)}:{number}: {line.strip()}"
        for path in project.path.rglob("*")
        if path.is_file()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if UNRENDERED.search(line)
    ]
    assert leftovers == []
    assert not [path for path in project.path.rglob("*") if UNRENDERED.search(path.name)]


def test_the_default_bake_has_the_documented_layout_and_the_example_models(
    bake: BakeProject,
) -> None:
    project = bake()

    files = files_of(project.path)
    assert set(ALWAYS + EXAMPLES) <= files
    assert [path.name.split("_", 4)[-1] for path in project.revisions()] == [
        "create_users_and_roles.py",
        "make_users_is_active_a_boolean.py",
        "add_roles_scope.py",
    ]


def test_without_example_models_only_the_base_and_an_empty_history_remain(
    bake: BakeProject,
) -> None:
    project = bake(example_models=False)

    files = files_of(project.path)
    assert set(ALWAYS) <= files
    assert not set(EXAMPLES) & files
    assert project.revisions() == []
    init = (project.package / "models" / "__init__.py").read_text(encoding="utf-8")
    assert "roles" not in init
    assert "users" not in init


def test_the_answers_are_recorded_for_later_template_updates(bake: BakeProject) -> None:
    project = bake(project_name="Inventory Service", example_models=False)

    recorded = json.loads((project.path / ".cookiecutter.json").read_text(encoding="utf-8"))

    assert recorded["project_name"] == "Inventory Service"
    assert recorded["project_slug"] == "inventory-service"
    assert recorded["package_name"] == "inventory_service"
    assert recorded["example_models"] is False
    assert "_template" in recorded
    assert "_output_dir" not in recorded


def test_baking_from_a_git_clone_gives_the_same_project(
    bake: BakeProject, template_checkout: Path, tmp_path: Path
) -> None:
    """`cookiecutter gh:org/name` clones the repository; a clone must lose no file."""
    from_directory = bake().path
    config = tmp_path / "cookiecutter-config.yaml"
    config.write_text(
        f"cookiecutters_dir: {tmp_path / 'clones'}\nreplay_dir: {tmp_path / 'replay'}\n",
        encoding="utf-8",
    )

    from_clone = Path(
        cookiecutter(
            f"git+file://{template_checkout}",
            no_input=True,
            output_dir=str(tmp_path / "out"),
            config_file=str(config),
        )
    )

    assert files_of(from_clone) == files_of(from_directory)
    differing = filecmp.cmpfiles(
        from_directory, from_clone, sorted(files_of(from_directory)), shallow=False
    )[1]
    assert differing == [".cookiecutter.json"]
