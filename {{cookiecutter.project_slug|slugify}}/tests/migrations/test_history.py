"""The history itself, read from the revision files without any database."""

from pathlib import Path

from alembic.script import ScriptDirectory


def test_the_history_has_exactly_one_head(scripts: ScriptDirectory) -> None:
    heads = [scripts.get_revision(head) for head in scripts.get_heads()]

    files = ", ".join(Path(head.path).name for head in heads if head is not None)
    assert len(heads) <= 1, f"several heads ({files}): join them with `alembic merge heads`"
