"""Database settings, read from the environment and then from the project's .env file."""

import unicodedata
from pathlib import Path
from typing import Any, TypeVar

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

# Files that mark the project root, where .env lives and relative SQLite paths start.
ROOT_MARKERS = ("alembic.ini", "pyproject.toml")


def find_project_root(start: Path) -> Path:
    """The nearest directory above ``start`` holding a root marker, else the working directory.

    Found from this file rather than the working directory, so that every command finds the
    same .env and SQLite file wherever it runs, in a src/ layout or a flat one alike.
    """
    for directory in start.parents:
        if any((directory / marker).is_file() for marker in ROOT_MARKERS):
            return directory
    return Path.cwd()  # installed away from the project, say in a container's site-packages


PROJECT_ROOT = find_project_root(Path(__file__).resolve())

# The driver this project was baked with. Hosting platforms hand out URLs without one
# (postgres://, mysql://): those mean this driver.
DRIVER = "{{ cookiecutter.__driver }}"
{%- if cookiecutter.database == "sqlite" %}
DEFAULT_SQLITE_FILE = PROJECT_ROOT / "{{ cookiecutter.package_name }}.sqlite3"
EXAMPLE_URL = "sqlite:///{{ cookiecutter.package_name }}.sqlite3"
{%- elif cookiecutter.database == "postgresql" %}
EXAMPLE_URL = "postgresql://user:password@localhost:5432/{{ cookiecutter.package_name }}"
{%- else %}
EXAMPLE_URL = "mysql://user:password@localhost:3306/{{ cookiecutter.package_name }}"
{%- endif %}
BARE_SCHEMES = {
    "postgres": "postgresql",
    "postgresql": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
    "sqlite": "sqlite",
}


# Query parameters through which drivers take a secret. SQLAlchemy hides only the URL's own
# password when it prints a URL or an engine, so a secret in the query would be shown.
SECRET_QUERY_KEYS = ("password", "passwd", "sslpassword")
# Query parameters naming a TLS file (libpq's, then PyMySQL's and aiomysql's). A missing one
# would end in a driver's traceback rather than in a line naming it.
TLS_FILE_KEYS = ("sslrootcert", "sslcert", "sslkey", "sslcrl", "ssl_ca", "ssl_cert", "ssl_key")


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it and says how to fix it."""


def has_control_character(text: str) -> bool:
    """Whether ``text`` holds NUL, CR, LF or another control character.

    A driver may cut its connection string at one and so reach another database than the
    one named, and a log line may be forged with one.
    """
    return any(unicodedata.category(character) == "Cc" for character in text)


def host_problem(host: str) -> str | None:
    """Why ``host`` (one name, or a comma-separated list) cannot be resolved, if it cannot."""
    for entry in host.split(","):
        if entry.startswith("/") or ":" in entry:
            continue  # a Unix socket directory, or an IPv6 address
        try:
            entry.encode("idna")
        except UnicodeError:
            return (
                "has a host name with an empty or over-long label (two dots in a row, say); "
                "correct the host name"
            )
    return None


def url_problem(url: URL) -> str | None:
    """What is wrong with a parsed URL's parts, without quoting any of them."""
    parts = {
        "user name": url.username,
        "password": url.password if isinstance(url.password, str) else None,
        "host": url.host,
        "database name": url.database,
    }
    for part, value in parts.items():
        if value is not None and has_control_character(value):
            return (
                f"has a control character (NUL, CR, LF or the like) in its {part}, even "
                "percent-encoded; remove it"
            )
    for key, values in url.query.items():
        if key.lower() in SECRET_QUERY_KEYS:
            return (
                f"carries a secret in its query ({key}=), where it would be printed with the "
                "URL; give the password as user:password@ in the URL, or in DATABASE_PASSWORD"
            )
        texts = (values,) if isinstance(values, str) else values
        if any(has_control_character(text) for text in (key, *texts)):
            return "has a control character (NUL, CR, LF or the like) in its query; remove it"
        is_file = (text == "system" or Path(text).is_file() for text in texts)
        if key.lower() in TLS_FILE_KEYS and not all(is_file):
            return (
                f"names a TLS file in its query ({key}=) that is not a file here; correct "
                "the path (a relative one starts at the working directory)"
            )
    return host_problem(url.host) if url.host else None


def with_project_driver(url: URL) -> URL:
    """``url`` with the project's driver when it names the project's database without one."""
    if BARE_SCHEMES.get(url.drivername) == DRIVER.split("+")[0]:
        return url.set(drivername=DRIVER)
    return url


