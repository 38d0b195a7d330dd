"""Roles that users can hold."""

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from {{ cookiecutter.package_name }}.models.base import Base
from {{ cookiecutter.package_name }}.models.mixins import TimestampMixin


class Role(TimestampMixin, Base):
    """A named role, such as ``admin``; names are unique."""

    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    description: Mapped[str | None] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"Role(id={self.id!r}, name={self.name!r})"
