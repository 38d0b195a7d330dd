"""Validate the answers before anything is written; on a bad one, explain it and stop."""

import json
import keyword
import re
import sys

# The answers as JSON in a raw string: JSON escapes every quote, so no answer can end it.
ANSWERS = json.loads(r"""{{ cookiecutter | tojson }}""")

SLUG = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
PACKAGE = re.compile(r"[a-z_][a-z0-9_]*")


def shown(value: object) -> str:
    """An answer as the error line shows it: text as typed, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def problems(answers: dict) -> list[str]:
    """Each bad answer as `<field> (<value>): <why>; <fix>`."""
    found = []
    slug, package = answers["project_slug"], answers["package_name"]
    if not SLUG.fullmatch(slug):
        found.append(
            f"project_slug ({slug}): must be lowercase letters, digits and single hyphens, "
            "starting with a letter; use for example 'my-project'"
        )
    if not PACKAGE.fullmatch(package) or keyword.iskeyword(package):
        found.append(
            f"package_name ({package}): must be a lowercase Python identifier and not a "
            "keyword; use for example 'my_project'"
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
