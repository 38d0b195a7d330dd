"""People who sign in, and the roles they hold."""

from sqlalchemy import String, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from {{ cookiecutter.package_name }}.models.base import Base
from {{ cookiecutter.package_name }}.models.mixins import TimestampMixin
from {{ cookiecutter.package_name }}.models.roles import Role
from {{ cookiecutter.package_name }}.models.user_roles import user_roles


class User(TimestampMixin, Base):
    """A user with a unique email address and any number of roles."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), index=True)
    is_active: Mapped[bool] = mapped_column(server_default=true())
    roles: Mapped[list[Role]] = relationship(secondary=user_roles)

    def __repr__(self) -> str:
        return f"User(id={self.id!r}, email={self.email!r})"
