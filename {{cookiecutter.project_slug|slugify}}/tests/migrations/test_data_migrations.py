"""Rows survive the data migrations: checked before, after, down and up again.

The pattern for any revision that moves data: bring an empty database to just before the
revision, insert rows as the schema then stood, and check them after ``apply``, ``revert``
and ``apply`` again.
"""

from sqlalchemy import Boolean, Connection, String, TableClause, column, insert, select, table

from tests.migrations.runner import MigrationRunner

USERS_BEFORE = table(
    "users", column("email", String), column("display_name", String), column("is_active", String)
)
USERS_AFTER = table("users", column("email", String), column("is_active", Boolean))


def flags(connection: Connection, users: TableClause) -> dict[str, object]:
    """Each user's ``is_active`` value, read as the given version of the table types it."""
    rows = connection.execute(select(users.c.email, users.c.is_active))
    return {email: is_active for email, is_active in rows}


def test_text_activity_flags_become_booleans_and_back(
    runner: MigrationRunner, connection: Connection
) -> None:
    revision = runner.script.get_revision("9a4e7c1d2b8f")
    runner.upgrade_to_just_before(revision)
    connection.execute(
        insert(USERS_BEFORE),
        [
            {"email": "on@example.com", "display_name": "On", "is_active": "yes"},
            {"email": "off@example.com", "display_name": "Off", "is_active": "no"},
        ],
    )
    connection.commit()
    as_booleans = {"on@example.com": True, "off@example.com": False}

    runner.apply(revision)
    assert flags(connection, USERS_AFTER) == as_booleans

    runner.revert(revision)
    assert flags(connection, USERS_BEFORE) == {"on@example.com": "yes", "off@example.com": "no"}

    runner.apply(revision)
    assert flags(connection, USERS_AFTER) == as_booleans
