"""The generated README's pip install works in a plain virtualenv."""

import sys

from tests.conftest import BakeProject


def test_pip_install_with_the_dev_group_gives_working_alembic_and_pytest(
    bake: BakeProject,
) -> None:
    project = bake()
    project.run(sys.executable, "-m", "venv", ".venv")
    project.run("python", "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    project.run("python", "-m", "pip", "install", "--quiet", "-e", ".", "--group", "dev")

    project.run("alembic", "upgrade", "head")
    assert "(head)" in project.run("alembic", "current").stdout
    project.run("pytest", "-p", "no:cacheprovider")
