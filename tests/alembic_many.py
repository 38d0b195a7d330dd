"""Alembic in a baked project as the tests read it: many command lines in one process, and the
one FAILED line a failed command must end in."""

import json
from typing import Any

from tests.conftest import Project

# Runs many alembic command lines in one process, through alembic's own CLI entry point, so
# that dozens of credentials cost seconds; prints each one's exit code and output as JSON.
ALEMBIC_MANY = """\
import json, os, sys, tempfile
from alembic.config import main

results = []
for case in json.load(open(sys.argv[1], encoding="utf-8")):
    for name in [name for name in os.environ if name.startswith(("DATABASE_", "MIGRATION_"))]:
        del os.environ[name]
    os.environ.update(case["env"])
    code = 0
    with tempfile.TemporaryFile("w+", encoding="utf-8") as output:
        saved = os.dup(1), os.dup(2)
        os.dup2(output.fileno(), 1)
        os.dup2(output.fileno(), 2)
        try:
            main(argv=case["argv"], prog="alembic")
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else 1
        except Exception as error:
            code = 99
            print(f"{type(error).__name__}: {error}", file=sys.stderr)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
        output.seek(0)
        results.append({"code": code, "output": output.read()})
json.dump(results, open(sys.argv[2], "w", encoding="utf-8"))
"""


def alembic_many(project: Project, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run each case (``{"env": ..., "argv": [...]}``) in one process: its exit code and output."""
    script = project.write("alembic_many.py", ALEMBIC_MANY)
    listed = project.write("alembic_many.json", json.dumps(cases))
    answers = project.path / "alembic_many.out.json"
    result = project.run("python", str(script), str(listed), str(answers), check=False)
    assert result.returncode == 0, result.stderr
    results: list[dict[str, Any]] = json.loads(answers.read_text(encoding="utf-8"))
    for path in (script, listed, answers):
        path.unlink()
    return results


def failed_line(code: int, output: str) -> str:
    """The one FAILED line of a command that failed, beside its INFO progress lines."""
    assert code != 0, output
    lines = [line for line in output.strip().splitlines() if not line.startswith("INFO ")]
    assert len(lines) == 1 and lines[0].startswith("FAILED: "), output
    return lines[0]
