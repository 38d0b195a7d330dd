"""What env.py puts around a migration: one-line errors, one deploy at a time, bounded waits."""

import hashlib
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from alembic.util import CommandError
from sqlalchemy import URL, Connection, text
from sqlalchemy.exc import DBAPIError, OperationalError

# Relative, so that this module and settings.py can be copied into any package together;
# MigrationSettings is re-exported so that env.py imports from this module alone.
from .settings import MigrationSettings as MigrationSettings
from .settings import (
    SettingsError,
    driver_connect_args,
    load_migration_settings,
    load_settings,
)

# One name per database: PostgreSQL keeps advisory locks per database, MySQL per server.
LOCK_NAME = "alembic_version"
POLL_SECONDS = 0.2

# Driver error codes of a statement that gave up waiting, with the setting that bounds it.
TIMEOUTS = {
    "55P03": "MIGRATION_LOCK_TIMEOUT",  # PostgreSQL lock_not_available (lock_timeout)
    "57014": "MIGRATION_STATEMENT_TIMEOUT",  # PostgreSQL query_canceled (statement_timeout)
    1205: "MIGRATION_LOCK_TIMEOUT",  # MySQL/MariaDB lock wait timeout exceeded
    1969: "MIGRATION_STATEMENT_TIMEOUT",  # MariaDB max_statement_time exceeded
    3024: "MIGRATION_STATEMENT_TIMEOUT",  # MySQL max_execution_time exceeded
}
# MySQL has no "no limit" for lock_wait_timeout; this is its maximum, a year.
MYSQL_LONGEST_WAIT = 31536000


def database_url() -> URL:
    """The configured URL; a bad setting ends the command with one line naming it."""
    try:
        return load_settings().sqlalchemy_url
    except SettingsError as error:
        raise CommandError(str(error)) from None


def migration_settings() -> MigrationSettings:
    """The configured lock and timeout limits; a bad one ends the command in one line."""
    try:
        return load_migration_settings()
    except SettingsError as error:
        raise CommandError(str(error)) from None


def connect_args(url: URL, settings: MigrationSettings) -> dict[str, Any]:
    """Driver options for env.py: an unreachable server fails after ``connect_timeout``."""
    backend = url.get_backend_name()
    if backend == "postgresql":
        # libpq counts whole seconds and treats anything under 2 as 2.
        return {"connect_timeout": max(2, math.ceil(settings.connect_timeout))}
    if backend == "mysql":
        return {**driver_connect_args(url), "connect_timeout": settings.connect_timeout}
    return {}


def connection_failure(error: DBAPIError, url: URL) -> CommandError:
    """One line saying which server could not be reached and why, with the password hidden."""
    reason = _first_line(error, url)
    # The server and database, not the query: a query may carry options only its owner reads.
    where = url.set(query={}).render_as_string(hide_password=True)
    return CommandError(
        f"cannot connect to {where}: {reason}; check DATABASE_URL "
        "(or DATABASE_HOST, DATABASE_PORT, DATABASE_USER, DATABASE_PASSWORD, DATABASE_NAME)"
    )


@contextmanager
def one_migration_at_a_time(connection: Connection, wait: float) -> Iterator[None]:
    """Hold the database's migration lock while migrating, so concurrent deploys take turns.

    The lock belongs to the session (an advisory lock on PostgreSQL, GET_LOCK on MySQL): it is
    released on the way out, or by the server if the process dies. The deploys that waited
    find the version table at head and have nothing left to do. SQLite has nothing to hold.
    """
    backend = connection.dialect.name
    if backend not in ("postgresql", "mysql"):
        yield
        return
    if not _acquire(connection, backend, wait):
        raise CommandError(
            f"another process kept the migration lock for more than MIGRATION_LOCK_WAIT "
            f"({wait:g} s); it may still be migrating: check `alembic current`, "
            "then retry or raise MIGRATION_LOCK_WAIT"
        )
    connection.commit()
    try:
        yield
    finally:
        try:
            connection.rollback()
            _release(connection, backend)
            connection.commit()
        except DBAPIError:
            pass  # The connection is gone, and the server freed the lock with it.


def _acquire(connection: Connection, backend: str, wait: float) -> bool:
    if backend == "mysql":
        name = _mysql_lock_name(connection)
        got = connection.scalar(text("SELECT GET_LOCK(:name, :wait)"), {"name": name, "wait": wait})
        return bool(got == 1)
    deadline = time.monotonic() + wait
    while not connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": _key()}):
        if time.monotonic() >= deadline:
            return False
        # Polling keeps lock_timeout (meant for table locks) out of the wait for this one.
        time.sleep(POLL_SECONDS)
    return True


def _release(connection: Connection, backend: str) -> None:
    if backend == "mysql":
        name = _mysql_lock_name(connection)
        connection.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": name})
    else:
        connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _key()})


