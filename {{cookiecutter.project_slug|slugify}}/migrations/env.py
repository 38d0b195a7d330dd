"""Alembic environment: the database comes from settings, the schema from the models package."""

{% if cookiecutter.async_driver -%}
import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
{% endif -%}
from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from alembic.operations import MigrationScript
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, {% if not cookiecutter.async_driver %}create_engine, {% endif %}pool
{%- if cookiecutter.async_driver %}
from sqlalchemy.ext.asyncio import create_async_engine
{%- endif %}

from {{ cookiecutter.package_name }}.migration_guards import (
    MigrationSettings,
    bounded_waits,
{%- if not cookiecutter.async_driver %}
    connect,
{%- endif %}
    connect_args,
{%- if cookiecutter.async_driver %}
    connect_async,
{%- endif %}
    convert_column_types,
    database_url,
    ddl_options,
    guard_engine,
    migration_settings,
    one_line_conversion_failures,
    one_migration_at_a_time,
    sqlite_foreign_keys_off,
)
from {{ cookiecutter.package_name }}.models import metadata

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = metadata

# While a revision runs, Alembic names each constraint it creates without a name (an unnamed
# sa.ForeignKeyConstraint in op.create_table, say) by target_metadata's naming convention. A
# history written before the models had a convention expects the database's own names there
# (awards_team_id_fkey): False lets its revisions create those again. Autogenerate spells every
# name out (op.f("fk_...")), so new revisions follow the convention either way. See the
# README's "Taking on the naming convention".
CONVENTION_NAMES_UNNAMED_CONSTRAINTS = True


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Import the modules of column types that are not SQLAlchemy's own, like UTCDateTime.

    Alembic writes such a type as ``<module>.<Type>(...)`` but imports only SQLAlchemy.
    """
    module = type(obj).__module__
    if type_ == "type" and not module.startswith("sqlalchemy."):
        autogen_context.imports.add(f"import {module}")
    return False


def process_revision_directives(
    migration_context: MigrationContext, revision: Any, directives: list[MigrationScript]
) -> None:
    """Give type changes the conversion of their rows; then write nothing if nothing changed."""
    convert_column_types(migration_context, revision, directives)
    skip_empty_autogenerate(migration_context, revision, directives)


def skip_empty_autogenerate(
    migration_context: MigrationContext, revision: Any, directives: list[MigrationScript]
) -> None:
    """Write no revision file when autogenerate finds nothing to change."""
    autogenerate = getattr(config.cmd_opts, "autogenerate", False)
    if autogenerate and all(ops.is_empty() for ops in directives[0].upgrade_ops_list):
        directives.clear()
        print("No changes in schema detected; no revision written.")


# Spellings of one default that a database may hand back for another (MySQL and MariaDB
# answer current_timestamp() for now() and 1 for true).
SAME_DEFAULTS = [{"now", "current_timestamp"}, {"1", "true"}, {"0", "false"}]


def compare_server_default(
    context: MigrationContext,
    inspected_column: Any,
    metadata_column: Any,
    inspected_default: str | None,
    metadata_default: Any,
    rendered_metadata_default: str | None,
) -> bool | None:
    """Treat a default the database merely respelled as unchanged; else let Alembic compare."""
    if inspected_default is None or rendered_metadata_default is None:
        return None
    spellings = {_bare(inspected_default), _bare(rendered_metadata_default)}
    if any(spellings <= same for same in SAME_DEFAULTS):
        return False
    return None


def _bare(sql: str) -> str:
    """``(CURRENT_TIMESTAMP)``, ``current_timestamp()`` and ``'1'`` as current_timestamp, 1."""
    return sql.strip().strip("'\"").lower().removesuffix("()").strip("()")


def configure_options(dialect_name: str) -> dict[str, Any]:
    """Options shared by offline and online mode, and by the tests through this file."""
    return {
        # A list of MetaData serves autogenerate alike, but lends Alembic no naming convention.
        "target_metadata": (
            target_metadata if CONVENTION_NAMES_UNNAMED_CONSTRAINTS else [target_metadata]
        ),
        "compare_type": True,
        "compare_server_default": compare_server_default,
        # SQLite cannot ALTER most things; batch mode copies the table instead.
        "render_as_batch": dialect_name == "sqlite",
        # Ignored on a connection already in a transaction: tests may hand one in, and behind a
        # connection pooler migration_guards runs the whole deploy in one (see the README).
        "transaction_per_migration": True,
        "render_item": render_item,
        "process_revision_directives": process_revision_directives,
    }


def run_migrations_offline() -> None:
    """Render the migrations as SQL (``--sql``) for the configured database, connecting to none."""
    url = database_url()
    context.configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **configure_options(url.get_backend_name()),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on what the caller handed in, or on the configured database.

    Tests hand in a Connection through ``config.attributes["connection"]``; pytest-alembic
    hands in a connectable (something with ``connect()``) there.
    """
    handed_in = config.attributes.get("connection")
    if isinstance(handed_in, Connection):
        run_migrations(handed_in)
    elif handed_in is not None:
        # An Engine, or another connectable such as pytest-alembic's: connect through it.
        with handed_in.connect() as connection:
            run_migrations(connection)
    else:
{%- if cookiecutter.async_driver %}
        run_to_completion(run_async_migrations())


async def run_async_migrations() -> None:
    """Migrate through the async engine, on a synchronous view of one of its connections."""
    url, settings = database_url(for_asyncio=True), migration_settings()
    engine = create_async_engine(
        url, poolclass=pool.NullPool, connect_args=connect_args(url, settings)
    )
    guard_engine(engine.sync_engine, changes_schema())
    connection = await connect_async(engine, settings)
    try:
        await connection.run_sync(run_deploy, settings)
    finally:
        await connection.close()
        await engine.dispose()


def run_to_completion(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run ``coroutine`` to its end, even when called from code whose event loop is running."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coroutine)
        return
    # asyncio.run() cannot nest in a running loop: give it a thread and a loop of its own.
    with ThreadPoolExecutor(max_workers=1) as executor:
        executor.submit(asyncio.run, coroutine).result()
{%- else %}
        url, settings = database_url(), migration_settings()
        engine = create_engine(
            url, poolclass=pool.NullPool, connect_args=connect_args(url, settings)
        )
        guard_engine(engine, changes_schema())
        with connect(engine, settings) as connection:
            run_deploy(connection, settings)
        engine.dispose()
{%- endif %}


def changes_schema() -> bool:
    """Whether this command changes the schema, and so takes the deploy lock.

    Alembic names a destination revision for upgrade, downgrade and stamp only; current, check
    and revision --autogenerate only read, and must not queue behind a running deploy.
    """
    try:
        context.get_revision_argument()
    except KeyError:
        return False
    return True


def run_deploy(connection: Connection, settings: MigrationSettings) -> None:
    """Migrate on env.py's own connection: one process at a time, and no endless waits."""
    with (
        one_migration_at_a_time(connection, settings, changes_schema()),
        bounded_waits(connection, settings),
        one_line_conversion_failures(connection),
    ):
        run_migrations(connection)


def run_migrations(connection: Connection) -> None:
    """Run the pending migrations on ``connection``."""
    with sqlite_foreign_keys_off(connection):
        context.configure(
            connection=connection,
            **configure_options(connection.dialect.name),
            **ddl_options(connection),
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
