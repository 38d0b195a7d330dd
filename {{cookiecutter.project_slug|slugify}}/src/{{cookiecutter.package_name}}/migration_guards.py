"""What env.py puts around a migration: one-line errors, deploy lock, bounded waits."""

import asyncio
import hashlib
import math
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from alembic.util import CommandError
from sqlalchemy import URL, Connection, Engine, event, text
from sqlalchemy.exc import DBAPIError, OperationalError

# Relative, so that this module, settings.py and type_changes.py can be copied into any
# package together; MigrationSettings and convert_column_types are re-exported so that env.py
# imports from this module alone.
from .settings import MigrationSettings as MigrationSettings
from .settings import (
    SettingsError,
    driver_connect_args,
    load_migration_settings,
    load_settings,
    require_async_driver,
)
from .type_changes import convert_column_types as convert_column_types

if TYPE_CHECKING:  # the async extension needs greenlet, which only async projects install
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

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
    "SQLITE_BUSY": "MIGRATION_LOCK_TIMEOUT",  # another connection kept the file locked
}
# MySQL has no "no limit" for lock_wait_timeout; this is its maximum, a year.
MYSQL_LONGEST_WAIT = 31536000
# The longest idle_timeout PostgreSQL can take, in seconds: its limit is 2**31 - 1 milliseconds.
LONGEST_SILENCE = (2**31 - 1) // 1000
# Where a connection remembers whether a pooler answers for PostgreSQL (see through_pooler).
THROUGH_POOLER = "migration_guards.through_pooler"


def database_url(for_asyncio: bool = False) -> URL:
    """The configured URL; a bad setting ends the command with one line naming it."""
    try:
        url = load_settings().sqlalchemy_url
        return require_async_driver(url) if for_asyncio else url
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
        # Keepalives and tcp_user_timeout make the client give up on a server that vanished
        # mid-migration.
        silence = _silence_seconds(settings)
        return {
            **bounded_connect_args(url, settings.connect_timeout),
            **_keepalives("keepalives_", silence),
            **({"keepalives": 1, "tcp_user_timeout": silence * 1000} if silence else {}),
            # No server-side prepared statements: behind a transaction pooler they would stay
            # on a server connection that the next transaction may not get, and that another
            # client gets instead. Migrations run each statement a few times at most.
            **({"prepare_threshold": None} if url.get_driver_name() == "psycopg" else {}),
        }
    if backend == "mysql":
        return {**driver_connect_args(url), **bounded_connect_args(url, settings.connect_timeout)}
    if backend == "sqlite":
        # sqlite3 waits this long (default 5 s) for a lock another connection holds on the
        # file, which is what MIGRATION_LOCK_TIMEOUT bounds on the servers.
        return {"timeout": settings.lock_timeout or MYSQL_LONGEST_WAIT}
    return {}


def bounded_connect_args(url: URL, seconds: float) -> dict[str, Any]:
    """Driver options under which connecting, handshake included, gives up after ``seconds``.

    For env.py's engine (see connect_args) and the app's (``create_db_engine``). An engine made
    with them needs ``unbounded_once_connected`` too.
    """
    backend = url.get_backend_name()
    if backend == "postgresql":
        # libpq counts whole seconds and treats anything under 2 as 2.
        return {"connect_timeout": max(2, math.ceil(seconds))}
    if backend == "mysql":
        options: dict[str, Any] = {"connect_timeout": seconds}
        if url.get_driver_name() == "pymysql":
            # PyMySQL's connect_timeout covers the TCP connect only, not the handshake that
            # follows: bound each read and write until connected (unbounded_once_connected).
            options |= {"read_timeout": seconds, "write_timeout": seconds}
        return options
    return {}


def unbounded_once_connected(engine: Engine) -> None:
    """Lift the handshake's bound (bounded_connect_args) from each new connection of ``engine``
    (a sync one, or the sync_engine of an async one): statements take as long as they need."""
    if engine.dialect.name == "mysql" and engine.dialect.driver == "pymysql":
        event.listen(engine, "connect", _unbounded_statements)


def guard_engine(engine: Engine, changes_schema: bool) -> None:
    """Prepare env.py's own engine (the sync one of an async engine): see the hooks."""
    unbounded_once_connected(engine)
    if engine.dialect.name == "sqlite" and changes_schema:
        event.listen(engine, "connect", _driver_opens_no_transactions)
        event.listen(engine, "begin", _begin_immediate)


