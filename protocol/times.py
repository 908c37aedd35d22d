"""Protocol timestamps: UTC with 'Z' on the wire, floating local times inside schedules."""

from __future__ import annotations

from datetime import UTC, datetime

from protocol.spec import LOCAL_RE, UTC_RE


def parse_utc(text: str) -> datetime:
    """Parse a protocol UTC timestamp ('…Z'); raises ValueError on anything else."""
    if not isinstance(text, str) or not UTC_RE.match(text):
        raise ValueError(f"not a UTC ISO 8601 time with 'Z': {str(text)[:40]!r}")
    return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)


def format_utc(moment: datetime) -> str:
    """UTC ISO 8601 with 'Z' and whole seconds (how central writes protocol timestamps)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: protocol times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_local(text: str) -> datetime:
    """Parse a floating local time 'YYYY-MM-DDTHH:MM:SS' (naive datetime)."""
    if not isinstance(text, str) or not LOCAL_RE.match(text):
        raise ValueError(f"not a local ISO time without offset: {str(text)[:40]!r}")
    return datetime.fromisoformat(text)
