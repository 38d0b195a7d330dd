"""Schema snapshots read through SQLAlchemy's inspector, and their differences in words."""

import re
from collections.abc import Collection, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Connection, Inspector, inspect, text

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
        mine, theirs = self.fingerprints, expected.fingerprints
        return {name for name in mine.keys() | theirs.keys() if mine.get(name) != theirs.get(name)}

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
    statements of the table and its indexes, on PostgreSQL its definition as text. A table
    whose fingerprint was seen before reuses the snapshot reflected then, so a walk up, down and
    up again reflects each table version once; on PostgreSQL, where fingerprints are exact, a
    walk compares glimpses and reflects only to word a difference.
    """

    def __init__(self, connection: Connection, like: "SchemaReader | None" = None) -> None:
        """A reader of ``connection``'s database; given ``like``, a reader of another database
        on the same backend, it shares the tables that one has reflected: a table's
        fingerprint says the same on any database."""
        self.connection = connection
        self._seen: dict[tuple[str, str], TableSchema] = like._seen if like else {}
        # PostgreSQL: each table's change token -> its definition, as of the last glimpse.
        self._definitions: dict[str, str] = {}

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

    def reflect(self, glimpse: Glimpse, tables: Collection[str] | None = None) -> Schema:
        """The snapshot of the database as ``glimpse`` showed it, taken before it changes again:
        of all its tables, or of those of ``tables`` it has, each reflected only if new."""
        if glimpse.schema is not None:
            return glimpse.schema
        fingerprints = glimpse.fingerprints
        asked = fingerprints if tables is None else tables
        names = [name for name in asked if name in fingerprints]
        # Most tables were seen before: looked up here, not reflected again (a walk over 1000
        # revisions takes snapshots of up to 500 tables some 1000 times).
        new = [name for name in names if not self._known(name, fingerprints[name])]
        fresh = {}
        if new:
            with self._reading():
                inspector = inspect(self.connection)
                fresh = {name: self._table(inspector, name, fingerprints[name]) for name in new}
        seen = self._seen
        snapshots = {name: fresh.get(name) or seen[name, fingerprints[name]] for name in names}
        return Schema(snapshots, glimpse.types, glimpse.sequences)

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


# A table's change token: its oid, and the number and transaction ids of the catalogue rows
# its reflection reads (any change to one of them writes a row with a new transaction id, or
# removes one); a foreign key's other table and columns count too, as they may be renamed.
# Only for tables whose token is not :known is the definition spelled out, in words that stay
# the same when the table is dropped and made again the same (no oids, no column numbers), or
# when a downgrade adds back a column its upgrade dropped (columns by name, as reflected).
# The enum types and sequences are those the inspector lists (visible, outside pg_catalog).
# Each catalogue is joined to the tables, not filtered by IN: the planner, which cannot tell
# how many tables there are, then hashes them instead of probing an index once per table.
POSTGRESQL_FINGERPRINTS = """
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
    SELECT 'table', relname, token, CASE WHEN token = ANY (:known) THEN NULL ELSE concat_ws(
        E'\n',
        obj_description(tokens.oid, 'pg_class'),
        (SELECT string_agg(concat_ws(' ', a.attname, format_type(a.atttypid, a.atttypmod),
                                     a.attcollation, a.attnotnull, a.attidentity, a.attgenerated,
                                     pg_get_expr(d.adbin, d.adrelid),
                                     col_description(a.attrelid, a.attnum)),
                           ', ' ORDER BY a.attname)
         FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE a.attrelid = tokens.oid AND a.attnum > 0 AND NOT a.attisdropped),
        (SELECT string_agg(concat_ws(' ', conname, pg_get_constraintdef(oid)), ', '
                           ORDER BY conname)
         FROM pg_constraint WHERE conrelid = tokens.oid),
        (SELECT string_agg(pg_get_indexdef(indexrelid), ', ' ORDER BY indexrelid::regclass::text)
         FROM pg_index WHERE indrelid = tokens.oid)
    ) END
    FROM tokens JOIN pg_class USING (oid)
    UNION ALL
    SELECT 'enum type', typname, coalesce((SELECT string_agg(enumlabel, ', ' ORDER BY enumsortorder)
                                           FROM pg_enum WHERE enumtypid = pg_type.oid), ''), NULL
    FROM pg_type WHERE typtype = 'e' AND pg_type_is_visible(oid)
                   AND typnamespace <> 'pg_catalog'::regnamespace
    UNION ALL
    SELECT 'sequence', relname, '', NULL FROM pg_class
    WHERE relkind = 'S' AND pg_table_is_visible(oid) AND relnamespace <> 'pg_catalog'::regnamespace
"""

FINGERPRINTS = {
    # Unsorted within a table, which halves the query's cost: the same statements in another
    # order are only reflected once more, and equal fingerprints still mean equal tables.
    "sqlite": """
        SELECT tbl_name, group_concat(coalesce(sql, name), ';') FROM sqlite_master
        WHERE type IN ('table', 'index') AND tbl_name NOT LIKE 'sqlite_%'
        GROUP BY tbl_name
    """,
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
