"""Remove the files of options that were not chosen, then print the next steps."""

import json
import shutil
from pathlib import Path

ANSWERS = json.loads(r"""{{ cookiecutter | tojson }}""")
PACKAGE = Path("src") / ANSWERS["package_name"]

# Files that exist only for an option; removed when the option is off.
OPTIONAL_FILES = {
    "example_models": [
        PACKAGE / "models" / "roles.py",
        PACKAGE / "models" / "users.py",
        PACKAGE / "models" / "user_roles.py",
        Path("tests") / "test_example_models.py",
        Path("tests") / "migrations" / "test_data_migrations.py",
        # FastAPI's routes over the example models (files of web_framework=fastapi too).
        PACKAGE / "routes.py",
        PACKAGE / "routes_async.py",
        PACKAGE / "schemas.py",
        # The shipped history creates and evolves the example tables.
        *Path("migrations", "versions").glob("*.py"),
    ],
    "async_driver": [
        Path("tests") / "migrations" / "test_async_env.py",
    ],
}

# Files of one database only; removed when another is chosen.
DATABASE_FILES = {
    "postgresql": [
        Path("tests") / "migrations" / "lint.py",
        Path("tests") / "migrations" / "test_lint.py",
    ],
}

# Files of each web framework; those of the frameworks not chosen are removed.
FRAMEWORK_FILES = {
    "flask": [
        Path(".flaskenv"),
        PACKAGE / "app.py",
        PACKAGE / "extensions.py",
        Path("tests") / "test_app.py",
    ],
    "fastapi": [
        PACKAGE / "app_fastapi.py",
        PACKAGE / "dependencies.py",
        PACKAGE / "dependencies_async.py",
        PACKAGE / "health.py",
        PACKAGE / "routes.py",
        PACKAGE / "routes_async.py",
        PACKAGE / "schemas.py",
        Path("tests") / "app_sessions.py",
        Path("tests") / "app_sessions_async.py",
        Path("tests") / "test_app_fastapi.py",
    ],
}

# Files of a framework named apart because another framework has a file of that name: the
# chosen framework's take the name (Flask's app.py is app.py in the template).
FRAMEWORK_VARIANTS = {
    "fastapi": {
        PACKAGE / "app_fastapi.py": PACKAGE / "app.py",
        Path("tests") / "test_app_fastapi.py": Path("tests") / "test_app.py",
    },
}

# Modules written twice, synchronous and async: the async one replaces the other when chosen.
# Those of an option left off are gone by then, both of them.
ASYNC_VARIANTS = {
    PACKAGE / "db_async.py": PACKAGE / "db.py",
    PACKAGE / "dependencies_async.py": PACKAGE / "dependencies.py",
    PACKAGE / "routes_async.py": PACKAGE / "routes.py",
    Path("tests") / "app_sessions_async.py": Path("tests") / "app_sessions.py",
    Path("tests") / "test_db_async.py": Path("tests") / "test_db.py",
}


# The README's quick start, so that what the bake prints and what the README says agree.
NEXT_STEPS = """
Created {slug}/. Next:

    cd {slug}
    python -m venv .venv && . .venv/bin/activate
    python -m pip install --upgrade pip        # `--group` needs pip 25.1 or newer
    python -m pip install -e . --group dev{server}
    alembic upgrade head
    pytest

(or, with uv: `uv sync`, then `uv run alembic upgrade head` and `uv run pytest`)
"""

SERVER_STEPS = """
    export DATABASE_URL={server}/{database}
    export TEST_DATABASE_URL={server}/{maintenance}
    {create}   # once: the database DATABASE_URL names"""

# Each server's example address, the database every such server has, and the command that
# creates the project's database there.
SERVERS = {
    "postgresql": (
        "postgresql://user:password@localhost:5432",
        "postgres",
        'psql "$TEST_DATABASE_URL" -c "CREATE DATABASE {database}"',
    ),
    "mysql": (
        "mysql://user:password@localhost:3306",
        "mysql",
        "mysql -h localhost -P 3306 --protocol=tcp -u user -ppassword"
        ' -e "CREATE DATABASE {database} CHARACTER SET utf8mb4"',
    ),
}


def unwanted() -> list[Path]:
    """The files of the options, database and frameworks not chosen, each once: a file of
    two options (FastAPI's routes, of the example models too) goes if either is off."""
    paths: list[Path] = []
    for option, files in OPTIONAL_FILES.items():
        if not ANSWERS[option]:
            paths += files
    for database, files in DATABASE_FILES.items():
        if ANSWERS["database"] != database:
            paths += files
    for framework, files in FRAMEWORK_FILES.items():
        if ANSWERS["web_framework"] != framework:
            paths += files
    return list(dict.fromkeys(paths))


def main() -> None:
    for path in unwanted():
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    for variant, module in FRAMEWORK_VARIANTS.get(ANSWERS["web_framework"], {}).items():
        variant.replace(module)
    for variant, module in ASYNC_VARIANTS.items():
        if not variant.exists():  # gone with its option or framework, like its module
            continue
        if ANSWERS["async_driver"]:
            variant.replace(module)
        else:
            variant.unlink()
    server = ""
    if ANSWERS["database"] in SERVERS:
        address, maintenance, create = SERVERS[ANSWERS["database"]]
        database = ANSWERS["package_name"]
        server = SERVER_STEPS.format(
            server=address,
            database=database,
            maintenance=maintenance,
            create=create.format(database=database),
        )
    print(NEXT_STEPS.format(slug=ANSWERS["project_slug"], server=server))


if __name__ == "__main__":
    main()
