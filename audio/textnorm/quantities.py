"""Numbers with their units: thousands and decimals, %, temperatures, ranges, "per", ordinals.

Why this length: the unit tables and the number patterns that consult them belong together.
"""

from __future__ import annotations

import re

from ..numbers import read_decimal, read_digits, read_integer_text, read_number, read_ordinal
from .patterns import LETTER, alternation, sub

# A dash between two quantities is a range: 50-60 triệu, 7h-9h, 20°C - 25°C.
RANGE_RE = r"(?:(?<=[0-9%°'])|(?<=[0-9][hgC])|(?<=°C))\s?[-–—]\s?(?=[0-9])"


def read_ranges(text: str) -> str:
    return sub(RANGE_RE, lambda m: " đến ", text)


# Unit words that may follow a number. Keys are matched case-sensitively.
_UNITS: dict[str, str] = {
    "km": "ki lô mét", "kg": "ki lô gam", "ha": "héc ta", "mm": "mi li mét", "cm": "xen ti mét",
    "m": "mét", "g": "gam", "mg": "mi li gam", "ml": "mi li lít", "l": "lít", "kW": "ki lô oát",
    "kWh": "ki lô oát giờ", "MW": "mê ga oát", "W": "oát", "V": "vôn", "kV": "ki lô vôn",
    "h": "giờ", "ph": "phút", "p": "phút", "s": "giây", "đ": "đồng", "k": "nghìn", "tr": "triệu",
    "dm": "đề xi mét", "µg": "mi crô gam", "mcg": "mi crô gam", "Hz": "héc", "kHz": "ki lô héc",
    "MHz": "mê ga héc", "ppm": "phần triệu", "cc": "xê xê",
}
# Units written with symbols or digits: read wherever they stand, even without a number.
_SYMBOL_UNITS: dict[str, str] = {
    "km/h": "ki lô mét trên giờ", "m/s": "mét trên giây", "mm/h": "mi li mét trên giờ",
    "km²": "ki lô mét vuông", "km2": "ki lô mét vuông", "m²": "mét vuông", "m2": "mét vuông",
    "m³": "mét khối", "m3": "mét khối", "cm²": "xen ti mét vuông", "cm2": "xen ti mét vuông",
    "cm³": "xen ti mét khối", "cm3": "xen ti mét khối",
}
# After a slash, "per" reads "trên" for a measure (kg/ha) and "một" otherwise (đồng/kg).
_PER_UNITS: dict[str, str] = {
    "kg": "ki lô gam", "ha": "héc ta", "km": "ki lô mét", "m": "mét", "m2": "mét vuông",
    "m²": "mét vuông", "m3": "mét khối", "m³": "mét khối", "km2": "ki lô mét vuông",
    "km²": "ki lô mét vuông", "h": "giờ", "l": "lít", "tấn": "tấn", "tạ": "tạ", "lít": "lít",
    "giờ": "giờ", "ngày": "ngày", "tuần": "tuần", "tháng": "tháng", "năm": "năm", "người": "người",
    "hộ": "hộ", "con": "con", "lần": "lần", "liều": "liều", "sào": "sào", "suất": "suất",
    "phút": "phút", "giây": "giây", "s": "giây", "bao": "bao", "chai": "chai", "gói": "gói",
    "kWh": "ki lô oát giờ", "ml": "mi li lít", "mm": "mi li mét", "cm": "xen ti mét", "g": "gam",
}
# The word before the slash decides: a measure gives "trên" (kg/ha), anything else "một" (đồng/kg).
_MEASURE_WORDS = frozenset({"gam", "mét", "lít", "tấn", "tạ", "yến", "vuông", "khối", "ta", "oát", "vôn", "sào",
                            "kg", "g", "km", "m", "mm", "cm", "ha", "l", "ml", "m2", "m3", "km2", "m²", "m³",
                            "km²", "mg", "kwh"})


_MONEY_WORDS = frozenset({"đồng", "đ", "nghìn", "triệu", "tỷ", "đô"})
# Per area or length, "trên" reads naturally even after a count: 50 con/m2 "con trên mét vuông".
_AREA_UNITS = frozenset({"m2", "m²", "km2", "km²", "ha", "m", "km"})




_NUMBER = (r"(?<![0-9.,])(?:[0-9]{1,3}(?:\.[0-9]{3})+(?:,[0-9]+)?(?![0-9.])"
           r"|[0-9]{1,3}(?:,[0-9]{3}){2,}(?![0-9,])"
           r"|[0-9]+\.[0-9]{1,2}(?![0-9.])"
           r"|[0-9]+(?:\.[0-9]+)+(?![0-9])"
           r"|[0-9]+(?:,[0-9]+)?)")


