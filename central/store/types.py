"""Column types that mean the same on both engines.

``UtcDateTime`` is an aware UTC ``datetime`` in Python: ``timestamptz`` on PostgreSQL, and on
SQLite the protocol's ISO 8601 text (``2025-06-01T06:30:00Z``, with ``.ffffff`` only when the
time has a fraction), which is what central's hand-written SQLite schema stored, so an old
database needs no conversion and the text still sorts in time order.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

import protocol


def format_time(moment: datetime) -> str:
    """UTC text with 'Z'; whole seconds unless the moment has a fraction (protocol §2 allows both)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: central stores aware UTC times only")
    moment = moment.astimezone(UTC)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime; refuses naive ones (a naive time is a bug, not a local time)."""

    impl = String(32)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.TIMESTAMP(timezone=True))
        return dialect.type_descriptor(String(32))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"UtcDateTime needs a datetime, got {type(value).__name__}")
        if value.tzinfo is None:
            raise ValueError("naive datetime: central stores aware UTC times only")
        return value.astimezone(UTC) if dialect.name == "postgresql" else format_time(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return value.astimezone(UTC)
        return protocol.parse_utc(str(value))
