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
}

NEXT_STEPS = """
Created {slug}/. Next:

    cd {slug}
    python -m venv .venv && . .venv/bin/activate
    python -m pip install --upgrade pip && python -m pip install -e . --group dev
    alembic upgrade head
    pytest

(or, with uv: `uv sync`, then `uv run alembic upgrade head` and `uv run pytest`)
"""


def main() -> None:
    for option, paths in OPTIONAL_FILES.items():
        if not ANSWERS[option]:
            for path in paths:
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()
    print(NEXT_STEPS.format(slug=ANSWERS["project_slug"]))


if __name__ == "__main__":
    main()
