"""Schema snapshots read through SQLAlchemy's inspector, and their differences in words."""

import re
import uuid
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from sqlalchemy import Connection, Inspector, inspect, text
from sqlalchemy.exc import DBAPIError

# What a table is made of, each kind mapping a name to a normalised description.
TableSchema = Mapping[str, Mapping[str, str]]

VERSION_TABLE = "alembic_version"


@dataclass(frozen=True)
class Schema:
    """Tables, plus the objects that live beside them (PostgreSQL enum types and sequences)."""

    tables: Mapping[str, TableSchema]
    types: Mapping[str, str] = field(default_factory=dict)
    sequences: frozenset[str] = frozenset()

    def differences(self, expected: "Schema") -> list[str]:
        """How this schema differs from ``expected``: 'leaves index ix_a on a', ..."""
        if self.tables == expected.tables:  # mostly the very same snapshots, table by table
            return self._other_differences(expected)
        found = []
        for name in sorted(self.tables.keys() - expected.tables.keys()):
            found.append(f"leaves table {name}")
        for name in sorted(expected.tables.keys() - self.tables.keys()):
            found.append(f"lacks table {name}")
        for name in sorted(self.tables.keys() & expected.tables.keys()):
            if self.tables[name] != expected.tables[name]:
                found += _item_differences(self.tables[name], expected.tables[name], f" on {name}")
        return found + self._other_differences(expected)

    def of_tables(self, names: Collection[str]) -> "Schema":
        """This schema with only those of its tables that ``names`` names."""
        kept = {name: self.tables[name] for name in names if name in self.tables}
        return replace(self, tables=kept)

    def _other_differences(self, expected: "Schema") -> list[str]:
        """How the enum types and sequences differ from ``expected``'s."""
        return _item_differences(
            {"enum type": self.types}, {"enum type": expected.types}, ""
        ) + _item_differences(
            {"sequence": dict.fromkeys(self.sequences, "")},
            {"sequence": dict.fromkeys(expected.sequences, "")},
            "",
        )


@dataclass(frozen=True)
class Glimpse:
    """A schema as one catalogue query shows it: each table's fingerprint, and on PostgreSQL
    the enum types and sequences. Equal glimpses mean equal schemas. On PostgreSQL, where the
    fingerprints spell out each definition, different ones mean different schemas too; on
    SQLite and MySQL they may not (a table rebuilt by batch mode is laid out otherwise), so a
    glimpse to be compared against later carries its snapshot, to word a difference with.
    """

    fingerprints: Mapping[str, str]
    types: Mapping[str, str] = field(default_factory=dict)
    sequences: frozenset[str] = frozenset()
    schema: Schema | None = field(default=None, compare=False)

    def changed_tables(self, expected: "Glimpse") -> set[str]:
        """The tables whose fingerprints differ from ``expected``'s, or that only one has."""
        return {name for name, _ in self.fingerprints.items() ^ expected.fingerprints.items()}

    def differences(self, expected: "Glimpse") -> list[str]:
        """What differs from ``expected``, as far as fingerprints tell: which tables, not how."""
        found = []
        for name in sorted(self.changed_tables(expected)):
            if name not in expected.fingerprints:
                found.append(f"leaves table {name}")
            elif name not in self.fingerprints:
                found.append(f"lacks table {name}")
            else:
                found.append(f"leaves table {name} otherwise")
        others = Schema({}, self.types, self.sequences)
        return found + others._other_differences(Schema({}, expected.types, expected.sequences))


def _item_differences(actual: TableSchema, expected: TableSchema, where: str) -> list[str]:
    found = []
    for kind in sorted(actual.keys() | expected.keys()):
        have, want = actual.get(kind, {}), expected.get(kind, {})
        for name in sorted(have.keys() - want.keys()):
            found.append(f"leaves {kind} {name}{where}")
        for name in sorted(want.keys() - have.keys()):
            found.append(f"lacks {kind} {name}{where}")
        for name in sorted(have.keys() & want.keys()):
            if have[name] != want[name]:
                found.append(f"leaves {kind} {name}{where} as {have[name]} instead of {want[name]}")
    return found