def _mysql_lock_name(connection: Connection) -> str:
    """GET_LOCK names are server-wide: qualify LOCK_NAME with the database (64 characters)."""
    return f"{connection.scalar(text('SELECT DATABASE()'))}.{LOCK_NAME}"[-64:]


def _key() -> int:
    """A stable 64-bit advisory lock key derived from LOCK_NAME."""
    digest = hashlib.sha256(LOCK_NAME.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def bounded_waits(connection: Connection, settings: MigrationSettings) -> Iterator[None]:
    """Make a statement that waits on another session's lock, or runs too long, give up.

    A blocked ALTER TABLE also blocks every query queued behind it, so failing after
    ``lock_timeout`` is kinder to a live application than waiting. The revision that gave up
    is rolled back where DDL is transactional (PostgreSQL, SQLite).
    """
    _set_timeouts(connection, settings)
    try:
        yield
    except OperationalError as error:
        setting = TIMEOUTS.get(_code(error))
        if setting is None:
            raise
        seconds = getattr(settings, setting.removeprefix("MIGRATION_").lower())
        if connection.dialect.name == "mysql":
            state = "MySQL cannot roll back DDL: check `alembic current` and the tables it touched"
        else:
            state = "its revision was rolled back and the database is at the revision before it"
        raise CommandError(
            f"a statement gave up after {setting} ({seconds:g} s): {_first_line(error)}; {state}; "
            f"retry when the other session is done, or raise {setting}"
        ) from None


def _set_timeouts(connection: Connection, settings: MigrationSettings) -> None:
    lock_ms = round(settings.lock_timeout * 1000)
    statement_ms = round(settings.statement_timeout * 1000)
    if connection.dialect.name == "postgresql":
        connection.execute(
            text(
                "SELECT set_config('lock_timeout', :lock, false), "
                "set_config('statement_timeout', :statement, false)"
            ),
            {"lock": f"{lock_ms}ms", "statement": f"{statement_ms}ms"},
        )
    elif connection.dialect.name == "mysql":
        lock_seconds = math.ceil(settings.lock_timeout) or MYSQL_LONGEST_WAIT
        connection.execute(
            text("SET SESSION lock_wait_timeout = :s, innodb_lock_wait_timeout = :s"),
            {"s": lock_seconds},
        )
        if getattr(connection.dialect, "is_mariadb", False):
            connection.execute(
                text("SET SESSION max_statement_time = :s"), {"s": settings.statement_timeout}
            )
        else:
            connection.execute(text("SET SESSION max_execution_time = :ms"), {"ms": statement_ms})
    else:
        return
    connection.commit()


@contextmanager
def sqlite_foreign_keys_off(connection: Connection) -> Iterator[None]:
    """Let batch mode rebuild a parent table without touching its child tables' rows.

    With foreign keys enforced, SQLite drops a table by deleting its rows first, so the
    copy-drop-rename of a batch operation would cascade into (or be refused by) the tables
    that reference it. Enforcement is off for the run; the references are checked after it.
    """
    if connection.dialect.name != "sqlite" or not _pragma(connection, "foreign_keys"):
        yield
        return
    _pragma(connection, "foreign_keys=OFF")
    if _pragma(connection, "foreign_keys"):
        raise CommandError(
            "SQLite cannot switch foreign keys off inside a transaction that has written; "
            "commit or roll back the connection handed to env.py before migrating"
        )
    try:
        yield
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    finally:
        # At once when the connection is between transactions (env.py's own always is); a
        # caller that handed one in mid-transaction gets them back with a new connection.
        _pragma(connection, "foreign_keys=ON")
    if broken:
        tables = sorted({row[0] for row in broken})
        raise CommandError(
            f"after migrating, {len(broken)} row(s) in {', '.join(tables)} point at rows that "
            "no longer exist (PRAGMA foreign_key_check); fix the revision or the data"
        )


def _pragma(connection: Connection, pragma: str) -> Any:
    """Run a PRAGMA, leaving the connection in or out of a transaction as it found it."""
    outside = not connection.in_transaction()
    result = connection.exec_driver_sql(f"PRAGMA {pragma}")
    value = result.scalar() if result.returns_rows else None
    if outside:
        connection.commit()
    return value


def _code(error: DBAPIError) -> str | int | None:
    """MySQL's error number (its SQLSTATE is too coarse), else PostgreSQL's SQLSTATE."""
    args = getattr(error.orig, "args", ())
    if args and isinstance(args[0], int):
        return args[0]
    sqlstate: str | None = getattr(error.orig, "sqlstate", None)
    return sqlstate


def _first_line(error: DBAPIError, url: URL | None = None) -> str:
    """The driver's own message, first line; withheld whole should it hold the password.

    Withheld rather than masked: masking a short password's letters in the message would
    show where they are, and so the password.
    """
    message = str(error.orig).strip().splitlines()[0] if str(error.orig).strip() else repr(error)
    if url is not None and url.password and str(url.password) in str(error.orig):
        return f"{type(error.orig).__name__} (its message is withheld: it holds the password)"
    return message