def driver_connect_args(url: URL) -> dict[str, Any]:
    """Connection arguments that ``url`` alone would hand to the driver wrongly."""
    if url.get_backend_name() == "mysql" and url.password:
        # PyMySQL and aiomysql encode a text password as Latin-1, while the server hashed
        # its UTF-8 bytes: hand over the text whose Latin-1 bytes are those UTF-8 bytes.
        return {"password": url.password.encode("utf-8").decode("latin-1")}
    return {}


def _driver_fix(url: URL) -> str:
    """What to do about ``url``, whose driver is not installed."""
    backend = DRIVER.split("+")[0]
    if BARE_SCHEMES.get(url.get_backend_name()) != backend:
        return f"install it, or use a {backend}:// URL (this project's database)"
    bare = f" or {backend}://" if "+" in DRIVER else ""
    return f"use {DRIVER}:// (this project's driver){bare}"


class DatabaseSettings(BaseSettings):
    """Where the database lives: ``DATABASE_URL``, or its parts in ``DATABASE_HOST`` and co.

    The parts suit deployments that hand out credentials separately: the password is taken
    as it is (no URL escaping needed for ``%``, ``@``, ``/`` and the like).
    """

    model_config = SettingsConfigDict(
        env_prefix="DATABASE_",
        env_file=PROJECT_ROOT / ".env",
        extra="ignore",
        hide_input_in_errors=True,
    )

    url: SecretStr | None = None
    host: str | None = None
    port: int | None = Field(default=None, gt=0, lt=65536)
    user: str | None = None
    password: SecretStr | None = None
    name: str | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _clean_text(cls, value: Any, info: ValidationInfo) -> Any:
        """Every variable alike: surrounding whitespace (a secret file's newline) is dropped;
        an empty value or a control character is refused, without echoing the value."""
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if not isinstance(value, str):
            return value
        value = value.strip()
        if not value:
            example = f"give a URL such as {EXAMPLE_URL}" if info.field_name == "url" else "set it"
            raise ValueError(f"is empty; {example}, or unset it")
        if has_control_character(value):
            raise ValueError("has a control character (NUL, CR, LF or the like); remove it")
        return value

    @field_validator("host")
    @classmethod
    def _resolvable(cls, value: str | None) -> str | None:
        problem = host_problem(value) if value else None
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("url")
    @classmethod
    def _must_parse(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        text = value.get_secret_value()
        not_a_url = (
            f"is not a database URL; expected a form like {EXAMPLE_URL} "
            "(percent-encode '@', ':', '/' and '%' in the user name and password)"
        )
        try:
            url = make_url(text)
        except (ArgumentError, ValueError):
            # ValueError: a port that is not a number, where the text after a raw ':' or '@'
            # in the password may have been taken for one. Quote nothing of it.
            raise ValueError(not_a_url) from None
        if url.host and "@" in url.host:
            raise ValueError(not_a_url)  # the rest of a password holding a raw '@'
        problem = url_problem(url)
        if problem:
            raise ValueError(problem)
        try:
            with_project_driver(url).get_dialect().import_dbapi()
        except (NoSuchModuleError, ImportError):
            raise ValueError(
                f"names the driver {url.drivername!r}, which is not installed; {_driver_fix(url)}"
            ) from None
        return SecretStr(text)

    @property
    def sqlalchemy_url(self) -> URL:
        """The URL to connect with; a relative SQLite path is taken from the project root.

        Its directory is made there if missing, so ``sqlite:///data/app.sqlite3`` just works.
        """
        parts = {"HOST": self.host, "PORT": self.port, "USER": self.user, "NAME": self.name}
        given = [name for name, value in parts.items() if value is not None]
        if self.password is not None:
            given.append("PASSWORD")
        if self.url is not None:
            if given:
                raise SettingsError(
                    f"DATABASE_URL and DATABASE_{given[0]} are both set; "
                    "keep the URL or the parts, not both"
                )
            url = with_project_driver(make_url(self.url.get_secret_value()))
        elif given:
            if self.name is None:
                raise SettingsError(
                    f"DATABASE_NAME is not set but DATABASE_{given[0]} is; "
                    "set DATABASE_NAME to the database to use, or unset the other parts"
                )
            url = URL.create(
                DRIVER,
                username=self.user,
                password=self.password.get_secret_value() if self.password else None,
                host=self.host,
                port=self.port,
                database=self.name,
            )
        else:
{%- if cookiecutter.database == "sqlite" %}
            url = URL.create(DRIVER, database=str(DEFAULT_SQLITE_FILE))
{%- else %}
            raise SettingsError(
                f"DATABASE_URL is not set; set it to a URL such as {EXAMPLE_URL}, "
                "or set DATABASE_HOST, DATABASE_USER, DATABASE_PASSWORD and DATABASE_NAME"
            )
{%- endif %}
        database = url.database
        if url.get_backend_name() == "sqlite" and database and database != ":memory:":
            path = Path(database)
            if not path.is_absolute():
                path = PROJECT_ROOT / path
                # SQLite creates a missing file, not its directory (data/ of data/app.sqlite3).
                path.parent.mkdir(parents=True, exist_ok=True)
                url = url.set(database=str(path))
        return url


def require_async_driver(url: URL) -> URL:
    """``url``, if its driver works with create_async_engine (psycopg works either way).

    Only connecting needs it: ``--sql`` and the tests' synchronous connections take any driver.
    """
    if not url.get_dialect().get_async_dialect_cls(url).is_async:
        raise SettingsError(
            f"DATABASE_URL names the driver {url.drivername!r}, which cannot run asynchronously "
            f"as this project does; use {DRIVER}:// (this project's driver)"
        )
    return url


# PostgreSQL keeps lock_timeout and statement_timeout in milliseconds in a 32-bit integer
# (24.8 days); MySQL and PyMySQL accept no wait longer than a year.
LONGEST_SERVER_TIMEOUT = 2_147_483
A_YEAR = 31_536_000


class MigrationSettings(BaseSettings):
    """How ``alembic`` waits on a shared database, in seconds (``MIGRATION_*`` variables).

    Replicas deploying at once queue on a lock so that one of them migrates; the rest find
    the work done. A migration stuck behind another session's table lock fails instead of
    hanging, and so does a statement that runs too long, when those limits are set.
    """

    model_config = SettingsConfigDict(
        env_prefix="MIGRATION_",
        env_file=PROJECT_ROOT / ".env",
        extra="ignore",
        hide_input_in_errors=True,
    )

    lock_wait: float = Field(default=600, ge=0, le=A_YEAR, allow_inf_nan=False)
    """How long to wait for another process's migration to finish (0: do not wait)."""
    lock_timeout: float = Field(default=10, ge=0, le=LONGEST_SERVER_TIMEOUT, allow_inf_nan=False)
    """How long one statement may wait for a lock held by another session (0: no limit)."""
    statement_timeout: float = Field(
        default=0, ge=0, le=LONGEST_SERVER_TIMEOUT, allow_inf_nan=False
    )
    """How long one statement may run (0: no limit)."""
    connect_timeout: float = Field(default=10, gt=0, le=A_YEAR, allow_inf_nan=False)
    """How long to wait for the database server to answer."""
    idle_timeout: float = Field(default=60, ge=0, le=A_YEAR, allow_inf_nan=False)
    """How long the server keeps a migration session whose client went silent (0: no limit)."""

    @field_validator("lock_timeout", "statement_timeout", "idle_timeout")
    @classmethod
    def _whole_milliseconds(cls, value: float) -> float:
        # The servers count milliseconds and read 0 as "no limit": a smaller limit would
        # silently become none.
        if 0 < value < 0.001:
            raise ValueError(
                "is under a millisecond, which the servers read as no limit; "
                "set it to 0.001 or more, or to 0 for no limit"
            )
        return value


# What a valid value looks like, for the error line of a malformed one.
EXPECTED = {
    "port": "a port number such as 5432",
    "lock_wait": "a number of seconds such as 600",
    "lock_timeout": "a number of seconds such as 10 (0 for no limit)",
    "statement_timeout": "a number of seconds such as 300 (0 for no limit)",
    "connect_timeout": "a number of seconds such as 10",
    "idle_timeout": "a number of seconds such as 60 (0 for no limit)",
}

Settings = TypeVar("Settings", bound=BaseSettings)


def load(settings_class: type[Settings]) -> Settings:
    """Read settings, turning a validation failure into one line that names the variable."""
    try:
        return settings_class()
    except ValidationError as error:
        prefix = settings_class.model_config.get("env_prefix", "")
        problems = "; ".join(_explain(prefix, issue) for issue in error.errors())
        raise SettingsError(problems) from None


def _explain(prefix: str, issue: ErrorDetails) -> str:
    field = "_".join(map(str, issue["loc"]))
    variable = f"{prefix}{field}".upper()
    if issue["type"] == "value_error":
        return f"{variable} {issue['msg'].removeprefix('Value error, ')}"
    why = issue["msg"][:1].lower() + issue["msg"][1:]
    return f"{variable} is not valid ({why}); set it to {EXPECTED.get(field, 'a valid value')}"


def load_settings() -> DatabaseSettings:
    """The database settings; a missing or malformed one raises a one-line SettingsError."""
    return load(DatabaseSettings)


def load_migration_settings() -> MigrationSettings:
    """The migration settings; a malformed one raises a one-line SettingsError."""
    return load(MigrationSettings)
