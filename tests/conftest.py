"""Fixtures for the template's tests: bake a project, give it a virtualenv, run its tools."""

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from uv import find_uv_bin

from tests.servers import skip_unless_answering

TEMPLATE_ROOT = Path(__file__).resolve().parents[1]

# Every supported combination of answers, as overrides of the defaults with a readable id.
COMBINATIONS: dict[str, dict[str, Any]] = {
    "sqlite-default": {},
    "sqlite-without-examples": {"example_models": False},
    "sqlite-async": {"async_driver": True},
    "postgresql": {"database": "postgresql"},
    "postgresql-async": {"database": "postgresql", "async_driver": True},
    "mysql": {"database": "mysql"},
    "mysql-async": {"database": "mysql", "async_driver": True},
    "sqlite-flask": {"web_framework": "flask"},
    "postgresql-flask": {"database": "postgresql", "web_framework": "flask"},
    "mysql-flask-without-examples": {
        "database": "mysql",
        "web_framework": "flask",
        "example_models": False,
    },
    "sqlite-fastapi-async": {"web_framework": "fastapi", "async_driver": True},
    "sqlite-fastapi-without-examples": {"web_framework": "fastapi", "example_models": False},
    "postgresql-fastapi-async": {
        "database": "postgresql",
        "web_framework": "fastapi",
        "async_driver": True,
    },
    "postgresql-fastapi": {"database": "postgresql", "web_framework": "fastapi"},
    "mysql-fastapi": {"database": "mysql", "web_framework": "fastapi"},
    "mysql-fastapi-async": {"database": "mysql", "web_framework": "fastapi", "async_driver": True},
}

