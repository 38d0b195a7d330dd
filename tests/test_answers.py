"""Answers are data: any project name renders valid files; yes/no answers are understood."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cookiecutter_cli import bake_with_cli

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest brings tomli
    import tomli as tomllib

QUIRKY_NAMES = [
    'Bob\'s "Quoted" Project',
    "Back\\slash\\",
    "\"\"\" and ''' and \\",
    '"\\n[tool.x]\\nkey = "value',
    "Café ☕ 😀",
]

# Python-, TOML- and shell-level attempts. A `{{ }}` in an answer is rendered by cookiecutter
# itself (as unsandboxed Jinja) before any hook or file sees it: no template can stop that.
INJECTIONS = [
    "\"; import os; os.system('touch pwned') #",
    "'; import os; os.system('touch pwned') #",
    '"""; __import__("os").system("touch pwned"); """',
    "$(touch pwned)",
    "`touch pwned`",
    '"\n[tool.x]\nkey = "value',
]


def files_of(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}


def baked(output: Path) -> Path:
    """The one project directory a bake wrote into `output`."""
    (project,) = output.iterdir()
    return project


@pytest.fixture(scope="module")
def default_files(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    output = tmp_path_factory.mktemp("default")
    assert bake_with_cli(output).returncode == 0
    return files_of(baked(output))


@pytest.mark.parametrize("name", QUIRKY_NAMES)
def test_a_project_name_with_quotes_or_backslashes_renders_valid_toml_and_python(
    tmp_path: Path, name: str
) -> None:
    result = bake_with_cli(tmp_path, f"project_name={name}")
    assert result.returncode == 0, result.stderr
    project = baked(tmp_path)

    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["description"] == (
        f"{name}: SQLAlchemy models with Alembic migrations"
    )
    readme = (project / "README.md").read_text(encoding="utf-8")
    assert readme.splitlines()[0] == f"# {name}"
    recorded = json.loads((project / ".cookiecutter.json").read_text(encoding="utf-8"))
    assert recorded["project_name"] == name
    for module in project.rglob("*.py"):
        compile(module.read_text(encoding="utf-8"), str(module), "exec")
    for command in (["check", "."], ["format", "--check", "."]):
        ruff = subprocess.run(
            [sys.executable, "-m", "ruff", *command], cwd=project, capture_output=True, text=True
        )
        assert ruff.returncode == 0, ruff.stdout + ruff.stderr


@pytest.mark.parametrize("name", INJECTIONS)
def test_an_injection_attempt_in_the_project_name_creates_no_file(
    tmp_path: Path, name: str, default_files: set[str]
) -> None:
    working_directory = tmp_path / "cwd"
    working_directory.mkdir()
    output = tmp_path / "output"

    result = bake_with_cli(
        output, f"project_name={name}", "project_slug=my-project", cwd=working_directory
    )

    if "\n" in name:
        assert result.returncode != 0
        assert "ERROR: project_name (" in result.stderr
        assert list(output.iterdir()) == []
    else:
        assert result.returncode == 0, result.stderr
        assert files_of(baked(output)) == default_files
    assert list(working_directory.iterdir()) == []
    assert list(tmp_path.rglob("pwned")) == []


@pytest.mark.parametrize(
    ("value", "examples"),
    [
        ("false", False),
        ("no", False),
        ("0", False),
        ("true", True),
        ("yes", True),
        ("1", True),
    ],
)
def test_a_yes_no_answer_on_the_command_line_is_understood(
    tmp_path: Path, value: str, examples: bool
) -> None:
    result = bake_with_cli(tmp_path, f"example_models={value}")

    assert result.returncode == 0, result.stderr
    project = baked(tmp_path)
    recorded = json.loads((project / ".cookiecutter.json").read_text(encoding="utf-8"))
    assert recorded["example_models"] is examples
    assert (project / "src" / "my_project" / "models" / "users.py").exists() is examples
    assert any((project / "migrations" / "versions").glob("*.py")) is examples
