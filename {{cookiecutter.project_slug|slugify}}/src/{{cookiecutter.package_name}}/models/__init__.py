"""All tables of the project, on one metadata: every model module is imported here."""

from {{ cookiecutter.package_name }}.models.base import Base
from {{ cookiecutter.package_name }}.models.registration import require_all_imported
{%- if cookiecutter.example_models %}
from {{ cookiecutter.package_name }}.models.roles import Role, RoleScope
from {{ cookiecutter.package_name }}.models.user_roles import user_roles
from {{ cookiecutter.package_name }}.models.users import User
{%- endif %}

metadata = Base.metadata

__all__ = [
    "Base",
{%- if cookiecutter.example_models %}
    "Role",
    "RoleScope",
    "User",
{%- endif %}
    "metadata",
{%- if cookiecutter.example_models %}
    "user_roles",
{%- endif %}
]

require_all_imported(__name__, __path__, metadata)
