"""Database settings, read from the environment and then from the project's .env file."""

from pathlib import Path
from typing import Any, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator
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


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it and says how to fix it."""


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

    @field_validator("url")
    @classmethod
    def _must_parse(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        text = value.get_secret_value().strip()
        if not text:
            raise ValueError(f"is empty; give a URL such as {EXAMPLE_URL}, or unset it")
        try:
            url = make_url(text)
        except ArgumentError:
            raise ValueError(f"is not a database URL; expected a form like {EXAMPLE_URL}") from None
        try:
            with_project_driver(url).get_dialect().import_dbapi()
        except (NoSuchModuleError, ImportError):
            raise ValueError(
                f"names the driver {url.drivername!r}, which is not installed; "
                f"use {DRIVER}:// (this project's driver) or {DRIVER.split('+')[0]}://"
            ) from None
        return SecretStr(text)

    @field_validator("password")
    @classmethod
    def _not_empty(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value():
            raise ValueError("is empty; set the password, or unset it for a user without one")
        return value

    @property
    def sqlalchemy_url(self) -> URL:
        """The URL to connect with; a relative SQLite path is taken from the project root."""
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
                url = url.set(database=str(PROJECT_ROOT / path))
        return url


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

    lock_wait: float = Field(default=600, ge=0)
    """How long to wait for another process's migration to finish (0: do not wait)."""
    lock_timeout: float = Field(default=10, ge=0)
    """How long one statement may wait for a lock held by another session (0: no limit)."""
    statement_timeout: float = Field(default=0, ge=0)
    """How long one statement may run (0: no limit)."""
    connect_timeout: float = Field(default=10, gt=0)
    """How long to wait for the database server to answer."""
    idle_timeout: float = Field(default=60, ge=0)
    """How long the server keeps a migration session whose client went silent (0: no limit)."""


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