class SchemaReader:
    """Reads snapshots of one database, reflecting again only the tables that changed.

    One catalogue query per read gives each table a fingerprint: on SQLite the CREATE
    statements of the table and its indexes (read anew only where they changed: see
    ``_SQLiteCatalogue``), on PostgreSQL its definition as text. A table
    whose fingerprint was seen before reuses the snapshot reflected then, so a walk up, down and
    up again reflects each table version once; on PostgreSQL, where fingerprints are exact, a
    walk compares glimpses and reflects only to word a difference. There, ``track_changes()``
    has the DDL recorded, and each glimpse reads again only what it may have changed.
    """

    def __init__(self, connection: Connection, like: "SchemaReader | None" = None) -> None:
        """A reader of ``connection``'s database; given ``like``, a reader of another database
        on the same backend, it shares the tables that one has reflected: a table's
        fingerprint says the same on any database."""
        self.connection = connection
        self._seen: dict[tuple[str, str], TableSchema] = like._seen if like else {}
        # PostgreSQL: each table's change token -> its definition, as of the last glimpse.
        self._definitions: dict[str, str] = {}
        # PostgreSQL, once track_changes() has set it up: its event triggers' name, and the
        # schema as the last glimpse saw it (None: read it all at the next one).
        self._tracking = ""
        self._tracked: _Tracked | None = None
        # The last snapshot of all tables, and the fingerprints it was taken at: the next one
        # is built from it, table by table only where the fingerprints differ.
        self._last: tuple[Mapping[str, str], Mapping[str, TableSchema]] = ({}, {})

    @property
    def exact(self) -> bool:
        """Whether different fingerprints mean different schemas (on PostgreSQL)."""
        return self.connection.dialect.name == "postgresql"

    def read(self) -> Schema:
        """The database's schema now."""
        return self.reflect(self.glimpse())

    def glimpse(self, *, expected: bool = False) -> Glimpse:
        """The database's fingerprints now; a glimpse ``expected`` to be compared against later
        carries its snapshot too, where the fingerprints are not exact."""
        with self._reading():
            if self.exact:
                return self._postgresql_glimpse()
            glimpse = Glimpse(self._fingerprints())
        if expected:
            return Glimpse(glimpse.fingerprints, schema=self.reflect(glimpse))
        return glimpse

    def track_changes(self) -> bool:
        """Record this connection's DDL, for glimpses that read only what it may have changed."""
        # Whether it does: on PostgreSQL, outside a transaction, as a superuser (CREATE EVENT
        # TRIGGER needs one), with one schema in the search path (see _tracked_glimpse), where
        # no other reader records this connection's. Its glimpses are the same either way.
        connection = self.connection
        if self._tracking:
            return True
        if not self.exact or connection.in_transaction():
            return False
        with _autocommit(connection):
            superuser, one_schema, taken = connection.execute(text(CAN_TRACK)).one()
            if not superuser or not one_schema or taken:
                return False
            connection.execute(text(RECORDED_CHANGES))
            # DDL run after SET ROLE is recorded too, by (and for) that role.
            connection.execute(text("GRANT ALL ON pg_temp.schema_reader_changes TO PUBLIC"))
            schema = connection.execute(text("SELECT pg_my_temp_schema()")).scalar_one()
            name = f"schema_reader_{uuid.uuid4().hex[:16]}"
            connection.execute(text(RECORDER.format(schema=schema)))
            connection.execute(text(READER))
            for event, tags in EVENTS.items():
                connection.execute(text(RECORD_ON.format(name=name, event=event, tags=tags)))
                # ALWAYS: also under session_replication_role = replica.
                connection.execute(text(f"ALTER EVENT TRIGGER {name}_{event} ENABLE ALWAYS"))
        self._tracking = name
        return True

    def stop_tracking(self) -> None:
        """Undo ``track_changes()`` on a connection that lives on (closing it does as much)."""
        if not self._tracking:
            return
        with _autocommit(self.connection):
            for event in EVENTS:
                self.connection.execute(text(f"DROP EVENT TRIGGER {self._tracking}_{event}"))
            self.connection.execute(text("DROP FUNCTION pg_temp.schema_reader_record()"))
            self.connection.execute(text("DROP FUNCTION pg_temp.schema_reader_read"))
            self.connection.execute(text("DROP TABLE pg_temp.schema_reader_changes"))
        self._tracking, self._tracked = "", None

    def reflect(self, glimpse: Glimpse, tables: Collection[str] | None = None) -> Schema:
        """The snapshot of the database as ``glimpse`` showed it, taken before it changes again:
        of all its tables, or of those of ``tables`` it has, each reflected only if new."""
        if glimpse.schema is not None:
            return glimpse.schema
        fingerprints = glimpse.fingerprints
        if tables is None:
            # A snapshot of every table: the last one, with only the tables whose fingerprints
            # differ from its own looked up again (a walk over 1000 revisions takes snapshots of
            # up to 500 tables some 1000 times, each a table or two away from the one before).
            last_fingerprints, last = self._last
            changed = {name for name, _ in fingerprints.items() ^ last_fingerprints.items()}
            if "" in fingerprints.values():  # 'always reflect'
                changed.update(name for name, print_ in fingerprints.items() if not print_)
            snapshots = dict(last)
            for name in changed - fingerprints.keys():
                del snapshots[name]
            snapshots.update(self._snapshots(fingerprints, changed & fingerprints.keys()))
            self._last = (fingerprints, snapshots)
        else:
            asked = [name for name in tables if name in fingerprints]
            snapshots = self._snapshots(fingerprints, asked)
        return Schema(snapshots, glimpse.types, glimpse.sequences)

    def _snapshots(
        self, fingerprints: Mapping[str, str], names: Collection[str]
    ) -> dict[str, TableSchema]:
        """The snapshots of these tables, each reflected only if not seen before."""
        # Most tables were seen before: looked up here, not reflected again.
        new = [name for name in names if not self._known(name, fingerprints[name])]
        fresh = {}
        if new:
            with self._reading():
                inspector = inspect(self.connection)
                fresh = {name: self._table(inspector, name, fingerprints[name]) for name in new}
        seen = self._seen
        return {name: fresh.get(name) or seen[name, fingerprints[name]] for name in names}

    def _known(self, name: str, fingerprint: str) -> bool:
        """Whether this table version was reflected before (an empty fingerprint: never)."""
        return bool(fingerprint) and (name, fingerprint) in self._seen

    def _reading(self) -> AbstractContextManager[None]:
        return _autocommit(self.connection) if self.exact else nullcontext()

    def _table(self, inspector: Inspector, name: str, fingerprint: str) -> TableSchema:
        """The snapshot of a table version not seen before (see ``_known``), reflected. On
        SQLite, where the fingerprint is the CREATE statements themselves, statements laid out
        otherwise count as the same and are reflected once: ``--sql`` indents them with spaces
        where online DDL has tabs, and the offline checks' tables are the walk's."""
        key = (name, fingerprint)
        if not fingerprint or self.connection.dialect.name != "sqlite":
            self._seen[key] = reflect_table(inspector, name)
            return self._seen[key]
        layout_free = (name, _without_layout(fingerprint))
        if layout_free not in self._seen:
            self._seen[layout_free] = reflect_table(inspector, name)
        self._seen[key] = self._seen[layout_free]
        return self._seen[key]

    def _fingerprints(self) -> dict[str, str]:
        """Each table's fingerprint; an empty one means 'always reflect'."""
        if self.connection.dialect.name == "sqlite":
            return _SQLiteCatalogue.fingerprints(self.connection)
        query = FINGERPRINTS.get(self.connection.dialect.name)
        if query is None:
            names = inspect(self.connection).get_table_names()
            return {name: "" for name in names if name != VERSION_TABLE}
        if self.connection.dialect.name == "mysql":
            self.connection.exec_driver_sql("SET SESSION group_concat_max_len = 16777216")
        rows = self.connection.execute(text(query)).all()
        if self.connection.in_transaction():
            self.connection.commit()
        return {name: fingerprint for name, fingerprint in rows if name != VERSION_TABLE}

    def _postgresql_glimpse(self) -> Glimpse:
        """Each table's definition, worked out only for tables whose change token is new; and
        the enum types and sequences, as the inspector would list them."""
        # Inside someone else's transaction the recorded changes stay where they are: it may
        # yet roll back the DDL they record, and the glimpse that took them with it.
        outside = self._tracking and not self.connection.in_transaction()
        if outside and (tracked := self._tracked_glimpse()):
            return tracked
        known = list(self._definitions)
        rows = self.connection.execute(text(POSTGRESQL_FINGERPRINTS), {"known": known}).all()
        fingerprints, types, sequences, definitions = {}, {}, set(), {}
        for kind, name, token, definition in rows:
            if kind == "enum type":
                types[name] = token
            elif kind == "sequence":
                sequences.add(name)
            else:
                definitions[token] = self._definitions[token] if definition is None else definition
                if name != VERSION_TABLE:
                    fingerprints[name] = definitions[token]
        self._definitions = definitions
        return Glimpse(fingerprints, types, frozenset(sequences))

    def _tracked_glimpse(self) -> Glimpse | None:
        """The last glimpse, with what the DDL recorded since may have changed read again."""
        tracked, self._tracked = self._tracked, None  # if this fails, the next one reads all
        taken = self.connection.execute(text(TAKE_CHANGES)).all()
        schemas = taken[0][0]
        # With other schemas in the search path, an object made in the current one may hide
        # one of theirs, changing how tables name it, unrecorded: a full glimpse then. With
        # another search path, names are spelled out otherwise: all read again.
        if len(schemas) != 1:
            return None
        changes = [_Change(*row[1:]) for row in taken if row.kind is not None]
        if tracked is not None and tracked.schemas == schemas:
            self._tracked = self._update(tracked, changes)
        if self._tracked is None:
            rows, others = self._read(None)
            self._tracked = _Tracked(schemas, {}, {}, {}).update(_Found(), rows, others)
        return self._tracked.glimpse()

    def _update(self, tracked: "_Tracked", changes: list["_Change"]) -> "_Tracked | None":
        """``tracked`` with what ``changes`` may have changed read again; None: read all."""
        # All where a change cannot be attributed, or reaches an inheritance or partition
        # tree, whose changes reach other tables unrecorded.
        found = tracked.attribute(changes)
        if found is None:
            return None
        found.sequences |= tracked.identities(found.tables)  # DROP IDENTITY drops one unrecorded
        rows: list[_TableRow] = []
        others: list[tuple[str, int, str, str]] = []
        if found.tables or found.objects or found.types or found.sequences:
            known = [token for oid in found.tables for token in tracked.known(oid)]
            rows, others = self._read(found, known)
        # A foreign key names the table and columns it references: a rename reaches it.
        if renamed := tracked.renames(rows):
            rows += self._read(_Found(objects=renamed))[0]
        found.tables |= {row.oid for row in rows}
        if any(row.inherits for row in rows) or tracked.inherit(found.tables):
            return None
        return tracked.update(found, rows, others)

    def _read(
        self, found: "_Found | None", known: Collection[str] = ()
    ) -> tuple[list["_TableRow"], list[tuple[str, int, str, str]]]:
        """What ``found`` says to read again (None: everything); ``known`` indexes left out."""
        objects = found.objects if found else ()
        catalogs, oids, columns = zip(*objects, strict=True) if objects else ((), (), ())
        parameters = {
            "tables": list(found.tables) if found else None,
            "catalogs": list(catalogs),
            "oids": list(oids),
            "columns": list(columns),
            "known": list(known),
            "types": list(found.types) if found else None,
            "sequences": list(found.sequences) if found else None,
        }
        tables, others = [], []
        for kind, oid, name, parts, *rest in self.connection.execute(text(READ), parameters):
            if kind == "table":
                tables.append(_TableRow(oid, name, parts, *rest))
            else:  # an enum type's labels, or a sequence's nothing
                others.append((kind, oid, name, parts[0] if parts else ""))
        return tables, others