def ddl_options(connection: Connection) -> dict[str, Any]:
    """Tell Alembic that DDL is transactional on a SQLite engine prepared by guard_engine."""
    if event.contains(connection.engine, "begin", _begin_immediate):
        return {"transactional_ddl": True}
    return {}


def _unbounded_statements(dbapi_connection: Any, _record: Any) -> None:
    """Connected: a statement may take as long as it needs (PyMySQL's timeouts)."""
    dbapi_connection._read_timeout = None
    dbapi_connection._write_timeout = None


def _driver_opens_no_transactions(dbapi_connection: Any, _record: Any) -> None:
    """Python's sqlite3 opens transactions before INSERT/UPDATE/DELETE only, so DDL would
    commit statement by statement; SQLAlchemy's recipe takes the BEGIN over (_begin_immediate).
    """
    dbapi_connection.isolation_level = None


def _begin_immediate(connection: Connection) -> None:
    """Each revision in one SQLite transaction, CREATE, ALTER, DROP and batch copies included,
    with the write lock taken at once rather than at the first write (no deadlock to lose).
    """
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def connect(engine: Engine, settings: MigrationSettings) -> Connection:
    """A connection of ``engine``; no answer or a refusal is one line naming the setting."""
    started = time.monotonic()
    try:
        return engine.connect()
    except DBAPIError as error:
        if time.monotonic() - started >= settings.connect_timeout:
            raise connect_timeout_failure(engine.url, settings) from None
        raise connection_failure(error, engine.url) from None


async def connect_async(engine: "AsyncEngine", settings: MigrationSettings) -> "AsyncConnection":
    """``connect`` for an async engine: the whole handshake within ``connect_timeout``.

    aiomysql's connect_timeout covers the TCP connect only; the wait here covers the rest.
    """
    connection = engine.connect()
    started = time.monotonic()
    try:
        await asyncio.wait_for(connection.start(), settings.connect_timeout)
    except asyncio.TimeoutError:
        raise connect_timeout_failure(engine.url, settings) from None
    except DBAPIError as error:
        if time.monotonic() - started >= settings.connect_timeout:
            raise connect_timeout_failure(engine.url, settings) from None
        raise connection_failure(error, engine.url) from None
    return connection


def connect_timeout_failure(url: URL, settings: MigrationSettings) -> CommandError:
    """One line for a server that did not answer in time, with the password hidden."""
    where = url.render_as_string(hide_password=True)
    return CommandError(
        f"cannot connect to {where}: no answer within MIGRATION_CONNECT_TIMEOUT "
        f"({settings.connect_timeout:g} s); check that the server is up and that DATABASE_URL "
        "(or DATABASE_HOST, DATABASE_PORT) names it, or raise MIGRATION_CONNECT_TIMEOUT"
    )


def server_of(url: URL) -> str:
    """The server and database ``url`` names, password hidden, for a message.

    Not the query: a query may carry options only its owner reads.
    """
    return url.set(query={}).render_as_string(hide_password=True)


def connection_failure(error: DBAPIError, url: URL) -> CommandError:
    """One line saying which server could not be reached and why, with the password hidden."""
    reason = _first_line(error, url)
    return CommandError(
        f"cannot connect to {server_of(url)}: {reason}; check DATABASE_URL "
        "(or DATABASE_HOST, DATABASE_PORT, DATABASE_USER, DATABASE_PASSWORD, DATABASE_NAME)"
    )


@contextmanager
def one_migration_at_a_time(
    connection: Connection, settings: MigrationSettings, changes_schema: bool = True
) -> Iterator[None]:
    """Hold the database's migration lock while migrating, so concurrent deploys take turns.

    The lock belongs to the session (an advisory lock on PostgreSQL, GET_LOCK on MySQL): it is
    released on the way out, or by the server if the process dies or goes silent for
    ``idle_timeout``. The deploys that waited find the version table at head and have nothing
    left to do. Behind a connection pooler the lock belongs to one transaction that holds the
    whole migration (see _transaction_lock). On SQLite the lock is a transaction on a file
    beside the database. Commands that only read (``alembic current``, ``check``) take no lock
    and never wait for one.
    """
    backend = connection.dialect.name
    if not changes_schema:
        yield
    elif through_pooler(connection):
        with _transaction_lock(connection, settings):
            yield
    elif backend == "sqlite":
        with _sqlite_lock(connection, settings.lock_wait):
            yield
    elif backend in ("postgresql", "mysql"):
        with _server_lock(connection, backend, settings):
            yield
    else:
        yield


