"""Vietnam's administrative units after the 2025 reorganisation: 34 provinces, 3,321 communes.

The names and official codes come from the maintained ``vietnam-provinces`` package (its data
file, read once), never from a list kept here. Codes are shown and stored as the statistics
office writes them: provinces with 2 digits ("08"), communes with 5 ("02269"); a device id
starts with its commune's code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

from protocol.errors import ValidationError


@dataclass(frozen=True)
class Commune:
    code: str
    name: str
    province: str


@dataclass(frozen=True)
class Province:
    code: str
    name: str
    communes: tuple[Commune, ...]


@dataclass(frozen=True)
class Units:
    provinces: tuple[Province, ...]
    by_province: dict[str, Province]
    by_commune: dict[str, Commune]
    data_version: str

    def province(self, code: str) -> Province:
        found = self.by_province.get(code)
        if found is None:
            raise ValidationError(f"Không có tỉnh/thành phố mã {code[:8]!r}.", f"No province with code {code[:8]!r}.")
        return found

    def commune(self, code: str) -> Commune:
        found = self.by_commune.get(code)
        if found is None:
            raise ValidationError(f"Không có xã/phường mã {code[:8]!r}.", f"No commune with code {code[:8]!r}.")
        return found

    def communes_of(self, provinces: list[str], communes: list[str]) -> list[str]:
        """Every commune code of these provinces, plus these communes (sorted, no duplicates)."""
        found = {c.code for p in provinces for c in self.province(p).communes}
        found.update(self.commune(c).code for c in communes)
        return sorted(found)


@cache
def units() -> Units:
    """The units of the installed ``vietnam-provinces`` data (loaded once per process)."""
    try:
        import vietnam_provinces
    except ImportError:
        raise ValidationError("Thiếu gói dữ liệu đơn vị hành chính: pip install 'commune-radio[central]'.",
                              "The administrative units package is missing: pip install "
                              "'commune-radio[central]' (vietnam-provinces).") from None
    data = json.loads(vietnam_provinces.NESTED_DIVISIONS_JSON_PATH.read_text(encoding="utf-8"))
    provinces = []
    for entry in data:
        code = f"{int(entry['code']):02d}"
        communes = tuple(sorted((Commune(code=f"{int(w['code']):05d}", name=str(w["name"]), province=code)
                                 for w in entry["wards"]), key=lambda c: c.name))
        provinces.append(Province(code=code, name=str(entry["name"]), communes=communes))
    provinces.sort(key=lambda p: p.code)
    return Units(provinces=tuple(provinces), by_province={p.code: p for p in provinces},
                 by_commune={c.code: c for p in provinces for c in p.communes},
                 data_version=str(getattr(vietnam_provinces, "__data_version__", "")))