class _Change(NamedTuple):
    """One object a DDL statement touched, as recorded (see RECORDER)."""

    dropped: bool
    command: str  # 'CREATE TABLE', 'ALTER TYPE', ...
    kind: str  # 'table', 'table column', 'index', 'type', ... ('unfinished': see RECORDER)
    catalog: str  # 'pg_class', 'pg_type', ...
    oid: int | None
    schema: str | None
    table: int | None  # the table it belongs to, where there is one


class _TableRow(NamedTuple):
    """A table as read for a tracked glimpse (see TRACKED_TABLE)."""

    oid: int
    name: str
    parts: list[str | None]  # of its definition, but for the indexes
    indexes: list[int] | None  # in the order of the definition
    tokens: list[str] | None
    definitions: list[str | None] | None  # None: the known token's
    columns: list[str | None]
    identities: list[int]
    inherits: bool


class _Table(NamedTuple):
    """A table as the last tracked glimpse saw it, with what tells what a change of it reaches."""

    name: str
    definition: str
    indexes: dict[int, tuple[str, str]]  # oid -> token, definition
    columns: list[str | None]  # names by column number (None: dropped)
    identities: list[int]  # its identity columns' sequences
    inherits: bool  # in an inheritance or partition tree


Objects = set[tuple[str, int, int]]  # (catalog, oid, column or 0): the tables naming them


