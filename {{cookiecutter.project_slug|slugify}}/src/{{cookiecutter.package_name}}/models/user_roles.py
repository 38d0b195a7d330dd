"""Which user holds which role: a plain Core ``Table`` on the same metadata as the models."""

from sqlalchemy import Column, ForeignKey, Table

from {{ cookiecutter.package_name }}.models.base import Base

user_roles = Table(
    "user_roles",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True, index=True),
)
