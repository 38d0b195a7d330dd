"""Each combination's output passes its own linters, type checker and test suite."""

import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import COMBINATIONS, Project, bake_with

CHECKS = {
    "ruff-check": ("ruff", "check", "."),
    "ruff-format": ("ruff", "format", "--check", "."),
    "mypy": ("mypy",),
    "pytest": ("pytest", "-p", "no:cacheprovider"),
    # hadolint (from the template's requirements) on the Dockerfile, failing on any finding.
    "hadolint": (str(Path(sys.executable).with_name("hadolint")), "Dockerfile"),
}


# Each combination is a unit of work of its own for the xdist workers.
WORKER_SPLIT = "installed"


@pytest.fixture(scope="module", params=COMBINATIONS)
def installed(request: pytest.FixtureRequest, cookies_session: Any) -> Project:
    project = bake_with(cookies_session, COMBINATIONS[request.param])
    project.install()
    return project


@pytest.mark.parametrize("check", CHECKS.values(), ids=CHECKS.keys())
def test_the_baked_project_passes(installed: Project, check: tuple[str, ...]) -> None:
    result = installed.run(*check)

    if check[0] == "pytest":
        summary = result.stdout.strip().splitlines()[-1]
        assert "skipped" not in summary, f"the baked tests skipped some: {summary}"
