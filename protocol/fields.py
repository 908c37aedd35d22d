"""Field-by-field checks of hostile JSON: each failure is a bilingual ``malformed`` rejection.

Every validator of the protocol (items, commands) walks its document with a ``FieldChecker``,
so callers never see a ``KeyError`` or ``TypeError`` from a document an attacker wrote.
"""

from __future__ import annotations

import copy
import re
from datetime import datetime
from typing import Any

from protocol.errors import RejectedItem
from protocol.rejections import reject
from protocol.spec import CONTROL_RE, ID_RE, MAX_LIST_ENTRIES, MAX_SAFE_INT, TEXT_CONTROL_RE
from protocol.times import parse_local, parse_utc


class FieldChecker:
    """Collects the document id for messages; each method raises ``malformed`` on failure."""

    def __init__(self, ident: str | None) -> None:
        self.ident = ident

    def fail(self, field: str, vi: str, en: str) -> RejectedItem:
        return reject("malformed", f"{field}: {vi}", f"{field}: {en}", self.ident)

    def exact_keys(self, obj: Any, field: str, required: frozenset[str],
                   optional: frozenset[str] = frozenset()) -> dict[str, Any]:
        if not isinstance(obj, dict):
            raise self.fail(field, "phải là đối tượng JSON", "must be a JSON object")
        keys = set(obj)
        missing = required - keys
        unknown = keys - required - optional
        if missing:
            names = ", ".join(sorted(missing))
            raise self.fail(field, f"thiếu trường {names}", f"missing field(s) {names}")
        if unknown:
            names = ", ".join(sorted(str(k)[:40] for k in unknown))
            raise self.fail(field, f"trường không được phép {names}", f"unknown field(s) {names}")
        return obj

    def string(self, value: Any, field: str, *, max_len: int, min_len: int = 1,
               pattern: re.Pattern[str] | None = None, multiline: bool = False) -> str:
        if not isinstance(value, str):
            raise self.fail(field, "phải là chuỗi", "must be a string")
        if not min_len <= len(value) <= max_len:
            raise self.fail(field, f"độ dài phải từ {min_len} đến {max_len} ký tự",
                            f"length must be {min_len}..{max_len} characters")
        if (TEXT_CONTROL_RE if multiline else CONTROL_RE).search(value):
            raise self.fail(field, "chứa ký tự điều khiển", "contains control characters")
        if pattern is not None and not pattern.match(value):
            raise self.fail(field, "sai định dạng", "has the wrong format")
        return value

    def integer(self, value: Any, field: str, *, minimum: int, maximum: int = MAX_SAFE_INT) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(field, "phải là số nguyên", "must be an integer")
        if not minimum <= value <= maximum:
            raise self.fail(field, f"phải trong khoảng {minimum}..{maximum}", f"must be in {minimum}..{maximum}")
        return value

    def utc(self, value: Any, field: str) -> datetime:
        try:
            return parse_utc(value)
        except ValueError:
            raise self.fail(field, "phải là thời gian UTC ISO 8601 kết thúc bằng 'Z'",
                            "must be a UTC ISO 8601 time ending in 'Z'") from None

    def local(self, value: Any, field: str) -> datetime:
        try:
            return parse_local(value)
        except ValueError:
            raise self.fail(field, "phải là giờ địa phương dạng YYYY-MM-DDTHH:MM:SS",
                            "must be a local time YYYY-MM-DDTHH:MM:SS") from None

    def name_list(self, value: Any, field: str, pattern: re.Pattern[str]) -> tuple[str, ...]:
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_LIST_ENTRIES:
            raise self.fail(field, f"phải là danh sách 1..{MAX_LIST_ENTRIES} phần tử",
                            f"must be a list of 1..{MAX_LIST_ENTRIES} entries")
        if value == ["*"]:
            return ("*",)
        for entry in value:
            # fullmatch: the patterns end in '$', which also matches before a final '\n'.
            if not isinstance(entry, str) or not pattern.fullmatch(entry):
                raise self.fail(field, "có phần tử sai định dạng (hoặc '*' lẫn với tên khác)",
                                "has a malformed entry (or '*' mixed with names)")
        if len(set(value)) != len(value):
            raise self.fail(field, "có phần tử trùng lặp", "has duplicate entries")
        return tuple(value)



def ident_of(doc: Any) -> str | None:
    if isinstance(doc, dict):
        ident = doc.get("id")
        if isinstance(ident, str) and ID_RE.match(ident):
            return ident
    return None



def safe_copy(doc: dict[str, Any], ident: str | None) -> dict[str, Any]:
    try:
        return copy.deepcopy(doc)
    except RecursionError:
        raise reject("malformed", "lồng nhau quá sâu", "nested too deeply", ident) from None

