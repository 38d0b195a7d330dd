"""The template's own code (hooks, tests, dev.py) is held to the standard it sets."""

import subprocess
import sys

from tests.conftest import TEMPLATE_ROOT


def test_the_template_code_passes_ruff() -> None:
    for command in (["check", "--no-cache", "."], ["format", "--no-cache", "--check", "."]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *command],
            cwd=TEMPLATE_ROOT,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stdout + result.stderr
