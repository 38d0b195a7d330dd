"""Every command in the baked README's console blocks is run by a template test, as written."""

import ast
import re
import sqlite3
import sys
import textwrap

from tests.conftest import TEMPLATE_ROOT, BakeProject, Project, git, server_for
from tests.test_autogenerate import PRODUCTS, autogenerate, register_products
from tests.test_planted_faults import HEAD, plant_revision

# Each command of the default bake's README: the test that runs it, and what in that test's
# source shows it does (the command's arguments, or the README section it reads them from).
COVERED = {
    "python -m venv .venv && . .venv/bin/activate": (
        "tests/test_install.py::test_pip_install_with_the_dev_group_gives_working_alembic_and_pytest",
        '"-m", "venv", ".venv"',
    ),
    "python -m pip install --upgrade pip": (
        "tests/test_install.py::test_pip_install_with_the_dev_group_gives_working_alembic_and_pytest",
        '"install", "--quiet", "--upgrade", "pip"',
    ),
    "python -m pip install -e . --group dev": (
        "tests/test_install.py::test_pip_install_with_the_dev_group_gives_working_alembic_and_pytest",
        '"-e", ".", "--group", "dev"',
    ),
    "alembic upgrade head": (
        "tests/test_alembic_cli.py::test_the_everyday_commands_walk_the_history_on_the_default_sqlite_file",
        '"alembic", "upgrade", "head"',
    ),
    "pytest": (
        "tests/test_install.py::test_pip_install_with_the_dev_group_gives_working_alembic_and_pytest",
        'project.run("pytest"',
    ),
    'alembic revision --autogenerate -m "add products"': (
        "tests/test_autogenerate.py::test_a_new_model_module_becomes_a_revision_with_named_constraints",
        'autogenerate(project, "add products")',
    ),
    "alembic heads": (
        "tests/test_readme_commands.py::test_two_heads_are_joined_by_the_readme_commands",
        '"### Two heads"',
    ),
    'alembic merge heads -m "merge products and orders"': (
        "tests/test_readme_commands.py::test_two_heads_are_joined_by_the_readme_commands",
        '"### Two heads"',
    ),
    'python -m pip install "psycopg[binary]"': (
        "tests/test_readme_commands.py::test_a_sqlite_project_tests_on_a_postgresql_server_as_the_readme_says",
        '"### Testing against a database server"',
    ),
    "TEST_DATABASE_URL=postgresql+psycopg://me@localhost/postgres pytest": (
        "tests/test_readme_commands.py::test_a_sqlite_project_tests_on_a_postgresql_server_as_the_readme_says",
        '"### Testing against a database server"',
    ),
    "cp .env.example .env": (
        "tests/test_readme_commands.py::test_the_local_env_file_is_read_and_the_real_environment_wins",
        '"### Local, staging, production"',
    ),
    'pip install "pydantic-settings>=2.6"': (
        "tests/test_adoption.py::test_an_alembic_init_project_keeps_its_revision_and_takes_its_url_from_the_environment",
        "steps.requirement",
    ),
    "alembic current": (
        "tests/test_adoption.py::test_an_alembic_init_project_keeps_its_revision_and_takes_its_url_from_the_environment",
        '"alembic", "current"',
    ),
    "alembic check": (
        "tests/test_adoption.py::test_an_alembic_init_project_keeps_its_revision_and_takes_its_url_from_the_environment",
        '"alembic", "check"',
    ),
    "cruft link <template git URL> --checkout <commit> --no-input --extra-context "
    '"$(cat .cookiecutter.json)"': (
        "tests/test_updates.py::test_a_project_baked_with_cookiecutter_links_to_its_commit_and_takes_the_next",
        'the_command(project, "cruft link")',
    ),
    'git add .cruft.json && git commit -m "Link the project to its template"': (
        "tests/test_updates.py::test_a_project_baked_with_cookiecutter_links_to_its_commit_and_takes_the_next",
        'the_command(project, "git add .cruft.json")',
    ),
    "cruft check": (
        "tests/test_updates.py::update",
        'the_command(project, "cruft check")',
    ),
    "cruft update --skip-apply-ask": (
        "tests/test_updates.py::update",
        'the_command(project, "cruft update")',
    ),
    "git diff HEAD": (
        "tests/test_updates.py::update",
        'the_command(project, "git diff HEAD")',
    ),
    "alembic check && pytest": (
        "tests/test_updates.py::test_a_project_created_with_cruft_takes_the_next_template_commit",
        'the_command(project, "alembic check && pytest")',
    ),
}