def _lock_wait_failure(wait: float) -> CommandError:
    return CommandError(
        f"another process kept the migration lock for more than MIGRATION_LOCK_WAIT "
        f"({wait:g} s); it may still be migrating: check `alembic current`, "
        "then retry or raise MIGRATION_LOCK_WAIT"
    )


@contextmanager
def _sqlite_lock(connection: Connection, wait: float) -> Iterator[None]:
    """An exclusive transaction on ``<database>-lock``; the system frees it if we die."""
    database = connection.engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    lock = sqlite3.connect(f"{database}-lock", timeout=wait, isolation_level=None)
    try:
        try:
            lock.execute("BEGIN EXCLUSIVE")
        except sqlite3.OperationalError:
            raise _lock_wait_failure(wait) from None
        yield
    finally:
        lock.close()


@contextmanager
def _server_lock(
    connection: Connection, backend: str, settings: MigrationSettings
) -> Iterator[None]:
    _end_session_when_silent(connection, backend, settings)
    if not _acquire(connection, backend, settings.lock_wait):
        raise _lock_wait_failure(settings.lock_wait)
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


def through_pooler(connection: Connection) -> bool:
    """Whether a connection pooler (PgBouncer, say) answers for PostgreSQL on ``connection``.

    PostgreSQL tells a client at login the id of the server process serving it; a pooler
    hands out an id of its own making, since the server process behind it may change with
    every transaction. A driver that does not tell the id counts as pooled: the safe guess.
    """
    if connection.dialect.name != "postgresql":
        return False
    if THROUGH_POOLER not in connection.info:
        driver_info = getattr(connection.connection.driver_connection, "info", None)
        login_pid = getattr(driver_info, "backend_pid", None)
        server_pid = connection.scalar(text("SELECT pg_backend_pid()"))
        connection.rollback()
        connection.info[THROUGH_POOLER] = login_pid is None or login_pid != server_pid
    return bool(connection.info[THROUGH_POOLER])


@contextmanager
def _transaction_lock(connection: Connection, settings: MigrationSettings) -> Iterator[None]:
    """The deploy lock behind a pooler: one transaction takes it and runs the whole migration.

    A pooler in transaction mode hands each transaction whichever server connection is free,
    so a session's advisory lock or SET would protect nothing in the next transaction and stay
    behind for the next client. A transaction's advisory lock (pg_advisory_xact_lock) and
    SET LOCAL (set_config(..., true)) end with it, on the server connection that ran it.
    While waiting, each failed try is rolled back, so a waiting deploy holds no server
    connection between tries. Should the client go silent, the server ends the transaction
    after ``idle_timeout`` (idle_in_transaction_session_timeout), freeing the lock.
    """
    deadline = time.monotonic() + settings.lock_wait
    key = {"key": _key()}
    while not connection.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), key):
        connection.rollback()
        if time.monotonic() >= deadline:
            raise _lock_wait_failure(settings.lock_wait)
        time.sleep(POLL_SECONDS)
    silence = _silence_seconds(settings)
    if silence:
        connection.execute(
            text("SELECT set_config('idle_in_transaction_session_timeout', :ms, true)"),
            {"ms": str(silence * 1000)},
        )
    try:
        yield
    except BaseException as error:
        with suppress(DBAPIError):  # a connection that is gone was rolled back by the server
            connection.rollback()
        revision = _autocommit_revision(error.__traceback__)
        if revision is not None:
            raise CommandError(
                f"{revision} runs statements outside a transaction (autocommit_block), which "
                "behind a connection pooler would run without the deploy lock and the "
                "timeouts; nothing was applied; run this deploy with DATABASE_URL naming the "
                "database server itself, not the pooler"
            ) from None
        raise
    if connection.in_transaction():
        connection.commit()


