"""What env.py adds to migrations: one-line errors, deploy lock, bounded waits, type conversions."""

import hashlib
import math
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from alembic.autogenerate import renderers
from alembic.autogenerate.api import AutogenContext
from alembic.operations import MigrationScript, ops
from alembic.runtime.migration import MigrationContext
from alembic.util import CommandError
from sqlalchemy import URL, Connection, text, types
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.sql.schema import DefaultClause

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
    args: tuple[Any, ...] = getattr(error.orig, "args", ())
    if len(args) == 2 and isinstance(args[0], int):
        message = str(args[1])  # PyMySQL's (1292, "Truncated incorrect INTEGER value: 'x'")
    return message


# Type changes on tables that hold rows. PostgreSQL's own spellings of true and false (any case,
# spaces around them allowed); the SQLite and MySQL conversions accept the same ones.
TRUE_SPELLINGS = ("true", "t", "yes", "y", "on", "1")
FALSE_SPELLINGS = ("false", "f", "no", "n", "off", "0")
# Driver error codes of a value that did not convert: PostgreSQL's SQLSTATE class 22 (data
# exception) and 42804 (no cast between the types), and MySQL's errors for a bad value.
CONVERSION_ERRORS = ("42804", 1264, 1265, 1292, 1366)
ALTER_TYPE_STATEMENTS = [
    # PostgreSQL: ALTER TABLE t ALTER COLUMN c TYPE BOOLEAN USING c::BOOLEAN
    re.compile(r"ALTER TABLE (?P<table>\S+) ALTER COLUMN (?P<column>\S+) TYPE (?P<conversion>.+)"),
    # MySQL and MariaDB: ALTER TABLE t MODIFY c BOOL NULL
    re.compile(r"ALTER TABLE (?P<table>\S+) MODIFY (?P<column>\S+) (?P<conversion>\S+)"),
]


def convert_column_types(
    context: MigrationContext, revision: Any, directives: list[MigrationScript]
) -> None:
    """Make an autogenerated type change carry the conversion of the rows for this database.

    PostgreSQL gets ``postgresql_using="<column>::<type>"``, except for string types (an explicit
    cast to varchar(n) silently truncates; without one, a value too long fails). MySQL gets the
    spellings of true and false written as 1 and 0 before a text column becomes a boolean.
    SQLite, whose batch copy would CAST text to a number ('true' to 0, a timestamp to its year),
    gets a check that stops on a value that cannot convert, and the values written as the new
    type stores them. Checks come first in upgrade() and downgrade(), before anything changes.
    """
    for script in directives:
        for container in (*script.upgrade_ops_list, *script.downgrade_ops_list):
            checks: list[Check] = []
            steps: list[ops.MigrateOperation] = []
            for step in container.ops:
                if isinstance(step, ops.ModifyTableOps):
                    step = _convert_table(step, context.dialect, checks, steps)
                steps.append(step)
            container.ops = [RefuseUnconvertibleOp(checks), *steps] if checks else steps


class UsingAlterColumnOp(ops.AlterColumnOp):
    """An alter_column that writes its conversion (``postgresql_using``) into the revision."""


class CopyAsIsModifyTableOps(ops.ModifyTableOps):
    """A SQLite batch block that copies the columns in ``as_is`` without CAST."""

    as_is: list[tuple[str, str, bool, str | None]]  # column, SQLAlchemy type, nullable, default


class Check(NamedTuple):
    """A column whose values must convert, in SQLite's SQL: ``where`` finds one that cannot."""

    table: str  # quoted for SQL, as column is
    column: str
    name: str  # table.column, as the message says it
    conversion: str
    where: str
    what: str


class RefuseUnconvertibleOp(ops.MigrateOperation):
    """Stop the revision, before it changes anything, if a value of a column cannot convert."""

    def __init__(self, checks: list[Check]) -> None:
        self.checks = checks


class ConvertValuesOp(ops.ExecuteSQLOp):
    """An UPDATE that writes a column's values the way its new type takes them."""

    def __init__(self, comment: str, sqltext: str) -> None:
        super().__init__(sqltext)
        self.comment = comment