def console_commands(readme: str, heading: str | None = None) -> list[str]:
    """The command lines of the README's console blocks (under ``heading``), without comments."""
    if heading is not None:
        readme = re.split(r"\n#{1,3} ", readme.split(f"\n{heading}\n", 1)[1], maxsplit=1)[0]
    blocks = re.findall(r"```console\n(.*?)```", readme, re.DOTALL)
    lines = (re.sub(r"(^|\s+)# .*", "", line).strip() for b in blocks for line in b.splitlines())
    return [line for line in lines if line]


def readme_of(project: Project) -> str:
    return (project.path / "README.md").read_text(encoding="utf-8")


def source_of(test: str) -> str:
    """The source of the function ``path::name`` in the template's tests."""
    path, name = test.split("::")
    source = (TEMPLATE_ROOT / path).read_text(encoding="utf-8")
    [function] = [
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef) and node.name == name
    ]
    return ast.get_source_segment(source, function) or ""


def shell(project: Project, command: str, check: bool = True) -> str:
    """Run a README command line as a shell would, in the project's virtualenv."""
    result = project.run("bash", "-c", command, check=check)
    return result.stdout + result.stderr


def test_every_readme_command_is_run_by_a_named_template_test(bake: BakeProject) -> None:
    commands = set(console_commands(readme_of(bake())))

    assert commands - COVERED.keys() == set(), "commands no test is known to run"
    assert COVERED.keys() <= commands, "a command the README no longer gives"
    for command, (test, evidence) in COVERED.items():
        assert evidence in source_of(test), f"{test} does not show it runs `{command}`"


def test_two_heads_are_joined_by_the_readme_commands(project: Project) -> None:
    heads, merge, upgrade, run_tests = console_commands(readme_of(project), "### Two heads")
    assert (heads, upgrade, run_tests) == ("alembic heads", "alembic upgrade head", "pytest")
    assert merge.startswith("alembic merge heads -m ")
    # One branch adds the products model; another, from the same parent, a data step.
    project.run("alembic", "upgrade", "head")
    project.write("src/my_project/models/products.py", PRODUCTS)
    register_products(project)
    products = autogenerate(project, "add products")
    [products_id] = re.findall(r'^revision: str = "(\w+)"', products, re.M)
    plant_revision(
        project,
        "dddddddddddd",
        upgrade='    op.execute("UPDATE users SET email = lower(email)")',
        downgrade="    pass",
    )
    assert re.search(rf"^down_revision: .* = .{HEAD}.$", products, re.M)
    listed = shell(project, heads).splitlines()
    assert sorted(listed) == sorted([f"{products_id} (head)", "dddddddddddd (head)"])
    refused = project.run("alembic", "upgrade", "head", check=False)
    assert refused.returncode != 0
    assert "Multiple head revisions" in refused.stdout + refused.stderr
    tests = project.run("pytest", "-p", "no:cacheprovider", check=False)
    assert tests.returncode != 0
    assert "several heads" in tests.stdout

    before = set(project.revisions())
    shell(project, merge)
    [merge_file] = set(project.revisions()) - before
    merge_revision = merge_file.read_text(encoding="utf-8")
    assert products_id in merge_revision and "dddddddddddd" in merge_revision
    shell(project, upgrade)
    [merge_id] = re.findall(r'^revision: str = "(\w+)"', merge_revision, re.M)
    [merged_head] = project.run("alembic", "heads").stdout.splitlines()
    assert merged_head.startswith(f"{merge_id} (head)")
    assert f"{merge_id} (head)" in project.run("alembic", "current").stdout
    shell(project, f"{run_tests} -p no:cacheprovider")


