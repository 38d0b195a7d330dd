"""Answers the template cannot honour are refused, and a refused bake leaves no trace."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TEMPLATE_ROOT
from tests.cookiecutter_cli import bake_with_cli, cookiecutter_config


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under `root` with its content (None for a directory)."""
    return {
        str(path.relative_to(root)): path.read_bytes() if path.is_file() else None
        for path in root.rglob("*")
    }


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("project_slug=my.project", "ERROR: project_slug (my.project): must be lowercase"),
        (
            "package_name=class",
            "ERROR: package_name (class): must be a lowercase Python identifier",
        ),
        ("package_name=123abc", "ERROR: package_name (123abc): must be a lowercase Python"),
        (
            "package_name=import",
            "ERROR: package_name (import): must be a lowercase Python identifier that is not "
            "a Python keyword; use for example 'my_import'\n",
        ),
        (
            "project_slug=my project",
            "ERROR: project_slug (my project): must be lowercase letters, digits and single "
            "hyphens, starting with a letter; use for example 'my-project'\n",
        ),
        (
            "project_slug=123abc",
            "ERROR: project_slug (123abc): must be lowercase letters, digits and single "
            "hyphens, starting with a letter; use for example 'my-123abc'\n",
        ),
        (
            "project_slug= my-project",
            "ERROR: project_slug ( my-project): has spaces around it; "
            "use for example 'my-project'\n",
        ),
        ("package_name=", "ERROR: package_name (): is empty; use for example 'my_project'\n"),
        (
            "package_name=my_project ",
            "ERROR: package_name (my_project ): has spaces around it; "
            "use for example 'my_project'\n",
        ),
        (
            "package_name=email",
            "ERROR: package_name (email): would shadow the standard library module email; "
            "use for example 'my_email'\n",
        ),
        (
            "package_name=json",
            "ERROR: package_name (json): would shadow the standard library module json; "
            "use for example 'my_json'\n",
        ),
        (
            "package_name=test",
            "ERROR: package_name (test): would shadow the standard library module test; "
            "use for example 'my_test'\n",
        ),
        (
            "project_name=Email",
            "ERROR: package_name (email): would shadow the standard library module email; "
            "use for example 'my_email'\n",
        ),
        (
            "project_slug=alembic",
            "ERROR: project_slug (alembic): is a package the project installs, and a project "
            "cannot depend on itself; use for example 'my-alembic'\n",
        ),
        (
            "project_slug=pydantic-settings",
            "ERROR: project_slug (pydantic-settings): is a package the project installs, and a "
            "project cannot depend on itself; use for example 'my-pydantic-settings'\n",
        ),
        (
            "package_name=sqlalchemy",
            "ERROR: package_name (sqlalchemy): would shadow sqlalchemy, which the project "
            "installs; use for example 'my_sqlalchemy'\n",
        ),
        (
            "package_name=pydantic",
            "ERROR: package_name (pydantic): would shadow pydantic, which the project "
            "installs; use for example 'my_pydantic'\n",
        ),
        (
            "package_name=pytest",
            "ERROR: package_name (pytest): would shadow pytest, which the project "
            "installs; use for example 'my_pytest'\n",
        ),
        (
            "package_name=yaml",
            "ERROR: package_name (yaml): would shadow yaml, which the project "
            "installs; use for example 'my_yaml'\n",
        ),
        (
            "package_name=models",
            "ERROR: package_name (models): clashes with the package's own models subpackage; "
            "use for example 'my_models'\n",
        ),
        (
            "package_name=migrations",
            "ERROR: package_name (migrations): clashes with the migrations/ directory at the "
            "project root; use for example 'my_migrations'\n",
        ),
        (
            "package_name=tests",
            "ERROR: package_name (tests): clashes with the tests/ package at the project root; "
            "use for example 'my_tests'\n",
        ),
        (
            "project_name=Two\nLines",
            'ERROR: project_name ("Two\\nLines"): must be one line of printable text; '
            'use for example "Two Lines"\n',
        ),
    ],
)
def test_an_unsupported_answer_stops_the_bake_with_a_clear_error_and_no_output(
    tmp_path: Path, answer: str, expected: str
) -> None:
    result = bake_with_cli(tmp_path, answer)

    assert result.returncode != 0
    assert expected in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("project_slug=", ["ERROR: project_slug (): is empty; use for example 'my-project'"]),
        (
            "project_name=",
            [
                'ERROR: project_name (): is empty; use for example "My Project"',
                "ERROR: project_slug (): is empty; use for example 'my-project'",
            ],
        ),
    ],
)
def test_an_empty_slug_is_refused_with_a_line_for_each_empty_field(
    tmp_path: Path, answer: str, expected: list[str]
) -> None:
    # An empty slug makes the output directory the project's: cookiecutter refuses an existing
    # one itself (see below), so the hook sees it only in a new one, removed again on failure.
    result = bake_with_cli(tmp_path / "new", answer)

    assert result.returncode != 0
    assert set(expected) <= set(result.stderr.splitlines())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "answer", ["project_slug=my/project", "project_slug=a/b/c", "project_slug=../escape"]
)
def test_a_slug_naming_a_path_is_refused_and_leaves_no_directory_anywhere(
    tmp_path: Path, answer: str
) -> None:
    output = tmp_path / "output"
    output.mkdir()

    result = bake_with_cli(output, answer)

    assert result.returncode != 0
    slug = answer.partition("=")[2]
    assert f"ERROR: project_slug ({slug}): must be lowercase letters" in result.stderr
    # Cookiecutter creates the project directory before the hook runs and removes it when the
    # hook refuses; the directory's name is the slug made a slug, so it has no parents to leave.
    assert list(output.iterdir()) == []
    assert sorted(path.name for path in tmp_path.iterdir()) == ["output"]