@dataclass(frozen=True)
class _Tracked:
    """The schema as the last tracked glimpse saw it, by oid."""

    schemas: list[str]  # current_schemas(false)
    tables: dict[int, _Table]
    types: dict[int, tuple[str, str]]  # enum type -> name, labels
    sequences: dict[int, str]

    def glimpse(self) -> Glimpse:
        fingerprints = {
            table.name: table.definition
            for table in self.tables.values()
            if table.name != VERSION_TABLE
        }
        return Glimpse(fingerprints, dict(self.types.values()), frozenset(self.sequences.values()))

    def attribute(self, changes: list[_Change]) -> "_Found | None":
        """What ``changes`` may have changed; None for one that cannot be attributed."""
        [schema] = self.schemas
        indexes = {index: oid for oid, table in self.tables.items() for index in table.indexes}
        indexes |= {c.oid: c.table for c in changes if c.kind == "index" and c.oid and c.table}
        # An object made since the last glimpse is named only by what was made or changed
        # after it, and so recorded too.
        made = {c.oid for c in changes if c.command.startswith("CREATE ") and not c.dropped}
        found = _Found()
        for change in changes:
            if change.schema == "pg_toast":  # a dropped table's TOAST table
                continue
            # Objects of other schemas (temporary ones too) may hide objects or be hidden;
            # a schema's name is in those of its objects; an extension makes many.
            if change.oid is None or change.schema not in (None, schema):
                return None
            if change.kind in ("schema", "extension"):
                return None
            if change.dropped and change.kind == "table":
                found.gone.add(change.oid)
            elif change.dropped and change.kind == "index":
                if change.oid not in indexes:  # made unrecorded (REINDEX CONCURRENTLY)
                    return None
                found.tables.add(indexes[change.oid])
            elif change.table is not None:
                found.tables.add(change.table)
            elif change.dropped:  # what named it was dropped with it, and recorded
                if change.catalog == "pg_type":
                    found.gone_types.add(change.oid)
                elif change.kind == "sequence":
                    found.gone_sequences.add(change.oid)
            else:
                if change.catalog == "pg_type":
                    found.types.add(change.oid)
                elif change.kind == "sequence":
                    found.sequences.add(change.oid)
                if change.oid not in made:  # a type, sequence, function...: tables name it
                    found.objects.add((change.catalog, change.oid, 0))
        found.tables -= found.gone
        # A table new here and not made may come from another schema (SET SCHEMA), where
        # others named it.
        moved = {oid for oid in found.tables if oid not in self.tables and oid not in made}
        found.objects |= {("pg_class", oid, 0) for oid in moved}
        return found

    def known(self, table: int) -> list[str]:
        """The tokens of the table's indexes, whose definitions are known."""
        indexes = self.tables[table].indexes if table in self.tables else {}
        return [token for token, _ in indexes.values()]

    def renames(self, rows: list[_TableRow]) -> Objects:
        """The tables and columns that ``rows`` show renamed: foreign keys name them."""
        renamed = set()
        for row in rows:
            was = self.tables.get(row.oid)
            if was is None:
                continue
            if was.name != row.name:
                renamed.add(("pg_class", row.oid, 0))
            pairs = zip(was.columns, row.columns, strict=False)  # added columns: not renamed
            for number, (old, new) in enumerate(pairs, start=1):
                if old and new and old != new:
                    renamed.add(("pg_class", row.oid, number))
        return renamed

    def inherit(self, tables: Collection[int]) -> bool:
        """Whether one of ``tables`` was in an inheritance or partition tree."""
        return any(self.tables[oid].inherits for oid in tables if oid in self.tables)

    def identities(self, tables: Collection[int]) -> set[int]:
        """The identity columns' sequences that ``tables`` had."""
        had = [self.tables[table] for table in tables if table in self.tables]
        return {oid for table in had for oid in table.identities}

    def update(
        self, found: "_Found", rows: list[_TableRow], others: list[tuple[str, int, str, str]]
    ) -> "_Tracked":
        """This, with what ``found`` names replaced by what was read: ``rows``, ``others``."""
        tables = found.tables | found.gone
        types, sequences = found.types | found.gone_types, found.sequences | found.gone_sequences
        kept = {oid: table for oid, table in self.tables.items() if oid not in tables}
        kept |= {row.oid: _table(row, self.tables.get(row.oid)) for row in rows}
        enums = {oid: labels for oid, labels in self.types.items() if oid not in types}
        named = {oid: name for oid, name in self.sequences.items() if oid not in sequences}
        for kind, oid, name, labels in others:
            if kind == "enum type":
                enums[oid] = (name, labels)
            else:
                named[oid] = name
        return _Tracked(self.schemas, kept, enums, named)


@dataclass
class _Found:
    """What recorded changes may have changed, by oid: to read again, or gone."""

    tables: set[int] = field(default_factory=set)
    objects: Objects = field(default_factory=set)  # the tables naming them, to read again
    types: set[int] = field(default_factory=set)
    sequences: set[int] = field(default_factory=set)
    gone: set[int] = field(default_factory=set)  # tables
    gone_types: set[int] = field(default_factory=set)
    gone_sequences: set[int] = field(default_factory=set)


def _table(row: _TableRow, was: _Table | None) -> _Table:
    """The table ``row`` read, its definition as POSTGRESQL_DEFINITION spells it."""
    # Concatenated as concat_ws and string_agg do; the indexes left out known from ``was``.
    known = dict(was.indexes.values()) if was else {}
    indexes = {
        oid: (token, known[token] if definition is None else definition)
        for oid, token, definition in zip(
            row.indexes or [], row.tokens or [], row.definitions or [], strict=True
        )
    }
    spelled = ", ".join(definition for _, definition in indexes.values()) if indexes else None
    definition = "\n".join(part for part in [*row.parts, spelled] if part is not None)
    return _Table(row.name, definition, indexes, row.columns, row.identities, row.inherits)


class _SQLiteCatalogue:
    """sqlite_master as the last glimpse on one connection saw it, kept in Python and in a
    temporary table of that connection, so that SQLite itself compares the two and hands over
    only the rows that changed since: a glimpse then costs one pass over sqlite_master in
    SQLite (a third of reading it all out), and Python work only for what changed, where the
    walk glimpses after every step and most of the schema stays as it was.

    Row ids alone cannot tell what changed: ALTER TABLE rewrites rows where they are, and
    SQLite gives a dropped table's id to the next one made. So each row is compared whole with
    the one of its id, and ids no longer there are found too. When PRAGMA schema_version, which
    SQLite raises with every change to a schema, has not moved, nothing is read at all. Where
    the temporary table cannot be written (PRAGMA query_only), every glimpse reads every row.
    """

    # Its key in connection.info, which lives as long as the DBAPI connection and its temporary
    # table do.
    KEY = "tests.migrations.schema catalogue"

    def __init__(self, driver: Any) -> None:
        self.driver = driver  # the DBAPI connection whose temporary table this mirrors
        self.version: int | None = None  # PRAGMA schema_version when the rows were read
        self.mirrored = True  # whether the temporary table holds the rows below
        self.rows: dict[int, tuple[str, str, str]] = {}  # rowid -> type, table, statement
        self.tables: dict[str, dict[int, str]] = {}  # table -> rowid -> statement, as fingerprinted
        # Handed out to glimpses, so never changed: a new dict for each new state.
        self.current: dict[str, str] = {}

    @classmethod
    def fingerprints(cls, connection: Connection) -> dict[str, str]:
        """Each table's fingerprint: its statements, sorted and joined. A transaction the
        connection is in is committed first, as a read on SQLite always has; the connection is
        left outside one."""
        if connection.in_transaction():
            connection.commit()
        driver = connection.connection.driver_connection
        catalogue: _SQLiteCatalogue | None = connection.info.get(cls.KEY)
        if catalogue is not None and catalogue.driver is driver:
            try:
                return catalogue._read(connection)
            except DBAPIError:
                pass  # its temporary table dropped, say: read again into a new one
        catalogue = connection.info[cls.KEY] = cls(driver)
        return catalogue._read(connection)

    def _read(self, connection: Connection) -> dict[str, str]:
        try:
            self._update(connection)
        except BaseException:
            # The temporary table may be half written: the next read starts afresh.
            connection.info.pop(self.KEY, None)
            if connection.in_transaction():
                connection.rollback()
            raise
        if connection.in_transaction():
            connection.commit()
        return self.current

    def _update(self, connection: Connection) -> None:
        # Read before the rows: a change made in between is then read again next time.
        version = connection.exec_driver_sql("PRAGMA schema_version").scalar_one()
        if version == self.version:
            return
        if self.version is None:
            self.mirrored = self._mirror(connection)
        if self.mirrored:
            changes = connection.exec_driver_sql(SQLITE_CHANGES).all()
        else:  # every row, as new
            self.rows, self.tables, self.current = {}, {}, {}
            changes = connection.exec_driver_sql(SQLITE_ROWS).all()
        if changes:
            self._apply(changes)
            if self.mirrored:
                self._write(connection, changes)
        self.version = version

    def _mirror(self, connection: Connection) -> bool:
        """Make the temporary table afresh, empty; False where it cannot be written."""
        try:
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{SQLITE_MIRROR}")
            connection.exec_driver_sql(
                f"CREATE TEMP TABLE {SQLITE_MIRROR} (id INTEGER PRIMARY KEY, type TEXT,"
                " tbl TEXT, statement TEXT)"
            )
        except DBAPIError:
            if connection.in_transaction():
                connection.rollback()
            return False
        return True

    def _apply(self, changes: Sequence[Any]) -> None:
        """Take in the rows new or changed, and those gone (all NULL but the id)."""
        touched = set()
        for rowid, kind, table, statement in changes:
            old = self.rows.pop(rowid, None)
            if old is not None:
                touched.add(old[1])
                self.tables.get(old[1], {}).pop(rowid, None)
            if table is None:
                continue
            self.rows[rowid] = (kind, table, statement)
            # What a table is made of: its CREATE TABLE and CREATE INDEX statements (an index
            # SQLite made itself has none: its name stands for one). SQLite's own tables, whose
            # names only it may begin with sqlite_, are not the schema's.
            if kind in ("table", "index") and table[:7].lower() != "sqlite_":
                touched.add(table)
                self.tables.setdefault(table, {})[rowid] = statement
        current = dict(self.current)
        for table in touched:
            statements = self.tables.get(table)
            if statements:
                if table != VERSION_TABLE:
                    current[table] = ";".join(sorted(statements.values()))
            else:
                self.tables.pop(table, None)
                current.pop(table, None)
        self.current = current

    def _write(self, connection: Connection, changes: Sequence[Any]) -> None:
        gone = [(row[0],) for row in changes if row[2] is None]
        kept = [tuple(row) for row in changes if row[2] is not None]
        if gone:
            connection.exec_driver_sql(f"DELETE FROM temp.{SQLITE_MIRROR} WHERE id = ?", gone)
        if kept:
            connection.exec_driver_sql(
                f"INSERT OR REPLACE INTO temp.{SQLITE_MIRROR} VALUES (?, ?, ?, ?)", kept
            )


