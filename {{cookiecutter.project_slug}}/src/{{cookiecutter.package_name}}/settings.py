"""Database settings, read from the environment and then from the project's .env file."""

from pathlib import Path

from pydantic import SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

# src/<package>/settings.py -> the project root, wherever the command runs from.
PROJECT_ROOT = Path(__file__).resolve().parents[2]

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
    port: int | None = None
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
            make_url(text)
        except ArgumentError:
            raise ValueError(f"is not a database URL; expected a form like {EXAMPLE_URL}") from None
        return SecretStr(text)

    @property
    def sqlalchemy_url(self) -> URL:
        """The URL to connect with; a relative SQLite path is taken from the project root."""
        if self.url is not None:
            if self.host is not None:
                raise SettingsError(
                    "DATABASE_URL and DATABASE_HOST are both set; keep the URL or the parts"
                )
            url = with_project_driver(make_url(self.url.get_secret_value()))
        elif self.host is not None or self.name is not None:
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


def load_settings() -> DatabaseSettings:
    """Read the settings, turning a validation failure into one line that names the variable."""
    try:
        return DatabaseSettings()
    except ValidationError as error:
        problems = "; ".join(
            f"DATABASE_{'_'.join(map(str, issue['loc'])).upper()} "
            + issue["msg"].removeprefix("Value error, ")
            for issue in error.errors()
        )
        raise SettingsError(problems) from None
