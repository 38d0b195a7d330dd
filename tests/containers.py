"""A container engine for the tests: podman on runc, and a local stand-in for the Python image.

No registry is reachable from the machines the tests run on, so the official `python` image the
Dockerfiles default to cannot be pulled. The stand-in is Debian with its python3, made by
debootstrap from the mirror apt already uses, and kept in podman's store between runs.
`TEMPLATE_PYTHON_IMAGE` names another image to use instead (say, `python:3.13-slim` where a
registry answers).
"""

import fcntl
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

# crun fails on some kernels' cgroup layouts, runc works; host networking reaches the loopback
# database servers; the ulimits are what runc needs to start Python here.
ENGINE_SETTINGS = """\
[containers]
netns = "host"
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]

[engine]
runtime = "runc"
"""

# The host's CA bundle, which pip needs where TLS is intercepted; mounted for builds only.
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
STAND_IN_PACKAGES = "python3,python3-venv,python-is-python3"


@dataclass
class Engine:
    """podman with the tests' settings, and the base image the bakes' Dockerfiles build on."""

    settings: Path
    python_image: str = ""

    def environment(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return {**os.environ, "CONTAINERS_CONF": str(self.settings), **(extra or {})}

    def podman(
        self, *arguments: str, check: bool = True, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        return self.run("podman", *arguments, check=check, timeout=timeout)

    def run(
        self,
        *command: str,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
        timeout: float = 600,
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            command,
            cwd=cwd,
            env=self.environment(env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            pytest.fail(
                f"`{' '.join(command)}` exited {result.returncode}\n"
                f"--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-6000:]}"
            )
        return result

    def build_arguments(self) -> list[str]:
        """What every build gets: the stand-in base image, and the host's CA bundle for pip."""
        arguments = ["--build-arg", f"PYTHON_IMAGE={self.python_image}"]
        if HOST_CA_BUNDLE.is_file():
            arguments += ["--volume", f"{HOST_CA_BUNDLE}:{HOST_CA_BUNDLE}:ro"]
        return arguments

    def docker(self, directory: Path, compose_override: Path, run_options: list[str]) -> Path:
        """A `docker` command for the README's lines: podman, with the tests' base image in
        builds, ``run_options`` in runs, and podman-compose reading ``compose_override`` too.

        Returns the directory to put first on PATH.
        """
        build = shlex.join(self.build_arguments())
        compose = shlex.join(
            [
                sys.executable, "-m", "podman_compose",
                f"--podman-build-args={shlex.join(self.build_arguments()[2:])}",
                "-f", "compose.yaml", "-f", str(compose_override),
            ]
        )  # fmt: skip
        script = directory / "docker"
        script.write_text(
            "#!/bin/sh\n"
            'case "$1" in\n'
            f'  build) shift; exec podman build {build} "$@" ;;\n'
            f'  run) shift; exec podman run {shlex.join(run_options)} "$@" ;;\n'
            f'  compose) shift; exec {compose} "$@" ;;\n'
            '  *) exec podman "$@" ;;\n'
            "esac\n"
        )
        script.chmod(0o755)
        return directory

    def remove(self, *, containers: Iterable[str] = (), images: Iterable[str] = ()) -> None:
        for name in containers:
            self.podman("rm", "--force", "--time", "0", name, check=False)
        for image in images:
            self.podman("rmi", "--force", image, check=False)

    def close(self) -> None:
        """Drop the layers the tests' builds left (their images are removed by name; the base
        image stays, for the next run)."""
        self.podman("image", "prune", "--force", check=False)


def apt_mirror() -> tuple[str, str]:
    """The Debian mirror and release this machine's apt uses, for debootstrap."""
    release = re.search(
        r"^VERSION_CODENAME=(\S+)$", Path("/etc/os-release").read_text(), re.MULTILINE
    )
    if release is None:
        pytest.skip("the stand-in Python image is built with debootstrap, on Debian only")
    codename = release.group(1)
    sources = [*Path("/etc/apt/sources.list.d").glob("*.sources")]
    for source in sources:
        for stanza in source.read_text().split("\n\n"):
            fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", stanza, re.MULTILINE))
            if codename in fields.get("Suites", "").split() and "URIs" in fields:
                return fields["URIs"].split()[0], codename
    listing = Path("/etc/apt/sources.list")
    if listing.is_file():
        for line in listing.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "deb" and parts[2] == codename:
                return parts[1], codename
    return "http://deb.debian.org/debian", codename


def stand_in_python_image(engine: Engine) -> str:
    """The stand-in base image, built once per machine (under a lock: xdist workers share it)."""
    mirror, codename = apt_mirror()
    recipe = f"{codename} {mirror} {STAND_IN_PACKAGES} PIP_CERT"
    digest = hashlib.sha256(recipe.encode()).hexdigest()[:8]
    tag = f"localhost/template-test-python:{codename}-{digest}"
    lock_path = Path(tempfile.gettempdir()) / "template-test-python-image.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if engine.podman("image", "exists", tag, check=False).returncode == 0:
            return tag
        if shutil.which("debootstrap") is None:
            pytest.skip("debootstrap is not installed: it builds the stand-in Python image")
        if os.geteuid() != 0:
            pytest.skip("debootstrap needs root to build the stand-in Python image")
        root = Path(tempfile.mkdtemp(prefix="template-test-python-"))
        try:
            engine.run(
                "debootstrap", "--variant=minbase", f"--include={STAND_IN_PACKAGES}",
                codename, str(root / "rootfs"), mirror, timeout=900,
            )  # fmt: skip
            for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
                shutil.rmtree(root / "rootfs" / cache, ignore_errors=True)
            archive = root / "rootfs.tar"
            engine.run("tar", "-C", str(root / "rootfs"), "-cf", str(archive), ".")
            # pip takes the CA bundle the builds mount from the host (Debian's pip would use
            # its own certifi bundle, which does not know a TLS-intercepting proxy's CA).
            engine.podman(
                "import", "--change", f"ENV PIP_CERT={HOST_CA_BUNDLE}",
                "--change", 'CMD ["python3"]', str(archive), tag,
            )  # fmt: skip
        finally:
            shutil.rmtree(root, ignore_errors=True)
    return tag


@contextmanager
def container_engine(workspace: Path) -> Iterator[Engine]:
    """podman ready to build the bakes' Dockerfiles; skips, visibly, where it cannot."""
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed (see .ci/run for the packages the tests use)")
    settings = workspace / "containers.conf"
    settings.write_text(ENGINE_SETTINGS)
    engine = Engine(settings)
    probe = engine.podman("info", "--format", "{{.Host.OCIRuntime.Name}}", check=False)
    if probe.returncode != 0:
        pytest.skip(f"podman does not work here: {probe.stderr.strip()[-300:]}")
    try:
        engine.python_image = os.environ.get("TEMPLATE_PYTHON_IMAGE") or stand_in_python_image(
            engine
        )
        yield engine
    finally:
        engine.close()


def events(engine: Engine, since: str, names: list[str]) -> list[tuple[str, str]]:
    """The (container name, status) events of ``names`` since ``since``, oldest first."""
    listing = engine.podman(
        "events", "--stream=false", "--since", since, "--format", "json",
        "--filter", "type=container", timeout=60,
    ).stdout  # fmt: skip
    found = []
    for line in listing.splitlines():
        event = json.loads(line)
        if event.get("Name") in names:
            found.append((event["Name"], event["Status"]))
    return found
