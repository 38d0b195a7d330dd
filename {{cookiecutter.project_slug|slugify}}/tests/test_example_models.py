"""The example models work on a database built by the migrations, not by create_all."""

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import URL, Engine, create_engine, delete, event, func, insert, pool, select
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from {{ cookiecutter.package_name }}.models import Role, User, user_roles
from tests.migrations.runner import MigrationRunner


@pytest.fixture
def app_engine(runner: MigrationRunner, database_url: URL) -> Iterator[Engine]:
    """An engine on a database migrated to head; on SQLite it enforces foreign keys."""
    runner.upgrade("heads")
    engine = create_engine(database_url, poolclass=pool.NullPool)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", lambda dbapi, _: dbapi.execute("PRAGMA foreign_keys=ON"))
    yield engine
    engine.dispose()


@pytest.fixture
def session(app_engine: Engine) -> Iterator[Session]:
    with Session(app_engine, expire_on_commit=False) as session:
        yield session


def test_a_user_with_roles_round_trips(session: Session) -> None:
    admin = Role(name="admin", description="Can do anything")
    session.add(User(email="ada@example.com", display_name="Ada", roles=[admin]))
    session.commit()
    session.expunge_all()

    user = session.scalars(select(User).where(User.email == "ada@example.com")).one()

    assert [role.name for role in user.roles] == ["admin"]
    assert user.is_active is True


def test_timestamps_are_set_by_the_database_and_read_back_in_utc(session: Session) -> None:
    session.add(Role(name="auditor"))
    session.commit()
    session.expunge_all()

    role = session.scalars(select(Role)).one()

    assert role.created_at.tzinfo == timezone.utc
    assert abs(datetime.now(timezone.utc) - role.created_at) < timedelta(minutes=1)


def test_aware_datetimes_are_stored_as_utc_and_naive_ones_are_refused(session: Session) -> None:
    role = Role(name="night-shift")
    role.created_at = datetime(2030, 1, 1, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    session.add(role)
    session.commit()
    session.expunge_all()
    assert session.scalars(select(Role.created_at)).one() == datetime(
        2030, 1, 1, 7, 30, tzinfo=timezone.utc
    )

    session.add(Role(name="naive", created_at=datetime(2030, 1, 1)))
    with pytest.raises(StatementError, match="timezone-aware"):
        session.commit()


def test_email_addresses_are_unique(session: Session) -> None:
    session.add_all(
        [
            User(email="same@example.com", display_name="One"),
            User(email="same@example.com", display_name="Two"),
        ]
    )
    with pytest.raises(IntegrityError, match=r"uq_users_email|UNIQUE"):
        session.commit()


def test_the_core_table_links_users_and_roles_and_cascades_deletes(app_engine: Engine) -> None:
    with app_engine.begin() as connection:
        user_id = connection.execute(
            insert(User).values(email="bo@example.com", display_name="Bo").returning(User.id)
        ).scalar_one()
        role_id = connection.execute(
            insert(Role).values(name="editor").returning(Role.id)
        ).scalar_one()
        connection.execute(insert(user_roles).values(user_id=user_id, role_id=role_id))

        connection.execute(delete(User).where(User.id == user_id))

        assert connection.scalar(select(func.count()).select_from(user_roles)) == 0
