"""The declarative base whose metadata every model and table registers on."""

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Every constraint and index gets a predictable name, so migrations can drop and alter them
# on every backend (SQLite batch mode cannot drop an unnamed constraint).
NAMING_CONVENTION = {
    "pk": "pk_%(table_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}


class Base(DeclarativeBase):
    """Base class for ORM models; plain ``Table(...)`` definitions use ``Base.metadata`` too."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
