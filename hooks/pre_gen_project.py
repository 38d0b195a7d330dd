"""Validate the answers before anything is written; on a bad one, explain it and stop."""

import json
import keyword
import re
import sys
from collections.abc import Callable

# The answers as JSON in a raw string: JSON escapes every quote, so no answer can end it.
ANSWERS = json.loads(r"""{{ cookiecutter | tojson }}""")

SLUG = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
PACKAGE = re.compile(r"[a-z_][a-z0-9_]*")

# Every distribution a baked project installs, whatever the options, with its dev group and
# build backend (`uv pip compile` of each combination, plus the Flask and FastAPI stacks): a
# project named like one of them would have to depend on itself.
INSTALLED = {
    "aiomysql", "aiosqlite", "alembic", "annotated-doc", "annotated-types", "anyio",
    "ast-serialize", "blinker", "certifi", "click", "exceptiongroup", "fastapi", "fastapi-cli",
    "flask", "flask-migrate", "flask-sqlalchemy", "greenlet", "h11", "hatchling", "httpcore",
    "httptools", "httpx", "idna", "iniconfig", "itsdangerous", "jinja2", "librt", "mako",
    "markdown-it-py", "markupsafe", "mdurl", "mypy", "mypy-extensions", "opentelemetry-api",
    "packaging", "pathspec", "pluggy", "psycopg", "psycopg-binary", "pydantic", "pydantic-core",
    "pydantic-settings", "pygments", "pymysql", "pytest", "python-dotenv", "pyyaml", "rich",
    "rich-toolkit", "ruff", "shellingham", "sqlalchemy", "starlette", "tomli", "tomlkit",
    "trove-classifiers", "typer", "typing-extensions", "typing-inspection", "uvicorn", "uvloop",
    "watchfiles", "websockets", "werkzeug",
}  # fmt: skip
# Their import names: a package named like one of them would shadow it.
IMPORTED = {name.replace("-", "_") for name in INSTALLED} | {
    "_pytest", "dotenv", "markdown_it", "opentelemetry", "py", "yaml",
}  # fmt: skip
# sys.stdlib_module_names leaves out the standard library's own `test` package.
STDLIB = sys.stdlib_module_names | {"test"}
# Names the baked project already gives to its top-level directories and its own modules.
LAYOUT = {
    "migrations": "the migrations/ directory at the project root",
    "src": "the src/ directory at the project root",
    "tests": "the tests/ package at the project root",
    "models": "the package's own models subpackage",
    "settings": "the package's own settings module",
    "db": "the package's own db module",
}


def shown(value: object) -> str:
    """An answer as the error line shows it: one-line text as typed, anything else as JSON."""
    return value if isinstance(value, str) and value.isprintable() else json.dumps(value)


def one_line(text: str) -> str:
    """`text` with every run of whitespace or control characters made one space."""
    return " ".join("".join(char if char.isprintable() else " " for char in text).split())


def name_problem(name: str) -> str | None:
    """Why `name` cannot be the project's name, or None."""
    if not name.strip():
        return "is empty"
    if not name.isprintable():
        return "must be one line of printable text"
    return None


def slug_problem(slug: str) -> str | None:
    """Why `slug` cannot name the project's directory and distribution, or None."""
    if not slug:
        return "is empty"
    if slug != slug.strip():
        return "has spaces around it"
    if not SLUG.fullmatch(slug):
        return "must be lowercase letters, digits and single hyphens, starting with a letter"
    if slug in INSTALLED:
        return "is a package the project installs, and a project cannot depend on itself"
    return None


def package_problem(package: str) -> str | None:
    """Why `package` cannot be the import name of the project's package, or None."""
    if not package:
        return "is empty"
    if package != package.strip():
        return "has spaces around it"
    if not PACKAGE.fullmatch(package):
        return (
            "must be a lowercase Python identifier: letters, digits and underscores, "
            "not starting with a digit"
        )
    if keyword.iskeyword(package):
        return "must be a lowercase Python identifier that is not a Python keyword"
    if package in STDLIB:
        return f"would shadow the standard library module {package}"
    if package in IMPORTED:
        return f"would shadow {package}, which the project installs"
    if package in LAYOUT:
        return f"clashes with {LAYOUT[package]}"
    return None


def suggestion(value: str, separator: str, problem: Callable[[str], str | None]) -> str:
    """A name close to `value` that passes: its words joined, else prefixed with `my`."""
    words = re.findall(r"[a-z0-9]+", value.lower())
    candidate = separator.join(words)
    if problem(candidate):
        candidate = separator.join(["my", *(words or ["project"])])
    return candidate


def problems(answers: dict) -> list[str]:
    """Each bad answer as `<field> (<value>): <why>; <fix>`."""
    found = []
    name = answers["project_name"]
    why = name_problem(name)
    if why:
        found.append(
            f"project_name ({shown(name)}): {why}; "
            f"use for example {json.dumps(one_line(name) or 'My Project')}"
        )
    for field, problem, separator in (
        ("project_slug", slug_problem, "-"),
        ("package_name", package_problem, "_"),
    ):
        value = answers[field]
        why = problem(value)
        if why:
            found.append(
                f"{field} ({shown(value)}): {why}; "
                f"use for example '{suggestion(value, separator, problem)}'"
            )
    if answers["async_driver"] and answers["web_framework"] == "flask":
        found.append(
            f"async_driver ({shown(answers['async_driver'])}): Flask-SQLAlchemy's sessions are "
            "synchronous, so web_framework=flask needs the synchronous driver; bake with "
            "async_driver=false, or with web_framework=none for an async project"
        )
    return found


def main() -> int:
    found = problems(ANSWERS)
    for problem in found:
        print(f"ERROR: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