@pytest.mark.parametrize("answer", ["package_name=email", "project_slug="])
def test_a_refused_bake_over_an_existing_directory_leaves_it_untouched(
    tmp_path: Path, answer: str
) -> None:
    """With --overwrite-if-exists the hook runs inside the existing directory and keeps it."""
    (tmp_path / "notes.txt").write_text("mine\n", encoding="utf-8")
    (tmp_path / "my-project" / "src").mkdir(parents=True)
    (tmp_path / "my-project" / "README.md").write_text("# Mine\n", encoding="utf-8")
    before = snapshot(tmp_path)

    result = bake_with_cli(tmp_path, answer, overwrite=True)

    assert result.returncode != 0
    assert "ERROR: " in result.stderr
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    "answers", [[], ["package_name=email"], ["project_slug="]], ids=["good", "bad", "empty"]
)
def test_without_overwrite_an_existing_directory_stops_the_bake_and_is_kept(
    tmp_path: Path, answers: list[str]
) -> None:
    (tmp_path / "my-project").mkdir()
    (tmp_path / "my-project" / "README.md").write_text("# Mine\n", encoding="utf-8")
    before = snapshot(tmp_path)

    result = bake_with_cli(tmp_path, *answers)

    assert result.returncode != 0
    assert "directory already exists" in result.stdout
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("answer", "variable", "value"),
    [
        ("database=oracle", "database", "oracle"),
        ("example_models=maybe", "example_models", "maybe"),
        ("async_driver=sometimes", "async_driver", "sometimes"),
    ],
)
def test_an_answer_outside_a_choice_or_yes_no_stops_the_bake_before_anything_is_written(
    tmp_path: Path, answer: str, variable: str, value: str
) -> None:
    """Cookiecutter itself refuses these before any hook runs; its last line names both."""
    result = bake_with_cli(tmp_path, answer)

    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert variable in last_line
    assert value in last_line


def test_flask_with_an_async_driver_is_refused_with_the_fix(tmp_path: Path) -> None:
    result = bake_with_cli(tmp_path, "web_framework=flask", "async_driver=true")

    assert result.returncode != 0
    assert (
        "ERROR: async_driver (true): Flask-SQLAlchemy's sessions are synchronous, so "
        "web_framework=flask needs the synchronous driver; bake with async_driver=false"
    ) in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("async_driver", ["true", "false"])
def test_fastapi_is_baked_with_either_driver(tmp_path: Path, async_driver: str) -> None:
    result = bake_with_cli(tmp_path, "web_framework=fastapi", f"async_driver={async_driver}")

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "my-project" / "src" / "my_project" / "app.py").is_file()


def commands(lines: str) -> list[str]:
    """Shell lines without their comments."""
    return [re.sub(r"\s+# .*", "", line).strip() for line in lines.strip().splitlines()]


@pytest.mark.parametrize("database", ["sqlite", "postgresql", "mysql"])
def test_the_next_steps_printed_after_a_bake_are_the_readme_quick_start(
    tmp_path: Path, database: str
) -> None:
    result = bake_with_cli(tmp_path, f"database={database}", "package_name=shop")

    assert result.returncode == 0, result.stderr
    printed = result.stdout.split("Next:\n", 1)[1].split("\n\n(or, with uv:", 1)[0]
    readme = (tmp_path / "my-project" / "README.md").read_text(encoding="utf-8")
    quick_start = readme.split("\n## Quick start\n", 1)[1].split("```console\n", 1)[1]
    assert commands(printed) == ["cd my-project", *commands(quick_start.split("```", 1)[0])]
    if database != "sqlite":
        assert f"export DATABASE_URL={database}://user:password@localhost:" in printed
        assert printed.count("/shop\n") == 1  # the project's database, not the server's own


def test_the_prompts_ask_for_the_web_framework_first_and_the_async_question_excludes_flask(
    tmp_path: Path,
) -> None:
    # Enter for the names, SQLite, Flask, then yes to the async driver, Enter for the rest.
    typed = "\n\n\n1\n2\ny\n\n"
    environment = {
        **os.environ,
        "COOKIECUTTER_CONFIG": str(cookiecutter_config(tmp_path)),
        "COLUMNS": "500",  # no question wrapped
    }

    result = subprocess.run(
        [sys.executable, "-m", "cookiecutter", "-o", str(tmp_path / "out"), str(TEMPLATE_ROOT)],
        input=typed,
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
    )

    # The questions, in the order asked (typed answers are not echoed, so they share lines).
    asked = re.split(r"\s*\[\d+/\d+\] ", result.stdout)[1:]
    web = next(n for n, question in enumerate(asked) if question.startswith("Web framework"))
    async_ = next(n for n, question in enumerate(asked) if "async driver?" in question)
    assert web < async_, asked
    assert "not with Flask" in asked[async_], asked[async_]
    # Answered against that advice, the bake is still refused, and writes nothing.
    assert result.returncode != 0
    assert "ERROR: async_driver (true):" in result.stderr + result.stdout
    assert list((tmp_path / "out").glob("*")) == []
