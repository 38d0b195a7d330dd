"""A model module that nobody imports is refused by name instead of hidden from Alembic."""

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }} import models
from {{ cookiecutter.package_name }}.models.registration import require_all_imported

PACKAGE = "registration_example"

ORDERS = f"""
from sqlalchemy import Column, Integer, Table

from {PACKAGE} import metadata

orders = Table("orders", metadata, Column("id", Integer, primary_key=True))
"""

# An __init__.py that runs the check and then, as tutorials do, imports a module at its bottom.
INIT = """
from sqlalchemy import MetaData

from {{ cookiecutter.package_name }}.models.registration import require_all_imported

metadata = MetaData()

require_all_imported(__name__, __path__, metadata)
"""


@pytest.fixture
def make_package(tmp_path: Path) -> Iterator[Path]:
    """A models package with an ``orders`` module defining a table and a ``helpers`` module."""
    root = tmp_path / PACKAGE
    root.mkdir()
    (root / "orders.py").write_text(ORDERS)
    (root / "helpers.py").write_text("def no_tables_here() -> None:\n    pass\n")
    sys.path.insert(0, str(tmp_path))
    yield root
    sys.path.remove(str(tmp_path))
    for name in [name for name in sys.modules if name.startswith(PACKAGE)]:
        del sys.modules[name]


def test_the_project_models_package_imports_every_model_module() -> None:
    require_all_imported(models.__name__, models.__path__, models.metadata)


def test_a_module_with_tables_that_is_not_imported_is_named(make_package: Path) -> None:
    (make_package / "__init__.py").write_text(INIT)

    with pytest.raises(ImportError, match=rf"{PACKAGE}\.orders is not imported") as raised:
        importlib.import_module(PACKAGE)

    assert "helpers" not in str(raised.value)


@pytest.mark.parametrize(
    "bottom_import",
    [
        "from .orders import orders",
        f"from {PACKAGE}.orders import orders",
        "from . import orders",
        f"import {PACKAGE}.orders",
    ],
)
def test_a_module_imported_below_the_check_is_registered(
    make_package: Path, bottom_import: str
) -> None:
    (make_package / "__init__.py").write_text(INIT + bottom_import + "\n")

    package = importlib.import_module(PACKAGE)

    assert list(package.metadata.tables) == ["orders"]
