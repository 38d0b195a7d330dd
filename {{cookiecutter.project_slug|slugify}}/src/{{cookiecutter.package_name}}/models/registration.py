"""Refuses a model module that exists but is not imported, so autogenerate cannot miss it."""

import ast
import importlib
import pkgutil
import sys
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import MetaData


def require_all_imported(package: str, package_path: Iterable[str], metadata: MetaData) -> None:
    """Raise ImportError naming each module of ``package`` that defines tables but is not imported.

    A model module nobody imports never registers its tables, and autogenerate would then
    write a migration that ignores or even drops them. A module that ``__init__.py`` imports
    anywhere, even below this call, is registered; helper modules without tables pass.
    """
    imported_by_init = modules_imported_by_init(package)
    unregistered = []
    for module in pkgutil.iter_modules(package_path):
        name = f"{package}.{module.name}"
        if name in sys.modules or module.name in imported_by_init:
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


def modules_imported_by_init(package: str) -> set[str]:
    """The submodules that the package's ``__init__.py`` imports at its top level, anywhere in it.

    Read from the source rather than from ``sys.modules``, because ``__init__.py`` is still
    running when it calls the check: an import appended at its bottom has not happened yet.
    """
    init_file = getattr(sys.modules[package], "__file__", None)
    if init_file is None:
        return set()
    tree = ast.parse(Path(init_file).read_text(encoding="utf-8"))
    imported: set[str] = set()
    for statement in tree.body:
        if isinstance(statement, ast.Import):
            for alias in statement.names:
                imported.add(_submodule(package, alias.name))
        elif isinstance(statement, ast.ImportFrom):
            source = _absolute(package, statement.module, statement.level)
            imported.add(_submodule(package, source))
            if source == package:  # from <package> import orders, products
                imported.update(alias.name for alias in statement.names)
    imported.discard("")
    return imported


def _absolute(package: str, module: str | None, level: int) -> str:
    """``.orders`` (level 1) inside ``package`` as ``package.orders``."""
    if level == 0:
        return module or ""
    parent = package.rsplit(".", level - 1)[0] if level > 1 else package
    return f"{parent}.{module}" if module else parent


def _submodule(package: str, module: str) -> str:
    """The first name after ``package.`` in ``module``, or "" for another module."""
    prefix = f"{package}."
    return module.removeprefix(prefix).split(".")[0] if module.startswith(prefix) else ""