def differences_between(actual: SchemaReader, expected: SchemaReader) -> list[str]:
    """How ``actual``'s database differs from ``expected``'s, both as they are now: only the
    tables whose fingerprints differ are reflected."""
    now, wanted = actual.glimpse(), expected.glimpse()
    if now == wanted:
        return []
    changed = now.changed_tables(wanted)
    return actual.reflect(now, changed).differences(expected.reflect(wanted, changed))


# SQL's layout: whitespace and comments, outside quoted literals and names (kept as they are).
# A line comment ends at a semicolon too: the statements of a fingerprint are joined by one.
LAYOUT = re.compile(
    r"""('(?:[^']|'')*'|"(?:[^"]|"")*"|`[^`]*`|\[[^\]]*\])|--[^\n;]*|/\*.*?\*/|\s+""", re.S
)


def _without_layout(sql: str) -> str:
    """``sql`` with each run of whitespace or comment outside quotes made one space."""
    return LAYOUT.sub(lambda found: found.group(1) or " ", sql).strip()


@contextmanager
def _autocommit(connection: Connection) -> Iterator[None]:
    """Read outside a transaction: psycopg then sends no BEGIN and COMMIT, two round trips of
    the three a read would cost. The connection's own level comes back afterwards."""
    if connection.in_transaction():  # someone else's: read inside it, as it sees the schema
        yield
        return
    level = connection.get_execution_options().get(
        "isolation_level", connection.default_isolation_level
    )
    connection.execution_options(isolation_level="AUTOCOMMIT")
    try:
        yield
    finally:
        if connection.in_transaction():
            connection.commit()
        connection.execution_options(isolation_level=level)


# A table's definition (for the table whose oid is {table}): its comment, columns, constraints
# and indexes, in words that stay the same when the table is dropped and made again the same
# (no oids, no column numbers), or when a downgrade adds back a column its upgrade dropped
# (columns by name, as reflected).
TABLE_COMMENT = "obj_description({table}, 'pg_class')"
TABLE_COLUMNS = """(
        SELECT string_agg(concat_ws(' ', a.attname, format_type(a.atttypid, a.atttypmod),
                                    a.attcollation, a.attnotnull, a.attidentity, a.attgenerated,
                                    pg_get_expr(d.adbin, d.adrelid),
                                    col_description(a.attrelid, a.attnum)),
                          ', ' ORDER BY a.attname)
        FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = {table} AND a.attnum > 0 AND NOT a.attisdropped)"""
TABLE_CONSTRAINTS = """(
        SELECT string_agg(concat_ws(' ', conname, pg_get_constraintdef(oid)), ', '
                          ORDER BY conname)
        FROM pg_constraint WHERE conrelid = {table})"""
TABLE_INDEXES = """(
        SELECT string_agg(pg_get_indexdef(indexrelid), ', ' ORDER BY indexrelid::regclass::text)
        FROM pg_index WHERE indrelid = {table})"""
POSTGRESQL_DEFINITION = f"""concat_ws(
        E'\\n', {TABLE_COMMENT}, {TABLE_COLUMNS}, {TABLE_CONSTRAINTS}, {TABLE_INDEXES})"""

# The enum types (with their labels) and sequences the inspector lists: visible, outside
# pg_catalog.
ENUM_LABELS = """coalesce((SELECT string_agg(enumlabel, ', ' ORDER BY enumsortorder)
                      FROM pg_enum WHERE enumtypid = pg_type.oid), '')"""
ENUM_TYPES = """FROM pg_type WHERE typtype = 'e' AND pg_type_is_visible(oid)
                   AND typnamespace <> 'pg_catalog'::regnamespace"""
SEQUENCES = """FROM pg_class WHERE relkind = 'S' AND pg_table_is_visible(oid)
                    AND relnamespace <> 'pg_catalog'::regnamespace"""

