"""Reading a README the way the tests need it: a section, its Python blocks, its commands."""

import re


def section(readme: str, heading: str) -> str:
    """The text under ``heading`` (say "### Two heads"), up to the next heading of levels 1-3."""
    return re.split(r"\n#{1,3} ", readme.split(f"\n{heading}\n", 1)[1], maxsplit=1)[0]


def python_blocks(readme: str, heading: str) -> list[str]:
    """The ```python blocks of the README's section under ``heading``."""
    return re.findall(r"```python\n(.*?)```", section(readme, heading), re.DOTALL)


def console_blocks(readme: str, heading: str | None = None) -> list[list[str]]:
    """The command lines of each of the README's console blocks (under ``heading``), without
    their comments."""
    if heading is not None:
        readme = section(readme, heading)
    blocks = re.findall(r"```console\n(.*?)```", readme, re.DOTALL)
    lines = ([re.sub(r"(^|\s+)# .*", "", line).strip() for line in b.splitlines()] for b in blocks)
    return [[line for line in block if line] for block in lines]


def console_commands(readme: str, heading: str | None = None) -> list[str]:
    """The command lines of the README's console blocks (under ``heading``), without comments."""
    return [line for block in console_blocks(readme, heading) for line in block]
