"""The baked GitHub Actions workflow runs what the baked README tells people to run."""

from typing import Any

import pytest
import yaml

from tests.conftest import COMBINATIONS, BakeProject

SERVICE_IMAGES = {"postgresql": "postgres:", "mysql": "mariadb:"}


@pytest.mark.parametrize("answers", COMBINATIONS.values(), ids=COMBINATIONS.keys())
def test_the_workflow_runs_the_readme_commands_against_the_right_database(
    bake: BakeProject, answers: dict[str, Any]
) -> None:
    project = bake(**answers)
    workflow = yaml.safe_load((project.path / ".github/workflows/ci.yml").read_text())
    readme = (project.path / "README.md").read_text(encoding="utf-8")
    job = workflow["jobs"]["test"]

    commands = [
        line.strip()
        for step in job["steps"]
        if "run" in step
        for line in step["run"].splitlines()
        if line.strip()
    ]
    assert {"pytest", "mypy", "alembic upgrade head"} <= set(commands)
    assert [command for command in commands if command not in readme] == []

    database = project.context["database"]
    images = [service["image"] for service in job.get("services", {}).values()]
    if database == "sqlite":
        assert images == []
    else:
        assert len(images) == 1
        assert images[0].startswith(SERVICE_IMAGES[database])
        assert job["env"]["TEST_DATABASE_URL"].startswith(database)
        assert job["env"]["DATABASE_URL"].startswith(database)
