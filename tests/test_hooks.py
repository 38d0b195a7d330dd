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
        ("web_framework=flask", "ERROR: web_framework (flask): no web framework integration"),
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
