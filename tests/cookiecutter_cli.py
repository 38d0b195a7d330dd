"""Cookiecutter as a user runs it: the command line, and a config file of the test's own."""

import subprocess
import sys
from pathlib import Path

from tests.conftest import TEMPLATE_ROOT


def bake_with_cli(
    output: Path, *answers: str, overwrite: bool = False, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `cookiecutter --no-input` on the template as a user would, answers as KEY=VALUE."""
    options = ["--overwrite-if-exists"] if overwrite else []
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "cookiecutter",
            "--no-input",
            *options,
            "-o",
            str(output),
            str(TEMPLATE_ROOT),
            *answers,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def cookiecutter_config(tmp_path: Path) -> Path:
    """A cookiecutter config of the test's own: no user defaults, clones under tmp_path."""
    config = tmp_path / "cookiecutter.yaml"
    config.write_text(
        f"cookiecutters_dir: {tmp_path / 'clones'}\nreplay_dir: {tmp_path / 'replay'}\n",
        encoding="utf-8",
    )
    return config