def _autocommit_revision(traceback: TracebackType | None) -> str | None:
    """The revision file whose ``autocommit_block()`` failed, if that is what ``traceback`` shows.

    Alembic cannot leave a transaction that env.py began (the one holding the lock behind a
    pooler): its autocommit_block fails before running or committing anything.
    """
    files = []
    while traceback is not None:
        code = traceback.tb_frame.f_code
        files.append((Path(code.co_filename), code.co_name))
        traceback = traceback.tb_next
    if not files or files[-1][1] != "autocommit_block" or files[-1][0].parent.name != "runtime":
        return None  # not Alembic's alembic/runtime/migration.py
    # The revision's upgrade() or downgrade(), entering the block through contextlib.
    callers = [path for path, _name in files[:-1] if path.name != "contextlib.py"]
    return callers[-1].name if callers else None


def _end_session_when_silent(
    connection: Connection, backend: str, settings: MigrationSettings
) -> None:
    """Have the server end this session, and so free its locks, when its client goes silent.

    A client that stops talking (its network broke, its host froze) would otherwise hold the
    migration lock and its table locks until TCP gave up, which takes hours. After
    ``idle_timeout`` seconds waiting for the client, the server ends the session and rolls
    back its revision (PostgreSQL: idle-in-transaction and idle session timeouts, and TCP
    keepalives and user timeout for a vanished peer; MySQL/MariaDB: wait_timeout and
    net_read/write_timeout).
    """
    seconds = _silence_seconds(settings)
    if not seconds:
        return
    if backend == "postgresql":
        version = connection.dialect.server_version_info or (0,)
        options = {
            "idle_in_transaction_session_timeout": seconds * 1000,
            **_keepalives("tcp_keepalives_", seconds),
        }
        if version >= (12,):
            options["tcp_user_timeout"] = seconds * 1000
        if version >= (14,):
            options["idle_session_timeout"] = seconds * 1000
        # Whole numbers of our own making: safe to write into the statement.
        calls = (f"set_config('{name}', '{value}', false)" for name, value in options.items())
        connection.exec_driver_sql(f"SELECT {', '.join(calls)}")
    else:
        connection.execute(
            text("SET SESSION wait_timeout = :s, net_read_timeout = :s, net_write_timeout = :s"),
            {"s": seconds},
        )
    connection.commit()


def _silence_seconds(settings: MigrationSettings) -> int:
    """``idle_timeout`` in whole seconds (what the servers and TCP count in); 0: no limit.

    Capped at what PostgreSQL's millisecond settings hold (24 days; MySQL's hold more).
    """
    return min(math.ceil(settings.idle_timeout), LONGEST_SILENCE)


