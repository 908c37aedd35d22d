"""Who may target and review what (pure): roles and the three levels of Circular 39.

A person's scope is the whole country, one or more provinces, or a list of communes:
``{"kind": "country"}``, ``{"kind": "province", "codes": ["08"]}``,
``{"kind": "communes", "codes": ["02269", "02266"]}``. An item's areas are the provinces and
communes chosen for it; none at all means the whole country.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from protocol.errors import ValidationError

ROLES = ("editor", "approver", "admin")
SCOPE_KINDS = ("country", "province", "communes")
_PROVINCE_RE = re.compile(r"^[0-9]{2}$")
_COMMUNE_RE = re.compile(r"^[0-9]{5}$")


@dataclass(frozen=True)
class Areas:
    provinces: tuple[str, ...] = ()
    communes: tuple[str, ...] = ()

    @property
    def whole_country(self) -> bool:
        return not self.provinces and not self.communes

    def as_dict(self) -> dict[str, list[str]]:
        return {"provinces": list(self.provinces), "communes": list(self.communes)}

    @classmethod
    def from_dict(cls, data: Any) -> Areas:
        data = data if isinstance(data, dict) else {}
        return cls(tuple(data.get("provinces", ())), tuple(data.get("communes", ())))


def check_roles(roles: Sequence[str]) -> list[str]:
    chosen = [r for r in ROLES if r in set(roles)]
    if not chosen or len(chosen) != len(set(roles)):
        raise ValidationError("Vai trò không hợp lệ (biên tập viên, người duyệt, quản trị).",
                              "Invalid roles (editor, approver, admin).")
    return chosen


def check_scope(kind: str, codes: Sequence[str], *, is_province: Callable[[str], bool],
                is_commune: Callable[[str], bool]) -> dict[str, Any]:
    """A validated scope; codes must name real units."""
    if kind == "country":
        return {"kind": "country"}
    codes = sorted({c.strip() for c in codes if c.strip()})
    if kind == "province":
        if not codes or not all(_PROVINCE_RE.match(c) and is_province(c) for c in codes):
            raise ValidationError("Phạm vi tỉnh cần mã tỉnh/thành phố có thật (2 chữ số).",
                                  "A province scope needs real province codes (2 digits).")
        return {"kind": "province", "codes": codes}
    if kind == "communes":
        if not codes or not all(_COMMUNE_RE.match(c) and is_commune(c) for c in codes):
            raise ValidationError("Phạm vi xã cần mã xã/phường có thật (5 chữ số).",
                                  "A commune scope needs real commune codes (5 digits).")
        return {"kind": "communes", "codes": codes}
    raise ValidationError("Phạm vi phải là cả nước, tỉnh hoặc danh sách xã.",
                          "The scope must be the country, a province or a list of communes.")


def covers(scope: dict[str, Any], areas: Areas, province_of: Callable[[str], str]) -> bool:
    """Whether every area of an item lies inside ``scope`` (the whole country only for the country)."""
    kind = scope.get("kind")
    if kind == "country":
        return True
    codes = set(scope.get("codes", ()))
    if areas.whole_country:
        return False
    if kind == "province":
        return set(areas.provinces) <= codes and all(province_of(c) in codes for c in areas.communes)
    if kind == "communes":
        return not areas.provinces and set(areas.communes) <= codes
    return False


def out_of_scope() -> ValidationError:
    return ValidationError("Bạn chỉ được chọn địa bàn trong phạm vi của mình.",
                           "You may only target areas within your own scope.")


def describe_scope(scope: dict[str, Any], name_of: Callable[[str], str], language: str = "vi") -> str:
    kind = scope.get("kind")
    if kind == "country":
        return "Cả nước" if language == "vi" else "Whole country"
    names = ", ".join(name_of(c) for c in scope.get("codes", ()))
    return names
