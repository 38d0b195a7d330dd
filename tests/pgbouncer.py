"""A real PgBouncer on a free loopback port, in front of the test PostgreSQL, for pooler tests."""

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from tests.servers import free_port, skip_unless_answering

# How long PgBouncer may take to answer after it starts, and how often to ask.
START_SECONDS = 10
POLL_SECONDS = 0.1

CONFIG = """\
[databases]
* = host={host} port={port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen_port}
unix_socket_dir =
auth_type = trust
auth_file = {root}/userlist.txt
pool_mode = {pool_mode}
default_pool_size = {pool_size}
max_client_conn = 100
logfile = {root}/pgbouncer.log
"""


@contextmanager
def pgbouncer(server_url: str, pool_mode: str, pool_size: int = 2) -> Iterator[int]:
    """Start PgBouncer in ``pool_mode`` in front of ``server_url``'s server; yield its port.

    Every database of that server is reachable through it, by the same user names, with
    ``pool_size`` server connections per database and user. Skips, visibly, where the
    pgbouncer program is missing. Stopped (and its files removed) on the way out.
    """
    skip_unless_answering(server_url)
    program = shutil.which("pgbouncer") or shutil.which("/usr/sbin/pgbouncer")
    if program is None:
        pytest.skip("no pgbouncer program (Debian: apt-get install pgbouncer)")
    server = urlsplit(server_url)
    root = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    port = free_port()
    (root / "userlist.txt").write_text(f'"{server.username}" ""\n', encoding="utf-8")
    (root / "pgbouncer.ini").write_text(
        CONFIG.format(
            host=server.hostname, port=server.port or 5432, listen_port=port, root=root,
            pool_mode=pool_mode, pool_size=pool_size,
        ),
        encoding="utf-8",
    )  # fmt: skip
    as_owner: list[str] = []
    if os.geteuid() == 0:  # PgBouncer refuses to run as root: it becomes postgres itself.
        as_owner = ["-u", "postgres"]
        for path in (root, *root.iterdir()):
            shutil.chown(path, "postgres")
    process = subprocess.Popen(
        [program, *as_owner, str(root / "pgbouncer.ini")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_answering(process, port, server.username or "", root)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


def _wait_until_answering(
    process: subprocess.Popen[bytes], port: int, user: str, root: Path
) -> None:
    """Until a query through PgBouncer answers; fail with its log if it does not in time."""
    deadline = time.monotonic() + START_SECONDS
    while True:
        try:
            with psycopg.connect(
                host="127.0.0.1", port=port, user=user, dbname="postgres", connect_timeout=2
            ) as connection:
                connection.execute("SELECT 1")
            return
        except psycopg.OperationalError:
            log = root / "pgbouncer.log"
            if process.poll() is not None or time.monotonic() >= deadline:
                text = log.read_text(encoding="utf-8") if log.exists() else "(no log)"
                pytest.fail(f"pgbouncer did not answer on port {port}:\n{text}")
            time.sleep(POLL_SECONDS)