def _keepalives(prefix: str, seconds: int) -> dict[str, int]:
    """TCP keepalive options (as libpq and PostgreSQL name them) that notice a lost peer."""
    if not seconds:
        return {}
    probe = max(1, seconds // 6)
    return {  # Linux takes at most 32767 s for each
        f"{prefix}idle": min(max(1, seconds - 3 * probe), 32767),
        f"{prefix}interval": min(probe, 32767),
        f"{prefix}count": 3,
    }


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
    is rolled back where DDL is transactional (PostgreSQL, SQLite). Behind a pooler the limits
    hold for the migration's one transaction only (SET LOCAL), which ends here.
    """
    pooled = through_pooler(connection)
    _set_timeouts(connection, settings, local=pooled)
    try:
        yield
        if pooled and connection.in_transaction():
            connection.commit()  # the migration's one transaction, and its SET LOCALs with it
    except OperationalError as error:
        if connection.dialect.name == "mysql":
            state = "MySQL cannot roll back DDL: check `alembic current` and the tables it touched"
        elif pooled:
            state = (
                "behind a pooler the deploy is one transaction: it was rolled back whole and "
                "the database is at the revision it had before"
            )
        else:
            state = "its revision was rolled back and the database is at the revision before it"
        setting = TIMEOUTS.get(_code(error))
        if setting is None and error.connection_invalidated:
            raise CommandError(
                f"lost the connection to the database mid-migration ({_first_line(error)}); "
                f"{state}; retry when the network is back (the server ends a migration session "
                f"that stays silent for MIGRATION_IDLE_TIMEOUT, {settings.idle_timeout:g} s)"
            ) from None
        if setting is None:
            raise
        seconds = getattr(settings, setting.removeprefix("MIGRATION_").lower())
        raise CommandError(
            f"a statement gave up after {setting} ({seconds:g} s): {_first_line(error)}; {state}; "
            f"retry when the other session is done, or raise {setting}"
        ) from None


def _set_timeouts(connection: Connection, settings: MigrationSettings, local: bool) -> None:
    """Set the timeouts for the session, or (``local``) for the transaction now open only."""
    lock_ms = round(settings.lock_timeout * 1000)
    statement_ms = round(settings.statement_timeout * 1000)
    if connection.dialect.name == "postgresql":
        connection.execute(
            text(
                "SELECT set_config('lock_timeout', :lock, :local), "
                "set_config('statement_timeout', :statement, :local)"
            ),
            {"lock": f"{lock_ms}ms", "statement": f"{statement_ms}ms", "local": local},
        )
        if local:
            return
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
    """Run a PRAGMA, leaving the connection in or out of a transaction as it found it.

    Outside one it goes to the driver's connection, so that no BEGIN precedes it (env.py's
    engine begins transactions itself; foreign_keys cannot change inside one).
    """
    if connection.in_transaction():
        result = connection.exec_driver_sql(f"PRAGMA {pragma}")
        return result.scalar() if result.returns_rows else None
    cursor = connection.connection.cursor()
    try:
        cursor.execute(f"PRAGMA {pragma}")
        row = cursor.fetchone() if cursor.description else None
    finally:
        cursor.close()
    return row[0] if row else None


def _code(error: DBAPIError) -> str | int | None:
    """MySQL's error number (its SQLSTATE is too coarse), PostgreSQL's SQLSTATE, or SQLite's
    SQLITE_BUSY (read from the message: sqlite3 names its errors from Python 3.11 only)."""
    args = getattr(error.orig, "args", ())
    if args and isinstance(args[0], int):
        return args[0]
    if str(error.orig).startswith("database is locked"):
        return "SQLITE_BUSY"
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
    args: tuple[Any, ...] = getattr(error.orig, "args", ())
    if len(args) == 2 and isinstance(args[0], int):
        message = str(args[1])  # PyMySQL's (1292, "Truncated incorrect INTEGER value: 'x'")
    return message


# Type changes on tables that hold rows. PostgreSQL's own spellings of true and false (any case,
# spaces around them allowed); the SQLite and MySQL conversions accept the same ones.
# Driver error codes of a value that did not convert: PostgreSQL's SQLSTATE class 22 (data
# exception) and 42804 (no cast between the types), and MySQL's errors for a bad value.
CONVERSION_ERRORS = ("42804", 1264, 1265, 1292, 1366)
ALTER_TYPE_STATEMENTS = [
    # PostgreSQL: ALTER TABLE t ALTER COLUMN c TYPE BOOLEAN USING c::BOOLEAN
    re.compile(r"ALTER TABLE (?P<table>\S+) ALTER COLUMN (?P<column>\S+) TYPE (?P<conversion>.+)"),
    # MySQL and MariaDB: ALTER TABLE t MODIFY c BOOL NULL
    re.compile(r"ALTER TABLE (?P<table>\S+) MODIFY (?P<column>\S+) (?P<conversion>\S+)"),
]


@contextmanager
def one_line_conversion_failures(connection: Connection) -> Iterator[None]:
    """Turn a column type change that met a value it cannot convert into one line."""
    try:
        yield
    except DBAPIError as error:
        code = _code(error)
        data_error = isinstance(code, str) and code.startswith("22")
        statement = " ".join(str(error.statement or "").split())
        found = next(filter(None, (s.match(statement) for s in ALTER_TYPE_STATEMENTS)), None)
        if found is None or not (data_error or code in CONVERSION_ERRORS):
            raise
        if connection.dialect.name == "mysql":
            state = "MySQL cannot roll back DDL: check `alembic current` and the tables it touched"
        else:
            state = "its revision was rolled back and the database is at the revision before it"
        raise CommandError(
            f"cannot convert {found['table']}.{found['column']} to {found['conversion']}: "
            f"{_first_line(error)}; {state}; fix the rows or the conversion in the revision"
        ) from None