def test_a_rename_written_as_the_readme_says_keeps_the_rows(project: Project) -> None:
    readme = readme_of(project)
    section = readme.split("\n### Review an autogenerated revision\n", 1)[1]
    [rename] = [
        textwrap.dedent(block)
        for block in re.findall(r"```python\n(.*?)```", section, re.DOTALL)
        if "new_column_name" in block
    ]
    project.run("alembic", "upgrade", "head")
    project.write("src/my_project/models/products.py", PRODUCTS)
    register_products(project)
    autogenerate(project, "add products")
    project.run("alembic", "upgrade", "head")
    with sqlite3.connect(project.path / "my_project.sqlite3") as database:
        database.executemany(
            "INSERT INTO products (sku, price_cents, legacy_code) VALUES (?, ?, ?)",
            [("a", 150, "L-1"), ("b", 275, None)],
        )
    database.close()
    project.write("src/my_project/models/products.py", PRODUCTS.replace("legacy_code", "code"))

    revision = autogenerate(project, "rename legacy_code to code")

    # What autogenerate sees: a drop and an add, which would lose the column's values.
    assert 'drop_column("legacy_code")' in revision
    assert 'add_column(sa.Column("code"' in revision
    [path] = [p for p in project.revisions() if "rename_legacy_code" in p.name]
    header = revision.split("\ndef upgrade()", 1)[0]
    path.write_text(f"{header}\n{rename}", encoding="utf-8")
    project.run("alembic", "upgrade", "head")
    with sqlite3.connect(project.path / "my_project.sqlite3") as database:
        rows = database.execute("SELECT sku, code FROM products ORDER BY sku").fetchall()
    database.close()
    assert rows == [("a", "L-1"), ("b", None)]
    assert "No new upgrade operations detected" in project.run("alembic", "check").stdout
    project.run("pytest", "-p", "no:cacheprovider")


def test_the_local_env_file_is_read_and_the_real_environment_wins(project: Project) -> None:
    [copy] = console_commands(readme_of(project), "### Local, staging, production")

    shell(project, copy)
    with (project.path / ".env").open("a", encoding="utf-8") as env_file:
        env_file.write("DATABASE_URL=sqlite:///local.sqlite3\n")
    project.run("alembic", "upgrade", "head")
    staging = {"DATABASE_URL": "sqlite:///staging.sqlite3"}
    project.run("alembic", "upgrade", "head", env=staging)

    assert (project.path / "local.sqlite3").exists()
    assert (project.path / "staging.sqlite3").exists()
    assert not (project.path / "my_project.sqlite3").exists()
    git("init", "--quiet", cwd=project.path)
    assert git("check-ignore", ".env", cwd=project.path).strip() == ".env"
    assert ".env.example" in git("status", "--porcelain", "--untracked-files=all", cwd=project.path)


def test_the_deploy_section_names_settings_that_exist(bake: BakeProject) -> None:
    project = bake()
    section = readme_of(project).split("\n## Deploying\n", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`(MIGRATION_\w+)`", section))
    settings = (project.package / "settings.py").read_text(encoding="utf-8")
    fields = {
        f"MIGRATION_{name.upper()}" for name in re.findall(r"^    (\w+): float", settings, re.M)
    }

    assert named == {"MIGRATION_LOCK_WAIT", "MIGRATION_LOCK_TIMEOUT"}
    assert named <= fields
    assert console_commands(section, "### Run migrations once per deploy") == [
        "alembic upgrade head"
    ]


def test_a_sqlite_project_tests_on_a_postgresql_server_as_the_readme_says(
    bake: BakeProject,
) -> None:
    server = server_for("postgresql")
    assert server is not None
    project = bake()
    install, run_tests = console_commands(
        readme_of(project), "### Testing against a database server"
    )
    assert run_tests.startswith("TEST_DATABASE_URL=postgresql+psycopg://")
    project.run(sys.executable, "-m", "venv", ".venv")
    project.run("python", "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    project.run("python", "-m", "pip", "install", "--quiet", "-e", ".", "--group", "dev")

    shell(project, install)
    # The README's URL names a server of the reader's; this one names the tests' server.
    url = server.replace("postgresql://", "postgresql+psycopg://", 1)
    output = shell(
        project, re.sub(r"^TEST_DATABASE_URL=\S+", f"TEST_DATABASE_URL={url}", run_tests)
    )

    assert re.search(r"\d+ passed", output), output
    assert "skipped" not in output, output