def _convert_table(
    table_ops: ops.ModifyTableOps,
    dialect: Dialect,
    checks: list[Check],
    before: list[ops.MigrateOperation],
) -> ops.ModifyTableOps:
    as_is: list[tuple[str, str, bool, str | None]] = []
    for index, alter in enumerate(table_ops.ops):
        if not isinstance(alter, ops.AlterColumnOp) or alter.modify_type is None:
            continue
        old, new = _plain(alter.existing_type), _plain(alter.modify_type)
        quote = dialect.identifier_preparer.quote
        table = quote(alter.table_name)
        if alter.schema:
            table = f"{quote(alter.schema)}.{table}"
        column = quote(alter.column_name)
        name = f"{alter.table_name}.{alter.column_name}"
        if dialect.name == "postgresql" and not _is_string(new):
            using = UsingAlterColumnOp.__new__(UsingAlterColumnOp)
            using.__dict__.update(alter.__dict__)
            using.kw = {**alter.kw, "postgresql_using": f"{column}::{new.compile(dialect=dialect)}"}
            table_ops.ops[index] = using
        elif dialect.name == "mysql" and _is_string(old) and isinstance(new, types.Boolean):
            comment = f"{name}: MODIFY refuses 'true' and 'no'; spell true and false 1 and 0 first"
            as_digits = _true_or_false(column, "'1'", "'0'", column)
            before.append(ConvertValuesOp(comment, f"UPDATE {table} SET {column} = {as_digits}"))
        elif dialect.name == "sqlite" and _is_string(old):
            conversion = _sqlite_conversion(column, new)
            if conversion is None:
                continue
            where, what, written = conversion
            change = f"{old.compile(dialect=dialect)} to {new.compile(dialect=dialect)}"
            checks.append(Check(table, column, name, change, where, what))
            if written:
                comment = f"{name}: each {what} written as SQLite keeps it (CAST would lose it)"
                before.append(ConvertValuesOp(comment, f"UPDATE {table} SET {column} = {written}"))
            if isinstance(new, (types.DateTime, types.Date)):
                nullable = alter.existing_nullable is not False
                default = _default_sql(alter.existing_server_default)
                as_is.append((alter.column_name, type(new).__name__, nullable, default))
    if not as_is:
        return table_ops
    copied = CopyAsIsModifyTableOps(table_ops.table_name, table_ops.ops, schema=table_ops.schema)
    copied.as_is = as_is
    return copied


def _sqlite_conversion(column: str, new: types.TypeEngine[Any]) -> tuple[str, str, str] | None:
    """The condition of a value that cannot convert, what it should be, and how to write it."""
    if isinstance(new, types.Boolean):
        spellings = ", ".join(f"'{s}'" for s in TRUE_SPELLINGS + FALSE_SPELLINGS)
        return (
            f"lower(trim({column})) NOT IN ({spellings})",
            "boolean",
            _true_or_false(column, "1", "0", "NULL"),
        )
    if isinstance(new, (types.DateTime, types.Date)):
        what, form = "date", "%Y-%m-%d"
        if isinstance(new, types.DateTime):
            what, form = "date and time", "%Y-%m-%d %H:%M:%f"
        written = f"strftime('{form}', {column})"
        shape = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*"
        return f"{column} NOT GLOB '{shape}' OR {written} IS NULL", what, written
    if isinstance(new, types.Integer):
        digits = f"trim({column})"
        signed = f"{digits} GLOB '[0-9]*' OR {digits} GLOB '[+-][0-9]*'"
        return f"NOT ({signed}) OR substr({digits}, 2) GLOB '*[^0-9]*'", "whole number", ""
    return None


def _true_or_false(column: str, true: str, false: str, other: str) -> str:
    """A CASE giving ``true`` for a spelling of true, ``false`` for one of false, else ``other``."""
    lowered = f"lower(trim({column}))"
    trues = ", ".join(f"'{s}'" for s in TRUE_SPELLINGS)
    falses = ", ".join(f"'{s}'" for s in FALSE_SPELLINGS)
    return (
        f"CASE WHEN {lowered} IN ({trues}) THEN {true} "
        f"WHEN {lowered} IN ({falses}) THEN {false} ELSE {other} END"
    )