def _read_number_token(token: str) -> str:
    if re.fullmatch(r"[0-9]{1,3}(?:\.[0-9]{3})+(?:,[0-9]+)?", token):
        whole, _, fraction = token.replace(".", "").partition(",")
        return read_decimal(whole, fraction) if fraction else read_integer_text(whole)
    if re.fullmatch(r"[0-9]{1,3}(?:,[0-9]{3}){2,}", token):
        return read_integer_text(token.replace(",", ""))
    if re.fullmatch(r"[0-9]+\.[0-9]{1,2}", token):
        whole, fraction = token.split(".")
        return read_decimal(whole, fraction)
    if "." in token:
        return " chấm ".join(read_integer_text(part) for part in token.split("."))
    whole, _, fraction = token.partition(",")
    return read_decimal(whole, fraction) if fraction else read_integer_text(whole)


def read_numbers(text: str) -> str:
    # Runs of 16+ digits are identifiers; reading them first keeps later patterns short.
    text = sub(r"[0-9]{16,}", lambda m: f" {read_digits(m.group(0))} ", text)
    text = sub(rf"(?<!{LETTER})({alternation(_SYMBOL_UNITS)})(?![\w])",
                lambda m: f" {_SYMBOL_UNITS[m.group(1)]} ", text)
    text = sub(r"(?<=[0-9])(\s?)(?:°\s?C|oC)(?![\w])|(?<!\w)độ C(?![\w])", lambda m: " độ xê ", text)
    text = sub(r"(?<=[0-9])\s?°(?!\s?[FK])", " độ ", text)
    text = sub(r"%", " phần trăm ", text)
    text = sub(r"‰", " phần nghìn ", text)
    # Negative only where it is unambiguous: temperatures (-5 độ).
    # A minus glued to a number that no range claimed: -5 độ, nhiệt độ -2.
    text = sub(r"(?<![\w.,-])-(?=[0-9])", " âm ", text)
    text = sub(r"(?<=[0-9])\s?[x×]\s?(?=[0-9])", " nhân ", text)
    text = sub(r"(?<=[0-9])\s?\+\s?(?=[0-9])", " cộng ", text)
    # Road markers: Km 15+300 "ki lô mét mười lăm cộng ba trăm".
    text = sub(r"(?<!\w)[Kk]m\s?(?=[0-9])", " ki lô mét ", text)
    text = sub(r"[~≈]\s?(?=[0-9])", " khoảng ", text)
    text = sub(r"(?:>=|≥)\s?(?=[0-9])", " từ ", text)
    text = sub(r">\s?(?=[0-9])", " trên ", text)
    text = sub(r"(?:<=|≤)\s?(?=[0-9])", " không quá ", text)
    text = sub(r"<\s?(?=[0-9])", " dưới ", text)
    # Ordinals: thứ 2 "thứ hai", lần thứ 1 "lần thứ nhất", thứ 2, 4, 6 "thứ hai, thứ tư, thứ sáu".
    text = sub(r"(?<!\w)((?i:thứ))\s([0-9]{1,2}(?:(?:,\s?|\s?-\s?|\svà\s|\sđến\s)[0-9]{1,2})*)(?![0-9]|[,.][0-9])",
                _ordinal_list, text)

    def number_with_unit(m: re.Match[str]) -> str:
        words = _read_number_token(m.group(1))
        unit = m.group(2)
        return f" {words} {_UNITS[unit]} " if unit else f" {words} "

    text = sub(rf"({_NUMBER})(?:\s?({alternation(_UNITS)})(?![\w]))?", number_with_unit, text)
    # Anything left (digits glued to odd symbols) is read digit by digit: no digit reaches the engine.
    return sub(r"[0-9]+", lambda m: f" {read_integer_text(m.group(0))} ", text)


def _ordinal_list(m: re.Match[str]) -> str:
    parts = re.split(r"(,\s?|\s?-\s?|\svà\s|\sđến\s)", m.group(2))
    out = []
    for part in parts:
        if part.strip().isdigit():
            out.append(f"{m.group(1)} {read_ordinal(int(part))}")
        elif "-" in part:
            out.append(" đến ")
        else:
            out.append(part)
    return " " + "".join(out) + " "


