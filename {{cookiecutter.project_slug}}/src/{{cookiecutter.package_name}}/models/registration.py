"""Refuses a model module that exists but is not imported, so autogenerate cannot miss it."""

import importlib
import pkgutil
import sys
from collections.abc import Iterable

from sqlalchemy import MetaData


def require_all_imported(package: str, package_path: Iterable[str], metadata: MetaData) -> None:
    """Raise ImportError naming each module of ``package`` that defines tables but was not imported.

    A model module nobody imports never registers its tables, and autogenerate would then
    write a migration that ignores or even drops them. Helper modules without tables pass.
    """
    unregistered = []
    for module in pkgutil.iter_modules(package_path):
        name = f"{package}.{module.name}"
        if name in sys.modules:
            continue
        tables_before = set(metadata.tables)
        importlib.import_module(name)
        if set(metadata.tables) != tables_before:
            unregistered.append(module.name)
    if unregistered:
        modules = ", ".join(f"{package}.{name}" for name in unregistered)
        raise ImportError(
            f"model module {modules} is not imported by {package}, so Alembic cannot see "
            f"its tables; import its models in src/{package.replace('.', '/')}/__init__.py"
        )
