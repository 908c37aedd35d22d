"""What changed since the last approved version (pure): field by field, text line by line."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

FIELDS = ("kind", "title", "text", "media", "priority", "valid_from", "valid_until", "schedule",
          "zones", "areas")


@dataclass(frozen=True)
class Change:
    field: str
    before: str
    after: str
    lines: tuple[tuple[str, str], ...]   # ("-"|"+"|" ", line) for text fields


def _show(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def changes(before: dict[str, Any] | None, after: dict[str, Any]) -> list[Change]:
    """The fields whose value differs; ``before`` None (never approved) shows every field as new."""
    found = []
    for name in FIELDS:
        old = None if before is None else before.get(name)
        new = after.get(name)
        if before is not None and old == new:
            continue
        if before is None and new in (None, "", [], {}, "—"):
            continue
        old_text, new_text = _show(old) if before is not None else "", _show(new)
        lines: tuple[tuple[str, str], ...] = ()
        if name == "text":
            lines = tuple((line[0], line[2:]) for line in difflib.ndiff(old_text.splitlines(), new_text.splitlines())
                          if line[:1] in "-+ ")
        found.append(Change(name, old_text, new_text, lines))
    return found
