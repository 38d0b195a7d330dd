"""Roles that users can hold."""

import enum

from sqlalchemy import Enum, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from {{ cookiecutter.package_name }}.models.base import Base
from {{ cookiecutter.package_name }}.models.mixins import TimestampMixin


class RoleScope(enum.Enum):
    """Where a role applies. Stored by name; on PostgreSQL as the enum type ``role_scope``."""

    site = "site"
    team = "team"


class Role(TimestampMixin, Base):
    """A named role, such as ``admin``; names are unique."""

    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    scope: Mapped[RoleScope] = mapped_column(
        Enum(RoleScope, name="role_scope"), server_default=RoleScope.site.name
    )

    def __repr__(self) -> str:
        return f"Role(id={self.id!r}, name={self.name!r})"
