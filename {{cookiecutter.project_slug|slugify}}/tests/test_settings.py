"""Settings come from the environment, then .env, then the project's SQLite default."""

from pathlib import Path

import pytest
from sqlalchemy import make_url

from {{ cookiecutter.package_name }} import settings
from {{ cookiecutter.package_name }}.settings import (
    BARE_SCHEMES,
{%- if cookiecutter.database == "sqlite" %}
    DEFAULT_SQLITE_FILE,
{%- endif %}
    DRIVER,
    PROJECT_ROOT,
    DatabaseSettings,
    MigrationSettings,
    SettingsError,
    find_project_root,
    load_migration_settings,
    load_settings,
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for part in ("URL", "HOST", "PORT", "USER", "PASSWORD", "NAME"):
        monkeypatch.delenv(f"DATABASE_{part}", raising=False)
    for limit in ("LOCK_WAIT", "LOCK_TIMEOUT", "STATEMENT_TIMEOUT", "CONNECT_TIMEOUT"):
        monkeypatch.delenv(f"MIGRATION_{limit}", raising=False)


{% if cookiecutter.database == "sqlite" -%}
def test_without_settings_the_database_is_the_sqlite_file_in_the_project_root() -> None:
    settings = DatabaseSettings(_env_file=None)

    assert settings.sqlalchemy_url.database == str(DEFAULT_SQLITE_FILE)
    assert DEFAULT_SQLITE_FILE.parent == PROJECT_ROOT
{%- else -%}
def test_without_settings_the_error_names_the_variable_to_set() -> None:
    settings = DatabaseSettings(_env_file=None)

    with pytest.raises(SettingsError, match=r"^DATABASE_URL is not set; set it to a URL such as"):
        _ = settings.sqlalchemy_url
{%- endif %}


@pytest.mark.parametrize(
    "scheme", [scheme for scheme, backend in BARE_SCHEMES.items() if DRIVER.startswith(backend)]
)
def test_a_url_without_a_driver_means_the_project_driver(
    monkeypatch: pytest.MonkeyPatch, scheme: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"{scheme}://user:secret@db.example.com:5000/app")

    url = load_settings().sqlalchemy_url

    assert url.drivername == DRIVER
    assert (url.username, url.password, url.host, url.port) == (
        "user",
        "secret",
        "db.example.com",
        5000,
    )


def test_a_relative_sqlite_path_is_anchored_at_the_project_root_whatever_the_cwd(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A stand-in project root, so that the directory the path names is made there.
    root, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    root.mkdir()
    elsewhere.mkdir()
    monkeypatch.setattr(settings, "PROJECT_ROOT", root)
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("DATABASE_URL", "sqlite:///data/app.sqlite3")

    url = DatabaseSettings(_env_file=None).sqlalchemy_url

    assert url.database == str(root / "data" / "app.sqlite3")
    assert (root / "data").is_dir()
    assert list(elsewhere.iterdir()) == []


def test_the_project_root_is_this_project_which_holds_alembic_ini() -> None:
    assert Path(__file__).resolve().parents[1] == PROJECT_ROOT
    assert (PROJECT_ROOT / "alembic.ini").is_file()


@pytest.mark.parametrize(
    ("marker", "settings_file"),
    [("pyproject.toml", "src/app/settings.py"), ("alembic.ini", "app/settings.py")],
)
def test_the_project_root_is_the_nearest_directory_with_a_root_marker(
    tmp_path: Path, marker: str, settings_file: str
) -> None:
    (tmp_path / "pyproject.toml").touch()  # an enclosing repository's: the nearer one wins
    project = tmp_path / "service"
    (project / settings_file).parent.mkdir(parents=True)
    (project / marker).touch()

    assert find_project_root(project / settings_file) == project


def test_settings_installed_away_from_a_project_take_the_working_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    installed = tmp_path / "site-packages" / "app" / "settings.py"
    installed.parent.mkdir(parents=True)
    monkeypatch.chdir(tmp_path)

    assert find_project_root(installed) == tmp_path


def test_dotenv_is_read_and_its_unrelated_keys_are_ignored(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "SECRET_KEY=not-ours\nDATABASE_URL=sqlite:////srv/app.sqlite3\nDEBUG=1\n",
        encoding="utf-8",
    )

    settings = DatabaseSettings(_env_file=dotenv)

    assert settings.sqlalchemy_url.database == "/srv/app.sqlite3"


def test_the_environment_wins_over_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("DATABASE_URL=sqlite:////from/dotenv.sqlite3\n", encoding="utf-8")
    monkeypatch.setenv("DATABASE_URL", "sqlite:////from/environment.sqlite3")

    settings = DatabaseSettings(_env_file=dotenv)

    assert settings.sqlalchemy_url.database == "/from/environment.sqlite3"


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ("", "DATABASE_URL is empty"),
        ("   ", "DATABASE_URL is empty"),
        ("not a url s3cr3t", "DATABASE_URL is not a database URL"),
    ],
)
def test_a_bad_url_fails_in_one_line_naming_the_variable_and_hiding_the_value(
    monkeypatch: pytest.MonkeyPatch, value: str, complaint: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", value)

    with pytest.raises(SettingsError) as raised:
        load_settings()

    message = str(raised.value)
    assert message.startswith(complaint)
    assert "\n" not in message
    assert "s3cr3t" not in message


# The fix for a URL whose driver is not installed, by this project's driver.
SAME_DATABASE_FIX = {
    "sqlite": "use sqlite:// (this project's driver)",
    "sqlite+aiosqlite": "use sqlite+aiosqlite:// (this project's driver) or sqlite://",
    "postgresql+psycopg": "use postgresql+psycopg:// (this project's driver) or postgresql://",
    "mysql+pymysql": "use mysql+pymysql:// (this project's driver) or mysql://",
    "mysql+aiomysql": "use mysql+aiomysql:// (this project's driver) or mysql://",
}


@pytest.mark.parametrize(
    ("scheme", "fix"),
    [
        (f"{DRIVER.split('+')[0]}+nosuchdriver", SAME_DATABASE_FIX[DRIVER]),
        (
            "nosuchdatabase",
            f"install it, or use a {DRIVER.split('+')[0]}:// URL (this project's database)",
        ),
    ],
)
def test_a_url_whose_driver_is_not_installed_is_named_with_the_url_to_use(
    monkeypatch: pytest.MonkeyPatch, scheme: str, fix: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"{scheme}://user:s3cr3t@db.example.com/app")

    with pytest.raises(SettingsError) as raised:
        load_settings()

    assert str(raised.value) == (
        f"DATABASE_URL names the driver {scheme!r}, which is not installed; {fix}"
    )


def test_the_url_is_kept_out_of_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite:////tmp/s3cr3t.sqlite3")

    assert "s3cr3t" not in repr(load_settings())


def test_parts_build_the_url_and_the_password_needs_no_escaping(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    password = "p%40ss@w:rd/50%?#"
    for part, value in {
        "HOST": "db.example.com",
        "PORT": "6000",
        "USER": "app",
        "PASSWORD": password,
        "NAME": "app",
    }.items():
        monkeypatch.setenv(f"DATABASE_{part}", value)

    settings = load_settings()
    url = settings.sqlalchemy_url

    assert (url.drivername, url.host, url.port, url.username) == (
        DRIVER,
        "db.example.com",
        6000,
        "app",
    )
    assert url.database and Path(url.database).name == "app"
    assert url.password == password
    assert make_url(url.render_as_string(hide_password=False)).password == password
    assert password not in repr(settings)


def test_a_port_that_is_not_a_number_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_HOST", "db.example.com")
    monkeypatch.setenv("DATABASE_PORT", "fifty")

    with pytest.raises(SettingsError, match=r"^DATABASE_PORT .*integer"):
        load_settings()


def test_a_url_and_parts_together_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite:////srv/app.sqlite3")
    monkeypatch.setenv("DATABASE_HOST", "db.example.com")

    with pytest.raises(SettingsError, match="DATABASE_URL and DATABASE_HOST are both set"):
        _ = load_settings().sqlalchemy_url


@pytest.mark.parametrize(
    ("variable", "value", "complaint"),
    [
        ("DATABASE_URL", "nosuchdb://u:s3cr3t@h/d", "DATABASE_URL names the driver 'nosuchdb'"),
        ("DATABASE_URL", "sqlite+nosuch:///s3cr3t", "DATABASE_URL names the driver 'sqlite+"),
        ("DATABASE_URL", "localhost:5432/app", "DATABASE_URL is not a database URL"),
        ("DATABASE_PASSWORD", "", "DATABASE_PASSWORD is empty"),
        ("DATABASE_PORT", "0", "DATABASE_PORT is not valid"),
        ("MIGRATION_LOCK_WAIT", "soon", "MIGRATION_LOCK_WAIT is not valid"),
        ("MIGRATION_LOCK_TIMEOUT", "-1", "MIGRATION_LOCK_TIMEOUT is not valid"),
        ("MIGRATION_STATEMENT_TIMEOUT", "1 minute", "MIGRATION_STATEMENT_TIMEOUT is not valid"),
        ("MIGRATION_CONNECT_TIMEOUT", "0", "MIGRATION_CONNECT_TIMEOUT is not valid"),
        ("MIGRATION_LOCK_TIMEOUT", "inf", "MIGRATION_LOCK_TIMEOUT is not valid"),
        ("MIGRATION_STATEMENT_TIMEOUT", "0.0001", "MIGRATION_STATEMENT_TIMEOUT is under a milli"),
        ("DATABASE_URL", f"{DRIVER}://u:s3cr3t@h/app%00x", "DATABASE_URL has a control char"),
        ("DATABASE_URL", f"{DRIVER}://u@h/app\rs3cr3t", "DATABASE_URL has a control character"),
        ("DATABASE_HOST", "h\ns3cr3t", "DATABASE_HOST has a control character"),
        ("DATABASE_PASSWORD", "s3cr3t\x1b", "DATABASE_PASSWORD has a control character"),
        ("DATABASE_URL", f"{DRIVER}://u@h/app?password=s3cr3t", "DATABASE_URL carries a secret"),
        ("DATABASE_URL", f"{DRIVER}://u:s3@cr3t@h/app", "DATABASE_URL is not a database URL"),
        ("DATABASE_URL", f"{DRIVER}://u@bad..host/app", "DATABASE_URL has a host name with an"),
        ("DATABASE_HOST", "bad..host", "DATABASE_HOST has a host name with an empty"),
    ],
)
def test_a_malformed_setting_is_named_with_its_fix_in_one_line(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, complaint: str
) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(SettingsError) as raised:
        load_settings()
        load_migration_settings()

    message = str(raised.value)
    assert message.startswith(complaint)
    assert "; " in message  # the fix follows the complaint
    assert "\n" not in message
    assert "s3cr3t" not in message


def test_surrounding_whitespace_is_dropped_from_every_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for part, value in {
        "HOST": " db.example.com\n",
        "PORT": "6000 ",
        "USER": "\tapp",
        "PASSWORD": "s3cr3t\n",  # a secret file's trailing newline
        "NAME": "app ",
    }.items():
        monkeypatch.setenv(f"DATABASE_{part}", value)

    url = load_settings().sqlalchemy_url

    assert (url.host, url.port, url.username) == ("db.example.com", 6000, "app")
    assert url.password == "s3cr3t"
    assert url.database and Path(url.database).name == "app"


def test_parts_without_a_database_name_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_HOST", "db.example.com")
    monkeypatch.setenv("DATABASE_USER", "app")

    with pytest.raises(SettingsError, match=r"^DATABASE_NAME is not set but DATABASE_HOST is"):
        _ = load_settings().sqlalchemy_url


def test_migration_limits_have_safe_defaults_and_read_seconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    defaults = MigrationSettings(_env_file=None)
    monkeypatch.setenv("MIGRATION_LOCK_TIMEOUT", "2.5")

    assert (defaults.lock_wait, defaults.lock_timeout, defaults.statement_timeout) == (600, 10, 0)
    assert load_migration_settings().lock_timeout == 2.5
