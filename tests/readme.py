"""Reading a README the way the tests need it: a section, its Python blocks."""

import re


def section(readme: str, heading: str) -> str:
    """The text under ``heading`` (say "### Two heads"), up to the next heading of levels 1-3."""
    return re.split(r"\n#{1,3} ", readme.split(f"\n{heading}\n", 1)[1], maxsplit=1)[0]


def python_blocks(readme: str, heading: str) -> list[str]:
    """The ```python blocks of the README's section under ``heading``."""
    return re.findall(r"```python\n(.*?)```", section(readme, heading), re.DOTALL)
