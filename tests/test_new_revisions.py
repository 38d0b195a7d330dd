"""New revision files sort in creation order; autogenerate on PostgreSQL says only what it found."""

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from tests.conftest import Project, bake_with
from tests.project_edits import PRODUCTS, register_products
from tests.servers import new_database, server


@dataclass
class Migrated:
    project: Project
    env: dict[str, str]  # DATABASE_URL of a throwaway database the history was applied to


@pytest.fixture(scope="module")
def migrated(cookies_session: Any) -> Iterator[Migrated]:
    """A PostgreSQL project, installed, and a throwaway database at its head."""
    project = bake_with(cookies_session, {"database": "postgresql"})
    project.install()
    assert project.test_database_url is not None
    with server(project.test_database_url) as admin:
        _, env = new_database(admin)
        project.run("alembic", "upgrade", "head", env=env)
        yield Migrated(project, env)


def test_revision_files_made_within_one_minute_sort_in_the_order_they_were_made(
    migrated: Migrated,
) -> None:
    project = migrated.project
    # Four revisions, each in a second of its own, all in one minute: start early enough.
    if datetime.now().second > 40:
        time.sleep(60.5 - datetime.now().second)
    made: list[str] = []
    try:
        for step in range(4):
            before = set(project.revisions())
            project.run("alembic", "revision", "-m", f"step {step}")
            [new] = set(project.revisions()) - before
            made.append(new.name)
            finished = int(time.time())
            while int(time.time()) == finished:  # at most a second
                time.sleep(0.05)

        assert len({name[: len("2026_01_31_1415")] for name in made}) == 1, made
        assert sorted(made) == made
    finally:
        for name in made:
            (project.path / "migrations" / "versions" / name).unlink()


def test_autogenerate_on_postgresql_logs_no_line_for_each_serial_key(migrated: Migrated) -> None:
    project, env = migrated.project, migrated.env
    serial = re.compile(r"Detected sequence named '\w+_id_seq'")
    # Alembic's own logging would say it once per table whose integer key has a sequence.
    ini = (project.path / "alembic.ini").read_text(encoding="utf-8")
    noisy = project.write(
        "alembic-noisy.ini",
        re.sub(r"\n\[logger_alembic_postgresql\]\n.*?\n\n", "\n", ini, flags=re.S).replace(
            ",alembic_postgresql,", ","
        ),
    )
    try:
        told = project.run("alembic", "-c", str(noisy), "check", env=env).stderr
    finally:
        noisy.unlink()
    assert serial.search(told), told  # users_id_seq, roles_id_seq: the example tables' keys

    checked = project.run("alembic", "check", env=env)
    project.write("src/my_project/models/products.py", PRODUCTS)
    register_products(project)
    before = set(project.revisions())
    generated = project.run("alembic", "revision", "--autogenerate", "-m", "add products", env=env)

    assert "No new upgrade operations detected" in checked.stdout
    assert "Detected added table 'products'" in generated.stderr
    for output in (checked, generated):
        assert not serial.search(output.stdout + output.stderr), output.stderr
    [revision] = set(project.revisions()) - before
    assert "op.create_table(" in revision.read_text(encoding="utf-8")
    project.run("alembic", "upgrade", "head", env=env)
