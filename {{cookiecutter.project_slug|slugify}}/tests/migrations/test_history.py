"""The history itself, read from the revision files without any database."""

from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

from tests.conftest import PROJECT_ROOT


def test_the_history_has_exactly_one_head() -> None:
    script = ScriptDirectory.from_config(Config(PROJECT_ROOT / "alembic.ini"))
    heads = [script.get_revision(head) for head in script.get_heads()]

    files = ", ".join(Path(head.path).name for head in heads if head is not None)
    assert len(heads) <= 1, f"several heads ({files}): join them with `alembic merge heads`"
