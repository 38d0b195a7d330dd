"""Reusable column groups for models."""

from datetime import datetime

from sqlalchemy import func
from sqlalchemy.orm import Mapped, mapped_column

from {{ cookiecutter.package_name }}.models.column_types import UTCDateTime


class TimestampMixin:
    """``created_at`` and ``updated_at``, set by the database and kept in UTC."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), server_default=func.now(), onupdate=func.now()
    )
