"""Answers the template cannot honour are refused before anything is written."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TEMPLATE_ROOT


def bake_with_cli(output: Path, *answers: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "cookiecutter",
            "--no-input",
            "-o",
            str(output),
            str(TEMPLATE_ROOT),
            *answers,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("project_slug=my.project", "ERROR: project_slug (my.project): must be lowercase"),
        (
            "package_name=class",
            "ERROR: package_name (class): must be a lowercase Python identifier",
        ),
        ("package_name=123abc", "ERROR: package_name (123abc): must be a lowercase Python"),
    ],
)
def test_an_unsupported_answer_stops_the_bake_with_a_clear_error_and_no_output(
    tmp_path: Path, answer: str, expected: str
) -> None:
    result = bake_with_cli(tmp_path, answer)

    assert result.returncode != 0
    assert expected in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_flask_with_an_async_driver_is_refused_with_the_fix(tmp_path: Path) -> None:
    result = bake_with_cli(tmp_path, "web_framework=flask", "async_driver=true")

    assert result.returncode != 0
    assert (
        "ERROR: async_driver (true): Flask-SQLAlchemy's sessions are synchronous, so "
        "web_framework=flask needs the synchronous driver; bake with async_driver=false"
    ) in result.stderr
    assert list(tmp_path.iterdir()) == []