# A table's change token: its oid, and the number and transaction ids of the catalogue rows
# its reflection reads (any change to one of them writes a row with a new transaction id, or
# removes one); a foreign key's other table and columns count too, as they may be renamed.
# Only for tables whose token is not :known is the definition spelled out.
# Each catalogue is joined to the tables, not filtered by IN: the planner, which cannot tell
# how many tables there are, then hashes them instead of probing an index once per table.
POSTGRESQL_FINGERPRINTS = f"""
    WITH t AS (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema()),
    versions AS (
        SELECT t.oid AS rel, c.xmin FROM t JOIN pg_class c ON c.oid = t.oid
        UNION ALL SELECT t.oid, a.xmin FROM t JOIN pg_attribute a ON a.attrelid = t.oid
        UNION ALL SELECT t.oid, d.xmin FROM t JOIN pg_attrdef d ON d.adrelid = t.oid
        UNION ALL SELECT t.oid, s.xmin FROM t JOIN pg_description s
                  ON s.objoid = t.oid AND s.classoid = 'pg_class'::regclass
        UNION ALL SELECT t.oid, k.xmin FROM t JOIN pg_constraint k ON k.conrelid = t.oid
        UNION ALL SELECT t.oid, i.xmin FROM t JOIN pg_index i ON i.indrelid = t.oid
        UNION ALL SELECT t.oid, c.xmin FROM t JOIN pg_index i ON i.indrelid = t.oid
                  JOIN pg_class c ON c.oid = i.indexrelid
        UNION ALL SELECT t.oid, c.xmin FROM t JOIN pg_constraint k ON k.conrelid = t.oid
                  JOIN pg_class c ON c.oid = k.confrelid
        UNION ALL SELECT t.oid, a.xmin FROM t JOIN pg_constraint k ON k.conrelid = t.oid
                  JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = ANY (k.confkey)
    ),
    tokens AS (SELECT rel AS oid, concat_ws(':', rel, count(*), sum(xmin::text::bigint)) AS token
               FROM versions GROUP BY rel)
    SELECT 'table', relname, token, CASE WHEN token = ANY (:known) THEN NULL
                                         ELSE {POSTGRESQL_DEFINITION.format(table="tokens.oid")} END
    FROM tokens JOIN pg_class USING (oid)
    UNION ALL
    SELECT 'enum type', typname, {ENUM_LABELS}, NULL {ENUM_TYPES}
    UNION ALL
    SELECT 'sequence', relname, '', NULL {SEQUENCES}
"""

# Tracked glimpses (see SchemaReader.track_changes). Event triggers record the DDL of the
# reader's session, object by object, in a table of the session's own temporary schema: there
# nothing that reads the schema looks, DROP SCHEMA ... CASCADE does not reach, and the session's
# end takes it, triggers and all. The triggers fire for any session's DDL: the function returns
# at once in the others.
CAN_TRACK = """
    SELECT current_setting('is_superuser') = 'on', cardinality(current_schemas(false)) = 1,
           to_regclass('pg_temp.schema_reader_changes') IS NOT NULL
"""
RECORDED_CHANGES = """
    CREATE TEMP TABLE schema_reader_changes (
        dropped bool, command text, kind text, catalog text, objid oid, schema_name text,
        relid oid
    )
"""
# Each object's table (relid) is found as the DDL runs, while the catalogues still hold it: an
# index's, a constraint's; for a dropped one, what is left is the table's name, if any.
# CREATE INDEX CONCURRENTLY commits the index before it may fail, leaving it there, invalid:
# an 'unfinished' row, from its start to its end, makes the next glimpse read everything.
RECORDER = """
    CREATE FUNCTION pg_temp.schema_reader_record() RETURNS event_trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF pg_my_temp_schema() <> '{schema}'::oid THEN  -- another session's DDL
            RETURN;
        ELSIF tg_event = 'ddl_command_start' THEN  -- a CREATE INDEX starts
            INSERT INTO pg_temp.schema_reader_changes (command, kind) VALUES (tg_tag, 'unfinished');
            RETURN;
        ELSIF tg_tag = 'CREATE INDEX' THEN  -- and ends
            DELETE FROM pg_temp.schema_reader_changes WHERE kind = 'unfinished';
        END IF;
        IF tg_event = 'sql_drop' THEN
            INSERT INTO pg_temp.schema_reader_changes
            SELECT true, tg_tag, object_type, classid::regclass::text, objid, schema_name,
                   CASE WHEN object_type IN ('table', 'table column') THEN objid
                        WHEN object_type IN ('table constraint', 'default value') THEN (
                            SELECT c.oid FROM pg_class c JOIN pg_namespace n
                            ON n.oid = c.relnamespace AND n.nspname = address_names[1]
                            WHERE c.relname = address_names[2]) END
            FROM pg_event_trigger_dropped_objects();
        ELSE
            INSERT INTO pg_temp.schema_reader_changes
            SELECT false, command_tag, object_type, classid::regclass::text, objid, schema_name,
                   CASE classid WHEN 'pg_class'::regclass THEN (
                       SELECT CASE WHEN c.relkind IN ('r', 'p') THEN c.oid
                                   WHEN c.relkind IN ('i', 'I') THEN i.indrelid END
                       FROM pg_class c LEFT JOIN pg_index i ON i.indexrelid = c.oid
                       WHERE c.oid = objid)
                   WHEN 'pg_constraint'::regclass THEN (
                       SELECT nullif(conrelid, 0) FROM pg_constraint WHERE oid = objid) END
            FROM pg_event_trigger_ddl_commands()
            WHERE command_tag NOT IN ('GRANT', 'REVOKE', 'ALTER DEFAULT PRIVILEGES');
        END IF;
    END $$
"""
RECORD_ON = """
    CREATE EVENT TRIGGER {name}_{event} ON {event} {tags}
    EXECUTE FUNCTION pg_temp.schema_reader_record()
"""
EVENTS = {  # each event recorded, and the command tags it is recorded for
    "ddl_command_start": "WHEN TAG IN ('CREATE INDEX')",
    "ddl_command_end": "",
    "sql_drop": "",
}
# The changes recorded since the last glimpse, taken; and the schemas of the search path.
TAKE_CHANGES = """
    WITH taken AS (DELETE FROM pg_temp.schema_reader_changes RETURNING *)
    SELECT current_schemas(false)::text[], dropped, command, kind, catalog, objid, schema_name,
           relid
    FROM (SELECT) AS now LEFT JOIN taken ON true
"""
# A table read for a tracked glimpse: the parts of its definition but the indexes; its indexes
# in that order, with their tokens (which change with the index's catalogue rows) and their
# definitions where {fresh} (else the one known for the token is still right: pg_get_indexdef
# costs as much as the table is wide); and what tells which others a change of it reaches: its
# column names by number, its identity columns' sequences, whether it is in an inheritance or
# partition tree. Of the tables in the current schema, those {which}.
TRACKED_TABLE = """
    SELECT 'table', c.oid, c.relname,
           ARRAY[{parts}],
           x.indexes, x.tokens, x.definitions,
           ARRAY(SELECT CASE WHEN NOT attisdropped THEN attname::text END FROM pg_attribute
                 WHERE attrelid = c.oid AND attnum > 0 ORDER BY attnum),
           ARRAY(SELECT d.objid FROM pg_depend d JOIN pg_class s ON s.oid = d.objid
                 WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = c.oid
                   AND d.classid = 'pg_class'::regclass AND d.deptype = 'i' AND s.relkind = 'S'),
           c.relkind = 'p' OR c.relispartition OR c.relhassubclass
           OR EXISTS (SELECT FROM pg_inherits WHERE inhrelid = c.oid)
    FROM pg_class c LEFT JOIN LATERAL (
        SELECT array_agg(i.oid ORDER BY i.name) AS indexes,
               array_agg(i.token ORDER BY i.name) AS tokens,
               array_agg(CASE WHEN {fresh} THEN pg_get_indexdef(i.oid) END
                         ORDER BY i.name) AS definitions
        FROM (SELECT i.indexrelid AS oid, i.indexrelid::regclass::text AS name,
                     concat_ws(':', i.indexrelid, r.xmin, i.xmin) AS token
              FROM pg_index i JOIN pg_class r ON r.oid = i.indexrelid
              WHERE i.indrelid = c.oid) AS i
        LEFT JOIN unnest(known) AS k (token) USING (token)
    ) AS x ON true
    WHERE c.relkind IN ('r', 'p')
      AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
      AND {which}
"""


