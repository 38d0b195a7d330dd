"""Lints each revision's upgrade, rendered as ``--sql`` prints it, with squawk (PostgreSQL).

squawk (https://squawkhq.com, ``squawk-cli`` in the dev group) names the statements that lock
a table its application is using: an index built without CONCURRENTLY, a constraint added
without NOT VALID, a column type change that rewrites the table, a new column required
without a default, and more. A revision accepts a finding on purpose with a module-level
``lint_accepted = {"rule-name": "why it is safe here"}``.
"""

import json
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from shutil import which
from typing import Any

from alembic.config import Config
from alembic.script import Script, ScriptDirectory

from tests.migrations.runner import RenderedStep, render_sql

# squawk's rules that are on by default but left out here, each with the reason.
EXCLUDED = {
    # Each revision runs in a transaction of its own and PostgreSQL rolls DDL back: a failed
    # revision can simply run again. (What runs outside it, in autocommit_block(), is written
    # to run again: see the README.)
    "prefer-robust-stmts": "each revision is one transaction, rolled back whole if it fails",
    # env.py sets both on its session for every `alembic upgrade`, where --sql cannot show them.
    "require-lock-timeout": "env.py sets lock_timeout (MIGRATION_LOCK_TIMEOUT)",
    "require-statement-timeout": "env.py sets statement_timeout (MIGRATION_STATEMENT_TIMEOUT)",
    # Schema design preferences that fire on every CREATE TABLE: they lock nothing.
    "prefer-bigint-over-int": "a design choice, not a lock",
    "prefer-bigint-over-smallint": "a design choice, not a lock",
    "prefer-identity": "a design choice, not a lock",
    "prefer-text-field": "a design choice, not a lock",
    "prefer-timestamptz": "a design choice, not a lock",
    "ban-char-field": "a design choice, not a lock",
    # ADD VALUE appends, which is what the README's enum recipe wants.
    "require-enum-value-ordering": "appending an enum value is intended, and locks nothing",
}

# Where env.py's offline mode is pointed: --sql never connects, but the settings need a URL.
NEVER_CONNECTED = "postgresql://lint@127.0.0.1:1/never_connected"


def squawk() -> str:
    """The squawk installed beside this Python (the dev group's squawk-cli), else on PATH."""
    program = "squawk.exe" if sys.platform == "win32" else "squawk"
    beside = Path(sysconfig.get_path("scripts")) / program
    found = str(beside) if beside.is_file() else which("squawk")
    if found is None:
        raise RuntimeError("squawk is not installed: install the dev group (squawk-cli)")
    return found


def render_upgrades(
    config: Config, script: ScriptDirectory
) -> dict[Script, RenderedStep | Exception]:
    """Each revision's upgrade as ``alembic upgrade <down revision>:<revision> --sql`` prints
    it, or why it cannot be rendered; oldest first, those marked ``online_only`` left out.

    One run of env.py renders them all, going on past a revision that fails.
    """
    revisions = list(reversed(list(script.walk_revisions())))  # oldest first
    online = {revision.revision for revision in revisions if _online_only(revision)}
    rendered = render_sql(config, script, revisions, True, (), skip=online)
    return {
        revision: sql
        for revision, sql in zip(revisions, rendered, strict=True)
        if revision.revision not in online
    }


def _online_only(revision: Script) -> bool:
    """Marked as reading the database, which ``--sql`` cannot render."""
    return bool(getattr(revision.module, "online_only", None))


def lint(config: Config) -> list[str]:
    """Render every revision's upgrade and lint them all in one squawk run: one line per
    finding its revision does not accept, and per marker that accepts nothing."""
    script = ScriptDirectory.from_config(config)
    problems: list[str] = []
    revisions: dict[str, Script] = {}
    with tempfile.TemporaryDirectory() as directory:
        for revision, step in render_upgrades(config, script).items():
            name = Path(revision.path).name
            if isinstance(step, Exception):
                problems.append(
                    f"{name} cannot be rendered with --sql, so squawk cannot read it: "
                    f"{type(step).__name__}: {str(step).strip().splitlines()[0]}"
                )
                continue
            (Path(directory) / f"{name}.sql").write_text(step.sql, encoding="utf-8")
            revisions[f"{name}.sql"] = revision
        findings = run_squawk(directory, sorted(revisions)) if revisions else []
        for sql_file, revision in revisions.items():
            mine = [finding for finding in findings if Path(finding["file"]).name == sql_file]
            sql = (Path(directory) / sql_file).read_text(encoding="utf-8")
            problems += judge(Path(revision.path).name, revision, mine, sql)
    return problems


def run_squawk(directory: str, files: list[str]) -> list[dict[str, Any]]:
    """squawk's findings for ``files`` in ``directory``, as its JSON reporter lists them."""
    result = subprocess.run(
        [squawk(), "--reporter", "json", "--exclude", ",".join(EXCLUDED), *files],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode not in (0, 1):  # 1: it found something; anything else: it failed
        raise RuntimeError(f"squawk exited {result.returncode}: {result.stderr.strip()}")
    findings: list[dict[str, Any]] = json.loads(result.stdout)
    return findings


def judge(name: str, revision: Script, findings: list[dict[str, Any]], sql: str) -> list[str]:
    """The findings of one revision that its ``lint_accepted`` does not accept, as lines."""
    accepted = getattr(revision.module, "lint_accepted", {})
    if not isinstance(accepted, dict) or not all(
        isinstance(rule, str) and isinstance(why, str) and why.strip()
        for rule, why in accepted.items()
    ):
        return [f"{name}: lint_accepted must map each rule name to the reason, both strings"]
    lines = sql.splitlines()
    problems = [
        f"{name}: {finding['rule_name']} ({statement(lines, finding)}): {finding['message']}"
        + (f" {finding['help']}" if finding.get("help") else "")
        for finding in findings
        if finding["rule_name"] not in accepted
    ]
    found = {finding["rule_name"] for finding in findings}
    problems += [
        f"{name}: lint_accepted accepts {rule}, which squawk does not find in it; remove it"
        for rule in accepted
        if rule not in found
    ]
    return problems


def statement(lines: list[str], finding: dict[str, Any]) -> str:
    """The SQL the finding points at (squawk counts lines from 0), squeezed onto one line."""
    text = " ".join(" ".join(lines[finding["line"] : finding["line_end"] + 1]).split())
    text = text.removesuffix(";")
    return text if len(text) <= 100 else text[:97] + "..."
