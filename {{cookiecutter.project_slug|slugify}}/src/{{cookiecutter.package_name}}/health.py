"""What ``GET /health`` reports: is the database reachable, and at the migrations' head?

It reads the version table and migrations/, and never migrates: ``alembic upgrade head`` runs
once per deploy, before the app starts.
"""

import os
from pathlib import Path
from typing import Literal

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydantic import BaseModel
from sqlalchemy import URL, Connection
from sqlalchemy.exc import DBAPIError

from {{ cookiecutter.package_name }}.migration_guards import connection_failure, server_of
from {{ cookiecutter.package_name }}.settings import PROJECT_ROOT, SettingsError


class Health(BaseModel):
    """The answer of ``GET /health``: 200 with status ok, else 503 with the reason."""

    status: Literal["ok", "unavailable"]
    reason: str | None = None
    current: list[str] = []
    """The revisions the database is at (its version table)."""
    pending: list[str] = []
    """The revisions migrations/ has and the database lacks, oldest first."""


def alembic_ini() -> Path:
    """The alembic.ini that ``alembic`` would read: ``ALEMBIC_CONFIG``, else the project's.

    The project root is the directory holding alembic.ini above the package (a checkout), or
    else the working directory (an installed package, say in the image, whose /app holds it).
    """
    return Path(os.environ.get("ALEMBIC_CONFIG") or PROJECT_ROOT / "alembic.ini")


def load_script_directory() -> ScriptDirectory:
    """migrations/, as alembic.ini names it; its revisions are read once, on first use."""
    path = alembic_ini()
    if not path.is_file():
        raise SettingsError(
            f"ALEMBIC_CONFIG: no alembic.ini at {path}, so the health check cannot tell which "
            "revisions exist; start the app in the directory holding alembic.ini and "
            "migrations/, or set ALEMBIC_CONFIG to its path"
        )
    return ScriptDirectory.from_config(Config(path))


def database_health(connection: Connection, script: ScriptDirectory) -> Health:
    """Compare the database's version table with the revisions of migrations/."""
    current = MigrationContext.configure(connection).get_current_heads()
    known = {revision.revision for revision in script.walk_revisions()}
    unknown = [revision for revision in current if revision not in known]
    if unknown:
        return Health(
            status="unavailable",
            reason=(
                f"the database is at revision {', '.join(unknown)}, which migrations/ does "
                "not have: it was migrated by newer code than this"
            ),
            current=list(current),
        )
    applied = (
        {revision.revision for revision in script.iterate_revisions(current, "base")}
        if current
        else set()
    )
    pending = [
        revision.revision
        for revision in reversed(list(script.walk_revisions()))
        if revision.revision not in applied
    ]
    if pending:
        return Health(
            status="unavailable",
            reason=(
                f"the database is behind head: {len(pending)} pending revision(s), "
                f"{', '.join(pending)}; run `alembic upgrade head`"
            ),
            current=list(current),
            pending=pending,
        )
    return Health(status="ok", current=list(current))


def unreachable(error: DBAPIError, url: URL) -> Health:
    """The database did not answer: the reason in one line, with the password hidden."""
    return Health(
        status="unavailable",
        reason=f"the database is not reachable: {connection_failure(error, url)}",
    )


def no_answer(url: URL, seconds: float) -> Health:
    """The database did not answer within ``seconds``: the reason in one line, password hidden."""
    reason = f"no answer within {seconds:g} s from {server_of(url)}"
    return Health(status="unavailable", reason=f"the database is not reachable: {reason}")