# Servers the baked projects' tests create their databases on. Driverless URLs on purpose:
# the baked settings must give them the project's driver, as hosting platforms expect.
SERVERS = {
    "postgresql": os.environ.get(
        "TEMPLATE_POSTGRESQL_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    ),
    "mysql": os.environ.get("TEMPLATE_MYSQL_URL", "mysql://root@127.0.0.1:3306/mysql"),
}

# Variables a developer's shell may carry that would point a baked project elsewhere, and
# one that would make every command in it compile SQLAlchemy, Alembic and pydantic afresh
# (some machines set it; a developer's does not, and uv sync leaves compiling to first use).
FOREIGN_VARIABLES = (
    "DATABASE_URL",
    "TEST_DATABASE_URL",
    "VIRTUAL_ENV",
    "PYTHONPATH",
    "PYTHONDONTWRITEBYTECODE",
)


def server_for(database: str) -> str | None:
    """The server URL for a baked project's tests; skip (visibly) if it does not answer."""
    if database == "sqlite":
        return None
    skip_unless_answering(SERVERS[database])
    return SERVERS[database]


@dataclass
class Project:
    """A baked project with its own virtualenv, and a way to run commands in it."""

    path: Path
    context: Mapping[str, Any]
    test_database_url: str | None = None

    @property
    def package(self) -> Path:
        return self.path / "src" / self.context["package_name"]

    def install(self) -> None:
        """Create .venv with the project and its dev group, as `uv sync` in its README does."""
        self.run(find_uv_bin(), "sync", "--quiet", "--python", sys.executable)

    def run(
        self,
        *command: str,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``command`` with the project's virtualenv first on PATH; fail loudly on error."""
        result = subprocess.run(
            command,
            cwd=cwd or self.path,
            env=self.environment(env),
            capture_output=True,
            text=True,
            timeout=600,
        )
        if check and result.returncode != 0:
            pytest.fail(
                f"`{' '.join(command)}` exited {result.returncode}\n"
                f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
            )
        return result

    def start(self, *command: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
        """Start ``command`` as ``run`` would, without waiting; its output and errors in one."""
        return subprocess.Popen(
            command,
            cwd=self.path,
            env=self.environment(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def environment(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        environment = {k: v for k, v in os.environ.items() if k not in FOREIGN_VARIABLES}
        venv_bin = self.path / ".venv" / "bin"
        environment["PATH"] = f"{venv_bin}{os.pathsep}{environment['PATH']}"
        environment["UV_PYTHON_DOWNLOADS"] = "never"
        if self.test_database_url:
            environment["TEST_DATABASE_URL"] = self.test_database_url
        environment.update(extra or {})
        return environment

    def write(self, relative: str, text: str) -> Path:
        path = self.path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def revisions(self) -> list[Path]:
        return sorted((self.path / "migrations" / "versions").glob("*.py"))


BakeProject = Callable[..., Project]


@pytest.fixture(scope="session", autouse=True)
def shared_mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One mypy cache for every bake a worker checks, as a developer's machine keeps one.

    Checking SQLAlchemy, pydantic and alembic from a cold cache is most of a mypy run; mypy
    still checks each bake's own files afresh (it compares their contents, not their paths).
    A cache per xdist worker, since mypy runs in a worker one at a time.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MYPY_CACHE_DIR", str(tmp_path_factory.mktemp("mypy-cache")))
        yield


@pytest.fixture
def bake(cookies: Any) -> BakeProject:
    """Bake a project from overrides of the default answers; fail with the reason if it breaks."""

    def bake(**answers: Any) -> Project:
        return bake_with(cookies, answers)

    return bake


def bake_with(cookies: Any, answers: dict[str, Any]) -> Project:
    """Bake with pytest-cookies; the project knows its test server, if its database has one."""
    result = cookies.bake(extra_context=answers)
    if result.exception is not None:
        pytest.fail(f"bake with {answers} failed: {result.exception!r}")
    server = server_for(result.context["database"])
    return Project(result.project_path, result.context, server)


@pytest.fixture(scope="module")
def baked(cookies_session: Any) -> Callable[[str], Project]:
    """The installed bake of a COMBINATIONS entry, made once per module."""
    projects: dict[str, Project] = {}

    def get(name: str) -> Project:
        if name not in projects:
            projects[name] = bake_with(cookies_session, COMBINATIONS[name])
            projects[name].install()
        return projects[name]

    return get


@pytest.fixture
def project(bake: BakeProject) -> Project:
    """The default project, installed and ready to run."""
    project = bake()
    project.install()
    return project


# Git as the tests run it: this identity, and none of the machine's own configuration.
GIT_ENVIRONMENT = {
    "GIT_AUTHOR_NAME": "Template Tests",
    "GIT_AUTHOR_EMAIL": "tests@example.invalid",
    "GIT_COMMITTER_NAME": "Template Tests",
    "GIT_COMMITTER_EMAIL": "tests@example.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(*arguments: str, cwd: Path, env: Mapping[str, str] | None = None) -> str:
    """Run git in ``cwd`` with the tests' identity (and ``env``, say a commit date); its output."""
    return subprocess.run(
        ["git", *arguments],
        cwd=cwd,
        env={**os.environ, **GIT_ENVIRONMENT, **(env or {})},
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def template_repository(repository: Path) -> Path:
    """A git repository holding the template's files as a fresh clone would see them."""
    listed = git("ls-files", "--cached", "--others", "--exclude-standard", "-z", cwd=TEMPLATE_ROOT)
    for relative in filter(None, listed.split("\0")):
        source = TEMPLATE_ROOT / relative
        if source.is_file():
            (repository / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repository / relative)
    git("init", "--quiet", cwd=repository)
    git("add", "--all", cwd=repository)
    git("commit", "--quiet", "-m", "template", cwd=repository)
    return repository


@pytest.fixture(scope="session")
def template_checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template as a git repository, shared by the tests that only read it."""
    return template_repository(tmp_path_factory.mktemp("template-repository"))


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups into the test ids
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Hand each test module to one xdist worker, so that its module-scoped bakes are made once;
    a module naming a parameter in ``WORKER_SPLIT`` goes out as one unit per value of it.

    A module of one expensive set-up per combination (a bake, an image) would otherwise keep
    one worker busy for minutes while the other idles at the end of the run.
    """
    for item in items:
        group = item.nodeid.split("::")[0]
        split = getattr(getattr(item, "module", None), "WORKER_SPLIT", None)
        callspec = getattr(item, "callspec", None)
        if split and callspec is not None and split in callspec.params:
            group += f"::{callspec.params[split]}"  # no "]": xdist would not see a group
        item.add_marker(pytest.mark.xdist_group(group))


def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    """Stop, rather than run for twice as long, if xdist lost the groups on the way."""
    if node.config.getvalue("dist") == "loadgroup" and ids and "@" not in ids[0]:
        pytest.exit(
            "pytest-xdist ignored the tests' groups (--dist loadgroup), as it does on pytest 9.2"
            " (pytest-xdist#1386); install the pytest that requirements-test.txt names",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )


def pytest_sessionstart(session: pytest.Session) -> None:
    """Refuse to bake from a template directory holding ignored files (caches, databases)."""
    ignored = subprocess.run(
        [
            "git",
            "ls-files",
            "--others",
            "--ignored",
            "--exclude-standard",
            "--directory",
            "{{cookiecutter.project_slug|slugify}}",
        ],
        cwd=TEMPLATE_ROOT,
        capture_output=True,
        text=True,
    ).stdout.split()
    if ignored:
        raise pytest.UsageError(
            f"the template directory holds ignored files that a bake would copy: {ignored}; "
            "delete them (git clean -fdX '{{cookiecutter.project_slug|slugify}}')"
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI, a skipped test (say, a database server that was not found) fails the run."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if os.environ.get("CI") and skipped and exitstatus == 0:
        reporter.write_line(f"CI: {len(skipped)} test(s) skipped; under CI a skip is a failure.")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
