"""SQLAlchemy models and their Alembic migrations."""
{%- if cookiecutter.web_framework == "flask" %}

# The models load before anything else of the package, so a model module may import `db` from
# extensions.py, as Flask-SQLAlchemy's tutorials do, whichever module a program imports first.
from {{ cookiecutter.package_name }} import models as models
{%- endif %}