def tracked_table(fresh: str, which: str) -> str:
    """TRACKED_TABLE for the tables ``which`` selects, spelling out the indexes ``fresh`` does."""
    parts = ", ".join((TABLE_COMMENT, TABLE_COLUMNS, TABLE_CONSTRAINTS)).format(table="c.oid")
    return TRACKED_TABLE.format(parts=parts, fresh=fresh, which=which)


ALL_TABLES = tracked_table(fresh="true", which="true")
THESE_TABLES = tracked_table(fresh="k.token IS NULL", which="c.oid = ANY (tables)")
NAMED_TABLES = tracked_table(
    fresh="k.token IS NULL OR c.oid IN (SELECT oid FROM naming)",
    which="c.oid IN (SELECT oid FROM asked)",
)
# The tables naming the objects (catalogs, oids, columns; column 0: any): their dependants in
# pg_depend, or those of the types naming them (a table's row type, a type's array type).
NAMING = """
    WITH objects AS (
        SELECT catalog::regclass AS classid, objid, objsubid
        FROM unnest(catalogs, oids, columns) AS o (catalog, objid, objsubid)
    ),
    named_types AS (
        SELECT c.reltype AS oid FROM objects o JOIN pg_class c ON c.oid = o.objid
        WHERE o.classid = 'pg_class'::regclass AND o.objsubid = 0
        UNION SELECT objid FROM objects WHERE classid = 'pg_type'::regclass
    ),
    named AS (
        SELECT classid, objid, objsubid FROM objects
        UNION SELECT 'pg_type'::regclass, oid, 0 FROM named_types
        UNION SELECT 'pg_type'::regclass, t.typarray, 0 FROM named_types t0
              JOIN pg_type t ON t.oid = t0.oid
    ),
    naming AS (
        SELECT CASE d.classid WHEN 'pg_class'::regclass THEN coalesce(i.indrelid, d.objid)
                              WHEN 'pg_constraint'::regclass THEN k.conrelid
                              WHEN 'pg_attrdef'::regclass THEN a.adrelid END AS oid
        FROM named n JOIN pg_depend d ON d.refclassid = n.classid AND d.refobjid = n.objid
                                     AND n.objsubid IN (0, d.refobjsubid)
        LEFT JOIN pg_index i ON d.classid = 'pg_class'::regclass AND i.indexrelid = d.objid
        LEFT JOIN pg_constraint k ON d.classid = 'pg_constraint'::regclass AND k.oid = d.objid
        LEFT JOIN pg_attrdef a ON d.classid = 'pg_attrdef'::regclass AND a.oid = d.objid
    ),
    asked AS (SELECT unnest(tables) AS oid UNION SELECT oid FROM naming)
"""
TRACKED_ENUM_TYPES = f"""
    SELECT 'enum type', oid, typname, ARRAY[{ENUM_LABELS}], NULL::oid[], NULL::text[],
           NULL::text[], NULL::text[], NULL::oid[], NULL::bool {ENUM_TYPES}"""
TRACKED_SEQUENCES = f"""
    SELECT 'sequence', oid, relname, NULL::text[], NULL::oid[], NULL::text[], NULL::text[],
           NULL::text[], NULL::oid[], NULL::bool {SEQUENCES}"""
# Reads what a tracked glimpse reads again, a row each: the tables of tables (NULL: all) and
# those naming the objects (which have all their indexes spelled out again); the enum types
# of types and sequences of sequences (NULL: all), their labels in parts. A function, whose
# plans last the session: psycopg forgets its prepared statements after each ALTER or DROP,
# and planning these queries costs more than running them.
READER = f"""
    CREATE FUNCTION pg_temp.schema_reader_read(
        tables oid[], catalogs text[], oids oid[], columns int[], known text[], types oid[],
        sequences oid[]
    ) RETURNS TABLE (
        kind text, object_oid oid, object_name name, parts text[], index_oids oid[],
        tokens text[], index_definitions text[], column_names text[], identities oid[],
        inherits bool
    ) LANGUAGE plpgsql AS $$
    BEGIN
        IF tables IS NULL THEN
            RETURN QUERY {ALL_TABLES};
        ELSIF cardinality(oids) > 0 THEN
            RETURN QUERY {NAMING} {NAMED_TABLES};
        ELSIF cardinality(tables) > 0 THEN
            RETURN QUERY {THESE_TABLES};
        END IF;
        IF types IS NULL THEN
            RETURN QUERY {TRACKED_ENUM_TYPES};
        ELSIF cardinality(types) > 0 THEN
            RETURN QUERY {TRACKED_ENUM_TYPES} AND oid = ANY (types);
        END IF;
        IF sequences IS NULL THEN
            RETURN QUERY {TRACKED_SEQUENCES};
        ELSIF cardinality(sequences) > 0 THEN
            RETURN QUERY {TRACKED_SEQUENCES} AND oid = ANY (sequences);
        END IF;
    END $$
"""
READ = """
    SELECT * FROM pg_temp.schema_reader_read(
        CAST(:tables AS oid[]), CAST(:catalogs AS text[]), CAST(:oids AS oid[]),
        CAST(:columns AS int[]), CAST(:known AS text[]), CAST(:types AS oid[]),
        CAST(:sequences AS oid[]))
"""

