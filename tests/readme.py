"""Reading a README: its sections."""

import re


def section(readme: str, heading: str) -> str:
    """The text under ``heading`` (say "### Two heads"), up to the next heading of levels 1-3."""
    return re.split(r"\n#{1,3} ", readme.split(f"\n{heading}\n", 1)[1], maxsplit=1)[0]
