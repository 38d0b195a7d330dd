"""Each combination's output passes its own linters, type checker and test suite."""

from typing import Any

import pytest

from tests.conftest import COMBINATIONS, Project, server_for

CHECKS = {
    "ruff-check": ("ruff", "check", "."),
    "ruff-format": ("ruff", "format", "--check", "."),
    "mypy": ("mypy",),
    "pytest": ("pytest", "-p", "no:cacheprovider"),
}


@pytest.fixture(scope="module", params=COMBINATIONS.values(), ids=COMBINATIONS.keys())
def installed(request: pytest.FixtureRequest, cookies_session: Any) -> Project:
    result = cookies_session.bake(extra_context=request.param)
    assert result.exception is None, result.exception
    project = Project(result.project_path, result.context, server_for(result.context["database"]))
    project.install()
    return project


@pytest.mark.parametrize("check", CHECKS.values(), ids=CHECKS.keys())
def test_the_baked_project_passes(installed: Project, check: tuple[str, ...]) -> None:
    result = installed.run(*check)

    if check[0] == "pytest":
        summary = result.stdout.strip().splitlines()[-1]
        assert "skipped" not in summary, f"the baked tests skipped some: {summary}"
