"""The baked test suite catches broken migrations and names the culprit."""

import re

import pytest

from tests.conftest import BakeProject, Project
from tests.project_edits import (
    FAULTY_DOWNGRADES,
    POSTGRESQL_FAULTY_DOWNGRADES,
    REVISION,
    plant_chain,
    plant_revision,
)


def failing_pytest(project: Project) -> str:
    result = project.run("pytest", "-p", "no:cacheprovider", check=False)
    assert result.returncode != 0, result.stdout
    return result.stdout + result.stderr


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_one_run_names_every_faulty_downgrade_and_nothing_else(
    bake: BakeProject, database: str
) -> None:
    project = bake(database=database)
    project.install()
    faults = FAULTY_DOWNGRADES + (POSTGRESQL_FAULTY_DOWNGRADES if database == "postgresql" else [])
    planted = plant_chain(project, faults)

    output = failing_pytest(project)

    named = dict(re.findall(r"^(?:up|down)grade of (\S+\.py)\b(.*)$", output, re.MULTILINE))
    assert named.keys() == planted.keys(), output
    for name, expected in planted.items():
        assert expected in named[name], output


def test_a_downgrade_that_does_nothing_is_named_with_what_it_leaves(project: Project) -> None:
    name = plant_revision(
        project,
        "aaaaaaaaaaaa",
        upgrade='    op.create_table("products", sa.Column("id", sa.Integer(), primary_key=True))',
        downgrade="    pass",
    )

    assert f"downgrade of {name} leaves table products" in failing_pytest(project)


def test_a_downgrade_that_forgets_an_index_is_named_with_the_index(project: Project) -> None:
    name = plant_revision(
        project,
        "bbbbbbbbbbbb",
        upgrade=(
            '    op.create_index("ix_roles_created_at", "roles", ["created_at"])\n'
            '    op.create_index("ix_users_created_at", "users", ["created_at"])'
        ),
        downgrade='    op.drop_index("ix_users_created_at", table_name="users")',
    )

    output = failing_pytest(project)

    assert f"downgrade of {name} leaves index ix_roles_created_at on roles" in output
    assert "ix_users_created_at" not in output.split(f"downgrade of {name}")[1].split("\n")[0]


def test_a_downgrade_that_does_not_restore_a_column_is_named(project: Project) -> None:
    name = plant_revision(
        project,
        "cccccccccccc",
        upgrade=(
            '    with op.batch_alter_table("roles") as batch_op:\n'
            '        batch_op.drop_column("description")'
        ),
        downgrade=(
            '    with op.batch_alter_table("roles") as batch_op:\n'
            '        batch_op.add_column(sa.Column("description", sa.String(20)))'
        ),
    )

    assert (
        f"downgrade of {name} leaves column description on roles as VARCHAR(20) NULL "
        "instead of TEXT NULL"
    ) in failing_pytest(project)


def test_a_downgrade_that_forgets_a_view_is_named_by_the_upgrade_run_again(
    project: Project,
) -> None:
    # Schemas are compared by their tables, so the view left behind shows only when the
    # upgrade runs again (from the SQL --sql prints: the statements it sent the first time).
    name = plant_revision(
        project,
        "abababababab",
        upgrade='    op.execute("CREATE VIEW role_names AS SELECT name FROM roles")',
        downgrade="    pass",
    )

    assert (
        f"upgrade of {name}, run again after its downgrade, failed: OperationalError: "
        "view role_names already exists"
    ) in failing_pytest(project)


def test_a_second_head_is_named(project: Project) -> None:
    first = plant_revision(project, "dddddddddddd", upgrade="    pass", downgrade="    pass")
    second = plant_revision(project, "eeeeeeeeeeee", upgrade="    pass", downgrade="    pass")

    output = failing_pytest(project)

    assert "several heads" in output
    assert first in output
    assert second in output


def test_a_model_changed_without_a_revision_is_named(project: Project) -> None:
    roles = project.package / "models" / "roles.py"
    roles.write_text(
        roles.read_text(encoding="utf-8").replace(
            "    description: Mapped[str | None] = mapped_column(Text)\n",
            "    description: Mapped[str | None] = mapped_column(Text)\n"
            "    priority: Mapped[int] = mapped_column(default=0)\n",
        ),
        encoding="utf-8",
    )

    output = failing_pytest(project)

    assert "test_models_match_migrations_at_head" in output
    assert "'add_column', None, 'roles', Column('priority'" in output


def test_an_irreversible_revision_is_reported_and_everything_else_still_checked(
    project: Project,
) -> None:
    name = plant_revision(
        project,
        "ffffffffffff",
        upgrade='    op.execute("DELETE FROM roles")',
        downgrade='    raise NotImplementedError("deleted rows cannot come back")',
    )
    path = project.path / "migrations" / "versions" / name
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "depends_on = None\n",
            'depends_on = None\nirreversible = "deletes every role"\n',
        ),
        encoding="utf-8",
    )

    result = project.run("pytest", "-p", "no:cacheprovider", "-W", "default")

    assert f"IrreversibleRevisionWarning: {name}: deletes every role" in result.stdout


def plant_branches_and_merge(project: Project, left_downgrade: str) -> str:
    """Two branches off the head, each adding an index, joined by a merge revision."""
    left = plant_revision(
        project,
        "111111111111",
        upgrade='    op.create_index("ix_roles_created_at", "roles", ["created_at"])',
        downgrade=left_downgrade,
    )
    plant_revision(
        project,
        "222222222222",
        upgrade='    op.create_index("ix_users_created_at", "users", ["created_at"])',
        downgrade='    op.drop_index("ix_users_created_at", table_name="users")',
    )
    merge = project.write(
        "migrations/versions/2030_01_02_0000-333333333333_merge.py",
        REVISION.format(
            message="merge",
            revision="333333333333",
            down_revision="111111111111",
            upgrade="    pass",
            downgrade="    pass",
        ),
    )
    merge.write_text(
        merge.read_text(encoding="utf-8").replace(
            'down_revision = "111111111111"', 'down_revision = ("111111111111", "222222222222")'
        ),
        encoding="utf-8",
    )
    for table in ("roles", "users"):
        model = project.package / "models" / f"{table}.py"
        model.write_text(
            model.read_text(encoding="utf-8")
            .replace(
                f'    __tablename__ = "{table}"\n',
                f'    __tablename__ = "{table}"\n'
                f'    __table_args__ = (Index("ix_{table}_created_at", "created_at"),)\n',
            )
            .replace("from sqlalchemy import ", "from sqlalchemy import Index, "),
            encoding="utf-8",
        )
    return left


def test_branches_and_their_merge_walk_cleanly(project: Project) -> None:
    plant_branches_and_merge(
        project, left_downgrade='    op.drop_index("ix_roles_created_at", table_name="roles")'
    )

    project.run("pytest", "-p", "no:cacheprovider")


def test_a_faulty_downgrade_on_a_branch_is_named(project: Project) -> None:
    left = plant_branches_and_merge(project, left_downgrade="    pass")

    assert f"downgrade of {left} leaves index ix_roles_created_at on roles" in failing_pytest(
        project
    )


def test_a_downgrade_that_leaves_a_postgresql_enum_type_is_named(bake: BakeProject) -> None:
    project = bake(database="postgresql")
    project.install()
    scope = next(path for path in project.revisions() if path.name.endswith("_add_roles_scope.py"))
    scope.write_text(
        scope.read_text(encoding="utf-8").replace("    role_scope.drop(op.get_bind())\n", ""),
        encoding="utf-8",
    )

    assert f"downgrade of {scope.name} leaves enum type role_scope" in failing_pytest(project)
