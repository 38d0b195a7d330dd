"""What the routes take and give: pydantic models of the example users and roles."""

from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from {{ cookiecutter.package_name }}.models import Role


class UserCreate(BaseModel):
    """A new user; the limits are the columns' (users.email, users.display_name)."""

    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=255, pattern=r"^[^@\s]+@[^@\s]+$")
    display_name: str = Field(min_length=1, max_length=100)


class RoleGrant(BaseModel):
    """A role to give a user, by name; a role of that name is made if there is none."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=50)


class UserRead(BaseModel):
    """A user as the routes answer with it: the roles by name."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    display_name: str
    is_active: bool
    created_at: datetime
    roles: list[str]

    @field_validator("roles", mode="before")
    @classmethod
    def _names(cls, roles: Iterable[Role | str]) -> list[str]:
        return sorted(role if isinstance(role, str) else role.name for role in roles)
