"""The baked walk's reports: warnings raised inside revisions, revisions that need a database."""

from tests.conftest import BakeProject, Project
from tests.project_edits import HEAD, plant_revision

# A deprecated SQLAlchemy call (MovedIn20Warning, a DeprecationWarning) that still works.
DEPRECATED_CALL = (
    "    from sqlalchemy.ext.declarative import declarative_base\n\n"
    "    declarative_base()\n"
    '    op.execute("UPDATE roles SET description = description")'
)


def mark(project: Project, name: str, line: str) -> None:
    """Add a module-level ``line`` to the planted revision ``name``."""
    path = project.path / "migrations" / "versions" / name
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("depends_on = None\n", f"depends_on = None\n{line}\n"), "utf-8")


def test_a_library_deprecation_warning_in_a_revision_is_shown_naming_it_and_fails_nothing(
    project: Project,
) -> None:
    name = plant_revision(project, "aaaaaaaaaaaa", DEPRECATED_CALL, DEPRECATED_CALL)

    output = project.run("pytest", "-p", "no:cacheprovider").stdout

    for step in ("upgrade", "downgrade"):
        assert (
            f"RevisionWarning: {step} of {name}: MovedIn20Warning: "
            "The ``declarative_base()`` function is now available"
        ) in output

    # As the baked README says: `error` instead of `default` makes them fail the walk.
    settings = project.path / "pyproject.toml"
    settings.write_text(
        settings.read_text(encoding="utf-8").replace(
            '"default::tests.migrations.runner.RevisionWarning"',
            '"error::tests.migrations.runner.RevisionWarning"',
        ),
        encoding="utf-8",
    )
    strict = project.run("pytest", "-p", "no:cacheprovider", check=False).stdout
    assert f"\nupgrade of {name} warned: RevisionWarning: upgrade of {name}: " in strict


def test_a_warning_from_the_projects_own_code_in_a_revision_is_named_by_the_walk(
    project: Project,
) -> None:
    project.write(
        "src/my_project/legacy.py",
        '"""Helpers on their way out."""\n\nimport warnings\n\n\n'
        "def old_helper() -> None:\n"
        '    warnings.warn("old_helper() is deprecated", DeprecationWarning, stacklevel=1)\n',
    )
    name = plant_revision(
        project,
        "bbbbbbbbbbbb",
        "    from my_project.legacy import old_helper\n\n    old_helper()",
        "    pass",
    )
    # Its downgrade is faulty: the walk rebuilds the schema, running the warning one again.
    creates = '    op.execute("CREATE TABLE products (id INTEGER)")'
    faulty = plant_revision(project, "cccccccccccc", creates, "    pass", "bbbbbbbbbbbb")

    result = project.run("pytest", "-p", "no:cacheprovider", check=False)

    assert result.returncode != 0
    verdict = result.stdout.split("test_every_revision_downgrades")[1].split("\n_")[0]
    assert verdict.strip().splitlines()[1:] == [
        f"upgrade of {name} warned: DeprecationWarning: old_helper() is deprecated",
        f"downgrade of {faulty} leaves table products",
    ], verdict


READS_ROLES = '    op.get_bind().execute(sa.text("SELECT count(*) FROM roles")).all()'
READS_URL = "    assert op.get_bind().engine.url.drivername"
READS_TRANSACTION = "    assert op.get_bind().in_transaction()"
# Creates an index only when rendered offline: the offline check must see it, after the others.
OFFLINE_ONLY_INDEX = (
    "    if op.get_context().as_sql:\n"
    '        op.create_index("ix_roles_offline", "roles", ["name"])'
)


def test_revisions_that_read_the_database_are_named_and_the_rest_is_still_checked_offline(
    project: Project,
) -> None:
    unmarked = plant_revision(project, "cccccccccccc", READS_TRANSACTION, "    pass")
    marked = plant_revision(project, "dddddddddddd", READS_URL, "    pass", "cccccccccccc")
    mark(project, marked, 'online_only = "reads the URL"')
    plant_revision(project, "eeeeeeeeeeee", OFFLINE_ONLY_INDEX, "    pass", "dddddddddddd")

    result = project.run("pytest", "-p", "no:cacheprovider", check=False)

    assert result.returncode != 0
    failures = result.stdout.split("warnings summary")[0]
    assert (
        f"\n{unmarked} cannot be rendered with --sql, where nothing can be read from the "
        "database: AttributeError: 'MockConnection' object has no attribute 'in_transaction'; "
        'if it reads the database on purpose, say so in it with a line online_only = "why"\n'
        "leaves index ix_roles_offline on roles\n"
    ) in failures
    assert f"OnlineOnlyRevisionWarning: {marked}: reads the URL" in result.stdout
    assert marked not in failures
    assert "Traceback" not in result.stdout
    assert "1 failed" in result.stdout.splitlines()[-1]


def test_a_marked_revision_that_reads_the_database_passes_on_postgresql(
    bake: BakeProject,
) -> None:
    project = bake(database="postgresql")
    project.install()
    name = plant_revision(project, "ffffffffffff", READS_ROLES, READS_ROLES, HEAD)
    mark(project, name, 'online_only = "counts the roles"')

    output = project.run("pytest", "-p", "no:cacheprovider").stdout

    assert f"OnlineOnlyRevisionWarning: {name}: counts the roles" in output
    assert "skipped" not in output.splitlines()[-1], output
