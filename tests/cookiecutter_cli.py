"""Running cookiecutter as a user would, with a config of the test's own."""

from pathlib import Path


def cookiecutter_config(tmp_path: Path) -> Path:
    """A cookiecutter config of the test's own: no user defaults, clones under tmp_path."""
    config = tmp_path / "cookiecutter.yaml"
    config.write_text(
        f"cookiecutters_dir: {tmp_path / 'clones'}\nreplay_dir: {tmp_path / 'replay'}\n",
        encoding="utf-8",
    )
    return config