def read_per_units(text: str) -> str:
    def per(m: re.Match[str]) -> str:
        before = m.string[max(0, m.start() - 12):m.start()].lower().split()
        last = before[-1].lstrip("0123456789.,") if before else ""
        unit = m.group(1)
        if last in _MEASURE_WORDS:
            joiner = "trên"
        elif last in _MONEY_WORDS:
            joiner = "một"
        else:
            joiner = "trên" if unit in _AREA_UNITS else "một"
        return f" {joiner} {_PER_UNITS[unit]} "

    text = sub(rf"(?<=\S)\s?/\s?({alternation(_PER_UNITS)})(?![\w])", per, text)
    # A price per anything: 50.000 đồng/hồ sơ "năm mươi nghìn đồng một hồ sơ".
    text = sub(rf"(?:(?<=đồng)|(?<=[0-9]đ))\s?/\s?(?={LETTER})", " một ", text)
    # Dates and document numbers are gone by now: a slash before a number is "per" (mg/100 ml).
    return sub(r"(?<=\S)\s?/\s?(?=[0-9])", " trên ", text)



# What a count, a duration or a clock minute is followed by: with a leading zero ("07 ngày",
# "02 người", "09 phút") the number is still a quantity, not a code.
_COUNT_NOUNS = (
    "ngày", "đêm", "tuần", "tháng", "năm", "giờ", "phút", "giây", "người", "hộ", "nhà", "căn", "chiếc", "cái",
    "con", "xe", "tàu", "thuyền", "ca", "lần", "lượt", "trường hợp", "đồng chí", "đại biểu", "học sinh",
    "cháu", "em", "bệnh nhân", "đối tượng", "vụ", "điểm", "thôn", "xã", "bản", "tổ", "đội", "đoàn", "mũi",
    "liều", "bộ", "hồ sơ", "tấn", "tạ", "bao", "cán bộ", "chiến sĩ", "công dân", "cơ sở", "đơn vị", "trường",
    "lớp", "phòng", "nhóm", "đợt", "buổi", "suất", "phần quà", "triệu", "nghìn", "tỷ", "trăm", "km", "kg", "ha",
    "thành viên", "cử tri", "hội viên", "đảng viên", "gia đình", "khẩu", "nhân khẩu", "lao động", "giáo viên",
    "máy", "điểm cầu", "tuyến", "chốt", "trạm", "cụm", "phương tiện", "ô tô", "xe máy", "đường dây", "văn bản",
    "kiến nghị", "ý kiến", "tập thể", "cá nhân", "giải", "huy chương", "bằng khen", "giấy khen", "dự án",
    "công trình", "mô hình", "sản phẩm", "loại", "tiêu chí", "nội dung", "vị trí", "bước", "thủ tục", "ngành",
)
# Numbered places and units: "thôn 01", "tổ 05", "khu phố 03" are numbers; "lô 05" stays a code.
_NUMBERED_PLACES = ("thôn", "xóm", "tổ", "tổ dân phố", "khu phố", "ấp", "bản", "khóm", "khu", "đội", "khối",
                    "cụm", "phường", "quận", "tiểu khu", "giờ", "điều", "khoản", "chương", "mục", "phần")


def _count_noun_follows(after: str) -> bool:
    return any(after.startswith(noun) and not after[len(noun):len(noun) + 1].isalpha() for noun in _COUNT_NOUNS)


def _leading_zero(m: re.Match[str]) -> str:
    before = m.string[max(0, m.start() - 16):m.start()].lower()
    after = m.string[m.end():m.end() + 20].lower().lstrip(" ")
    numbered_place = any(before.endswith(f"{place} ") for place in _NUMBERED_PLACES)
    if numbered_place or _count_noun_follows(after) or after.startswith(("%", "°")):
        return f" {read_number(int(m.group(0)))} "
    return m.group(0)


def read_leading_zero_counts(text: str) -> str:
    """A count, duration or clock minute written with a leading zero is read as a number."""
    return sub(r"(?<![\w.,/:+-])0+[1-9][0-9]{0,2}(?![\w]|[/.,:-][0-9])", _leading_zero, text)


# After a scale word written out ("3,5 nghìn tấn", "hàng trăm km", "2 triệu m3") a unit still
# stands for its word, though no digit touches it.
_SCALE_WORDS = r"nghìn|ngàn|triệu|tỷ|tỉ|trăm|chục|vạn"
_UNITS_AFTER_SCALE = ("km", "kg", "ha", "mm", "cm", "m", "g", "mg", "ml", "l", "kW", "kWh", "MW", "W", "V", "kV",
                      "đ", "dm")


def read_scale_units(text: str) -> str:
    return sub(rf"(?<!\w)(?<!phần )({_SCALE_WORDS})\s?({alternation(_UNITS_AFTER_SCALE)})(?![\w])",
               lambda m: f"{m.group(1)} {_UNITS[m.group(2)]} ", text)