# SQLite: every row of sqlite_master, as the catalogue keeps it (its table and its statement, or
# its name where it has none); and the rows that differ from those in the catalogue's temporary
# table, followed by the ids of the rows there that sqlite_master no longer has.
SQLITE_MIRROR = "tests_migrations_schema_catalogue"
SQLITE_ROWS = "SELECT rowid, type, tbl_name, coalesce(sql, name) FROM main.sqlite_master"
SQLITE_CHANGES = f"""
    SELECT m.rowid, m.type, m.tbl_name, coalesce(m.sql, m.name) FROM main.sqlite_master AS m
    LEFT JOIN temp.{SQLITE_MIRROR} AS k ON k.id = m.rowid
    WHERE k.statement IS NOT coalesce(m.sql, m.name) OR k.tbl IS NOT m.tbl_name
       OR k.type IS NOT m.type
    UNION ALL
    SELECT id, NULL, NULL, NULL FROM temp.{SQLITE_MIRROR}
    WHERE id NOT IN (SELECT rowid FROM main.sqlite_master)
"""

FINGERPRINTS = {
    # information_schema, which MySQL and MariaDB share (group_concat_max_len is raised first).
    "mysql": """
        SELECT t.table_name, CONCAT_WS(';', t.table_comment,
            (SELECT GROUP_CONCAT(CONCAT_WS(':', c.column_name, c.column_type, c.is_nullable,
                                           IFNULL(c.column_default, '~'), c.extra,
                                           c.column_comment)
                                 ORDER BY c.ordinal_position SEPARATOR ',')
             FROM information_schema.columns c
             WHERE c.table_schema = t.table_schema AND c.table_name = t.table_name),
            (SELECT GROUP_CONCAT(CONCAT_WS(':', s.index_name, s.non_unique, s.seq_in_index,
                                           s.column_name, IFNULL(s.sub_part, '~'))
                                 ORDER BY s.index_name, s.seq_in_index SEPARATOR ',')
             FROM information_schema.statistics s
             WHERE s.table_schema = t.table_schema AND s.table_name = t.table_name),
            (SELECT GROUP_CONCAT(CONCAT_WS(':', k.constraint_name, k.column_name,
                                           IFNULL(k.referenced_table_name, '~'),
                                           IFNULL(k.referenced_column_name, '~'))
                                 ORDER BY k.constraint_name, k.ordinal_position SEPARATOR ',')
             FROM information_schema.key_column_usage k
             WHERE k.table_schema = t.table_schema AND k.table_name = t.table_name),
            (SELECT GROUP_CONCAT(CONCAT_WS(':', r.constraint_name, r.update_rule, r.delete_rule)
                                 ORDER BY r.constraint_name SEPARATOR ',')
             FROM information_schema.referential_constraints r
             WHERE r.constraint_schema = t.table_schema AND r.table_name = t.table_name),
            (SELECT GROUP_CONCAT(CONCAT_WS(':', tc.constraint_name, tc.constraint_type,
                                           IFNULL(cc.check_clause, '~'))
                                 ORDER BY tc.constraint_name SEPARATOR ',')
             FROM information_schema.table_constraints tc
             LEFT JOIN information_schema.check_constraints cc
               ON cc.constraint_schema = tc.constraint_schema
              AND cc.constraint_name = tc.constraint_name
             WHERE tc.table_schema = t.table_schema AND tc.table_name = t.table_name))
        FROM information_schema.tables t
        WHERE t.table_schema = DATABASE() AND t.table_type = 'BASE TABLE'
    """,
}


def reflect_table(inspector: Inspector, table: str) -> TableSchema:
    """One table as the inspector sees it, in words that compare equal when the schema does."""
    dialect = inspector.dialect
    primary_key = inspector.get_pk_constraint(table)
    return {
        "column": {
            column["name"]: _describe_column(column, dialect)
            for column in inspector.get_columns(table)
        },
        "primary key": (
            {primary_key.get("name") or "(unnamed)": _columns(primary_key["constrained_columns"])}
            if primary_key["constrained_columns"]
            else {}
        ),
        "foreign key": {
            fk.get("name") or f"(unnamed {_columns(fk['constrained_columns'])})": (
                f"{_columns(fk['constrained_columns'])} REFERENCES {fk['referred_table']}"
                f"{_columns(fk['referred_columns'])}"
                + "".join(
                    f" ON {event} {fk['options'][action].upper()}"
                    for action, event in (("ondelete", "DELETE"), ("onupdate", "UPDATE"))
                    if fk.get("options", {}).get(action)
                )
            )
            for fk in inspector.get_foreign_keys(table)
        },
        "unique constraint": {
            unique.get("name") or f"(unnamed {_columns(unique['column_names'])})": _columns(
                unique["column_names"]
            )
            for unique in inspector.get_unique_constraints(table)
        },
        "check constraint": {
            check.get("name") or f"(unnamed {_squash(check['sqltext'])})": _squash(check["sqltext"])
            for check in inspector.get_check_constraints(table)
        },
        "index": {
            index["name"] or f"(unnamed {_columns(index['column_names'])})": (
                ("UNIQUE " if index["unique"] else "") + _columns(index["column_names"])
            )
            for index in inspector.get_indexes(table)
        },
    }


def _describe_column(column: Any, dialect: Any) -> str:
    words = [column["type"].compile(dialect=dialect)]
    words.append("NULL" if column["nullable"] else "NOT NULL")
    if column.get("default") is not None:
        words.append(f"DEFAULT {_strip_parentheses(_squash(str(column['default'])))}")
    if column.get("comment"):
        words.append(f"COMMENT {column['comment']!r}")
    return " ".join(words)


def _columns(names: list[Any]) -> str:
    return f"({', '.join(str(name) for name in names)})"


def _squash(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip()


def _strip_parentheses(sql: str) -> str:
    # SQLite keeps a default as typed: '(CURRENT_TIMESTAMP)' and 'CURRENT_TIMESTAMP' are one.
    while sql.startswith("(") and _closes_at_end(sql):
        sql = sql[1:-1].strip()
    return sql


def _closes_at_end(sql: str) -> bool:
    """Whether the parenthesis opening ``sql`` is the one closing it."""
    depth = 0
    for position, character in enumerate(sql):
        depth += {"(": 1, ")": -1}.get(character, 0)
        if depth == 0:
            return position == len(sql) - 1
    return False
