"""Squash the history up to a revision into one baseline revision, kept only once verified.

    python -m tests.migrations.squash <revision>

On a throwaway database (as the tests make them: TEST_DATABASE_URL, else SQLite files), the
history is upgraded to <revision>, and Alembic's autogenerate writes the schema it built as
the upgrade of one revision that keeps <revision>'s id, so databases at or past it go on
unchanged; the files it replaces are deleted. The baseline is then upgraded on an empty
database, where it must build exactly the schema the old history built (the walk's snapshot
comparison), and downgraded, which must leave nothing behind; else the old files come back.
A squash keeps the schema, not rows: what data migrations inserted is not in the baseline.
"""

import os
import re
import sys
import tempfile
from pathlib import Path

from alembic.autogenerate import produce_migrations, render_python_code
from alembic.config import Config
from alembic.operations.ops import DropTableOp
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy import Connection, Constraint, Index, MetaData, create_engine, inspect, pool
from sqlalchemy.dialects.postgresql.base import PGInspector
from sqlalchemy.sql.elements import conv

from tests.conftest import BACKEND, NewDatabase, alembic_config_for, throwaway_databases
from tests.migrations.runner import MigrationRunner
from tests.migrations.schema import VERSION_TABLE, Schema, SchemaReader


class SquashRefused(Exception):
    """The history cannot be squashed there, or the baseline would not build the same schema."""


def squashed_revisions(script: ScriptDirectory, target: Script) -> list[Script]:
    """``target`` and every revision before it; refused if a later one branches off inside."""
    inside = list(script.iterate_revisions(target.revision, "base"))
    ids = {revision.revision for revision in inside} - {target.revision}
    for revision in script.walk_revisions():
        if revision.revision in ids or revision.revision == target.revision:
            continue
        leaning = set(revision._all_down_revisions) | set(revision._resolved_dependencies)
        if leaning & ids:
            raise SquashRefused(
                f"{Path(revision.path).name} follows {', '.join(sorted(leaning & ids))}, which "
                f"the squash would remove: squash up to a revision every later one comes after"
            )
    return inside


def baseline_code(chain: Connection, empty: Connection) -> tuple[str, str, str]:
    """The upgrade, downgrade and imports that build from nothing what ``chain`` holds,
    as Alembic's autogenerate writes them comparing an ``empty`` database with it."""
    metadata = MetaData()
    metadata.reflect(chain)
    if VERSION_TABLE in metadata.tables:
        metadata.remove(metadata.tables[VERSION_TABLE])
    for table in metadata.tables.values():
        items: list[Constraint | Index] = [*table.constraints, *table.indexes]
        for item in items:
            if isinstance(item.name, str):
                # Written as op.f("name"): the database's name, which no naming convention
                # of env.py's target_metadata may build on again (ck_t_ck_t_label).
                item.name = conv(item.name)
    context = MigrationContext.configure(empty)
    script = produce_migrations(context, metadata)
    upgrade_ops, downgrade_ops = script.upgrade_ops, script.downgrade_ops
    assert upgrade_ops is not None and downgrade_ops is not None
    # Dropping a table drops its indexes; MySQL refuses to drop one a foreign key needs.
    downgrade_ops.ops = [op for op in downgrade_ops.ops if isinstance(op, DropTableOp)]
    upgrades = render_python_code(upgrade_ops, migration_context=context)
    downgrades = render_python_code(downgrade_ops, migration_context=context)
    inspector = inspect(chain)
    if isinstance(inspector, PGInspector):
        # drop_table leaves an enum type behind; create_table made it from the column.
        for enum in inspector.get_enums():
            downgrades += f'\n    op.execute("DROP TYPE {enum["name"]}")'
    dialects = sorted(set(re.findall(r"\b(postgresql|mysql|sqlite)\.", upgrades + downgrades)))
    imports = "".join(f"from sqlalchemy.dialects import {name}\n" for name in dialects)
    if empty.in_transaction():
        empty.commit()
    return upgrades, downgrades, imports