def _plain(type_: Any) -> types.TypeEngine[Any]:
    """The type as the database sees it: a TypeDecorator (UTCDateTime) as the type it wraps."""
    plain: types.TypeEngine[Any] = types.to_instance(type_)
    while isinstance(plain, types.TypeDecorator):
        plain = plain.impl_instance
    return plain


def _default_sql(default: Any) -> str | None:
    """The SQL of a server default as reflected (a string, text() or a DefaultClause)."""
    if isinstance(default, DefaultClause):
        default = default.arg
    if isinstance(default, TextClause):
        return default.text
    return str(default) if default else None


def _is_string(type_: types.TypeEngine[Any]) -> bool:
    return isinstance(type_, types.String) and not isinstance(type_, types.Enum)


def _literal(text: str, width: int = 76) -> str:
    """``text`` as adjacent string literals of at most ``width`` characters, for ruff's limit."""
    pieces, piece = [], ""
    for word in text.split(" "):
        if piece and len(piece) + len(word) + 1 > width:
            pieces.append(piece + " ")
            piece = word
        else:
            piece = f"{piece} {word}" if piece else word
    pieces.append(piece)
    return "\n".join(("f" if "{unconvertible!r}" in p else "") + repr(p) for p in pieces)


@renderers.dispatch_for(UsingAlterColumnOp)
def _render_using_alter_column(autogen_context: AutogenContext, op: UsingAlterColumnOp) -> str:
    rendered: str = renderers.dispatch(ops.AlterColumnOp)(autogen_context, op)
    return f"{rendered[:-1]},\npostgresql_using={op.kw['postgresql_using']!r})"


@renderers.dispatch_for(CopyAsIsModifyTableOps)
def _render_copy_as_is(autogen_context: AutogenContext, op: CopyAsIsModifyTableOps) -> list[str]:
    lines: list[str] = renderers.dispatch(ops.ModifyTableOps)(autogen_context, op)
    columns = ", ".join(
        f"sa.Column({name!r}, sa.{type_name}(), nullable={nullable}"
        + (f", server_default=sa.text({default!r}))" if default else ")")
        for name, type_name, nullable, default in op.as_is
    )
    comment = "# reflect_args: these columns are copied as they are, not through SQLite's CAST"
    first = lines[0].replace(") as batch_op:", f", reflect_args=({columns},)) as batch_op:")
    return [comment, first, *lines[1:]]


@renderers.dispatch_for(ConvertValuesOp)
def _render_convert_values(autogen_context: AutogenContext, op: ConvertValuesOp) -> list[str]:
    return [f"# {op.comment}", f"op.execute(\n{_literal(str(op.sqltext))}\n)"]


@renderers.dispatch_for(RefuseUnconvertibleOp)
def _render_refuse_unconvertible(
    autogen_context: AutogenContext, op: RefuseUnconvertibleOp
) -> list[str]:
    autogen_context.imports.add("from alembic.util import CommandError")
    lines = [
        "# Stop, changing nothing, on a value that cannot convert (--sql has no rows to read).",
        "if not op.get_context().as_sql:",
    ]
    for check in op.checks:
        table, column = check.table, check.column
        query = f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL AND ({check.where})"
        query += " LIMIT 1"
        # The revision's own f-string names the value it found.
        message = (
            f"cannot convert {check.name} from {check.conversion}: "
            + "{unconvertible!r} is not a "
            + f"{check.what}; nothing was changed: fix the row or the revision, and run it again"
        )
        lines += [
            f"# {check.name}, {check.conversion}",
            f"unconvertible = op.get_bind().scalar(\nsa.text(\n{_literal(query)}\n)\n)",
            "if unconvertible is not None:",
            f"raise CommandError(\n{_literal(message)}\n)",
            "",
        ]
    return [*lines, ""]


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
