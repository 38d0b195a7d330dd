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
}

# Modules written twice, synchronous and async: the async one replaces the other when chosen.
ASYNC_VARIANTS = {
    PACKAGE / "db_async.py": PACKAGE / "db.py",
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


def main() -> None:
    for variant, module in ASYNC_VARIANTS.items():
        if ANSWERS["async_driver"]:
            variant.replace(module)
        else:
            variant.unlink()
    for option, paths in OPTIONAL_FILES.items():
        if not ANSWERS[option]:
            for path in paths:
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()
    for database, paths in DATABASE_FILES.items():
        if ANSWERS["database"] != database:
            for path in paths:
                path.unlink()
    for framework, paths in FRAMEWORK_FILES.items():
        if ANSWERS["web_framework"] != framework:
            for path in paths:
                path.unlink()
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