def squash(revision: str, new_database: NewDatabase) -> Path:
    """Replace ``revision`` and those before it with one verified baseline; its path."""
    chain_engine = create_engine(new_database(), poolclass=pool.NullPool)
    empty_engine = create_engine(new_database(), poolclass=pool.NullPool)
    with chain_engine.connect() as chain, empty_engine.connect() as empty:
        runner = MigrationRunner(alembic_config_for(chain), chain)
        target = runner.script.get_revision(revision)
        if target is None:
            raise SquashRefused(f"no revision {revision}")
        replaced = squashed_revisions(runner.script, target)
        runner.upgrade(target.revision)
        expected = SchemaReader(chain).read()
        code = baseline_code(chain, empty)
        originals = {Path(old.path): Path(old.path).read_text(encoding="utf-8") for old in replaced}
        for path in originals:
            path.unlink()
        baseline = None
        try:
            baseline = _write_baseline(runner.config, target, len(replaced), code)
            _verify(empty, target.revision, expected)
        except Exception as error:
            if baseline is not None:
                baseline.unlink()
            for path, text in originals.items():
                path.write_text(text, encoding="utf-8")
            if isinstance(error, SquashRefused):
                raise
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise SquashRefused(
                f"the baseline fails: {type(error).__name__}: {first_line}"
            ) from error
    chain_engine.dispose()
    empty_engine.dispose()
    return baseline


def _write_baseline(config: Config, target: Script, count: int, code: tuple[str, str, str]) -> Path:
    """The baseline file, written as ``alembic revision`` writes one (template, ruff hooks).

    Alembic reads every revision before it writes one, and the later revisions now name a
    down_revision that has no file: it writes into an empty staging directory instead.
    """
    script = ScriptDirectory.from_config(config)
    versions = Path(script.versions)
    with tempfile.TemporaryDirectory(dir=versions) as staging:
        staged = Config(config.config_file_name)
        staged.set_main_option("version_locations", staging)
        message = f"baseline of {count} revisions squashed, up to: {target.doc}"
        written = ScriptDirectory.from_config(staged).generate_revision(
            target.revision,
            message,
            head="base",
            upgrades=code[0],
            downgrades=code[1],
            imports=code[2],
        )
        assert written is not None
        return Path(written.path).rename(versions / Path(written.path).name)


def _verify(connection: Connection, revision: str, expected: Schema) -> None:
    """The baseline, on an empty database, builds ``expected`` and takes it down to nothing."""
    runner = MigrationRunner(alembic_config_for(connection), connection)
    reader = SchemaReader(connection)
    runner.upgrade(revision)
    if differences := reader.read().differences(expected):
        raise SquashRefused("the baseline's upgrade " + _some(differences))
    runner.downgrade("base")
    if differences := reader.read().differences(Schema({})):
        raise SquashRefused("the baseline's downgrade " + _some(differences))
    if runner.current():
        raise SquashRefused(f"the baseline's downgrade leaves the database at {runner.current()}")


def _some(differences: list[str]) -> str:
    """The first differences, in one line that stays readable."""
    more = f"; and {len(differences) - 10} more" if len(differences) > 10 else ""
    return "; ".join(differences[:10]) + more


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.migrations.squash <revision>", file=sys.stderr)
        return 2
    try:
        with tempfile.TemporaryDirectory() as directory:
            if BACKEND != "sqlite" and not os.environ.get("TEST_DATABASE_URL"):
                raise SquashRefused(f"set TEST_DATABASE_URL to a {BACKEND} server to squash on")
            with throwaway_databases(Path(directory)) as new_database:
                baseline = squash(argv[0], new_database)
    except SquashRefused as refusal:
        print(f"squash refused, nothing changed: {refusal}", file=sys.stderr)
        return 1
    print(f"wrote {baseline.name}; it builds the same schema as the revisions it replaces")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
