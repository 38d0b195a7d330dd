"""Fixtures: throwaway databases for this run, and Alembic configured to use them.

``TEST_DATABASE_URL`` names a server (any database on it that the user may connect to): each
database the tests need is created there and dropped when the run ends, also after a
failure; the database that URL names is never touched otherwise. Without it, a SQLite
project tests on SQLite files, and a server project's database tests skip and say why.
Migrations run through synchronous connections here (an async driver is swapped for its
synchronous twin); tests/migrations/test_async_env.py covers the async path, where baked.
"""

import gc
import os
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Connection, Engine, create_engine, make_url, pool

from {{ cookiecutter.package_name }}.settings import DRIVER, with_project_driver
from tests.migrations.runner import MigrationRunner

PROJECT_ROOT = Path(__file__).resolve().parents[1]

NewDatabase = Callable[[], URL]

SYNC_DRIVERS = {"sqlite+aiosqlite": "sqlite", "mysql+aiomysql": "mysql+pymysql"}
BACKEND = DRIVER.split("+")[0]


def pytest_sessionstart(session: pytest.Session) -> None:
    """Leave what the imports made (SQLAlchemy, Alembic, the project) out of the garbage
    collector's full passes: it lives as long as the run, and each pass would walk it again."""
    gc.freeze()


def synchronous(url: URL) -> URL:
    """``url`` with the project's driver, or its synchronous twin where that driver is async."""
    url = with_project_driver(url)
    return url.set(drivername=SYNC_DRIVERS.get(url.drivername, url.drivername))


def as_database_url(url: URL) -> str:
    """``url`` as DATABASE_URL would name it: with the project's own driver on its backend."""
    if url.get_backend_name() == BACKEND:
        url = url.set(drivername=DRIVER)
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def new_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NewDatabase]:
    """Makes empty databases for this run; every one is dropped when the run ends."""
    if not os.environ.get("TEST_DATABASE_URL") and BACKEND != "sqlite":
        pytest.skip(f"set TEST_DATABASE_URL to a {BACKEND} server to run the database tests")
    with throwaway_databases(tmp_path_factory.mktemp("databases")) as make:
        yield make


@contextmanager
def throwaway_databases(directory: Path) -> Iterator[NewDatabase]:
    """Empty databases on the server TEST_DATABASE_URL names, else SQLite files in
    ``directory``; every one is dropped when the block ends, also after an error."""
    server = os.environ.get("TEST_DATABASE_URL")
    if server:
        with _server_databases(synchronous(make_url(server))) as on_server:
            yield on_server
        return
    made: list[Path] = []

    def make() -> URL:
        path = directory / f"test-{len(made)}.sqlite3"
        made.append(path)
        return URL.create("sqlite", database=str(path))

    try:
        yield make
    finally:
        for path in made:
            path.unlink(missing_ok=True)


@contextmanager
def _server_databases(server: URL) -> Iterator[NewDatabase]:
    """New databases on the server ``server`` points at, created and dropped through it."""
    admin = create_engine(server, poolclass=pool.NullPool, isolation_level="AUTOCOMMIT")
    made: list[str] = []

    def make() -> URL:
        name = f"test_{uuid.uuid4().hex[:12]}"
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {name}")
        made.append(name)
        return server.set(database=name)

    def drop(name: str) -> None:
        force = " WITH (FORCE)" if server.get_backend_name() == "postgresql" else ""
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}{force}")

    try:
        yield make
    finally:
        # All at once: on PostgreSQL each DROP DATABASE waits for a checkpoint, which
        # concurrent ones share (seconds each on a busy server).
        with ThreadPoolExecutor(max_workers=8) as workers:
            list(workers.map(drop, made))
        admin.dispose()


def alembic_config_for(connection: Connection) -> Config:
    """The project's alembic.ini, with env.py handed ``connection`` instead of the settings."""
    config = Config(PROJECT_ROOT / "alembic.ini")
    config.attributes["connection"] = connection
    config.attributes["configure_logger"] = False
    return config


@pytest.fixture
def database_url(new_database: NewDatabase) -> URL:
    """An empty database of this test's own."""
    return new_database()


@pytest.fixture
def engine(database_url: URL) -> Iterator[Engine]:
    engine = create_engine(database_url, poolclass=pool.NullPool)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as connection:
        yield connection


@pytest.fixture
def alembic_config(connection: Connection) -> Config:
    return alembic_config_for(connection)


@pytest.fixture(scope="session")
def scripts() -> ScriptDirectory:
    """The project's revisions, read once for the whole run: each read loads every file."""
    return ScriptDirectory.from_config(Config(PROJECT_ROOT / "alembic.ini"))


@pytest.fixture
def runner(
    alembic_config: Config, connection: Connection, scripts: ScriptDirectory
) -> MigrationRunner:
    """Steps through the migrations on this test's database."""
    return MigrationRunner(alembic_config, connection, scripts)
