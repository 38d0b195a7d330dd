"""A model module that nobody imports is refused by name instead of hidden from Alembic."""

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }} import models
from {{ cookiecutter.package_name }}.models.registration import require_all_imported

PACKAGE = "unregistered_models_example"


@pytest.fixture
def package_with_a_forgotten_module(tmp_path: Path) -> Iterator[Path]:
    """A models package whose ``orders`` module defines a table but is not imported."""
    root = tmp_path / PACKAGE
    root.mkdir()
    (root / "__init__.py").write_text("from sqlalchemy import MetaData\n\nmetadata = MetaData()\n")
    (root / "orders.py").write_text(
        f"from sqlalchemy import Column, Integer, Table\n\nfrom {PACKAGE} import metadata\n\n"
        'orders = Table("orders", metadata, Column("id", Integer, primary_key=True))\n'
    )
    (root / "helpers.py").write_text("def no_tables_here() -> None:\n    pass\n")
    sys.path.insert(0, str(tmp_path))
    yield root
    sys.path.remove(str(tmp_path))
    for name in [name for name in sys.modules if name.startswith(PACKAGE)]:
        del sys.modules[name]


def test_the_project_models_package_imports_every_model_module() -> None:
    require_all_imported(models.__name__, models.__path__, models.metadata)


def test_a_module_with_tables_that_is_not_imported_is_named(
    package_with_a_forgotten_module: Path,
) -> None:
    package = __import__(PACKAGE)

    with pytest.raises(ImportError, match=rf"{PACKAGE}\.orders is not imported") as raised:
        require_all_imported(PACKAGE, [str(package_with_a_forgotten_module)], package.metadata)

    assert "helpers" not in str(raised.value)
