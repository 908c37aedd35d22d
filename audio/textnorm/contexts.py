"""Numbers whose meaning the words around them decide: scores, ratios, fractions, house numbers, streets.

These rules run before the date rule, which would otherwise read every ``a/b`` as a day and a
month and every ``a-b`` as a range. How each is decided (docs/normalization.md, "Context"):

- a **score** follows a match word (hòa, thắng, thua, tỷ số, chung cuộc, …) within four
  words: ``hòa 1-1`` "hòa một đều", ``thắng 3-0`` "thắng ba không";
- a **ratio** follows "tỷ lệ"/"tỷ số": ``tỷ lệ 2/5`` "hai trên năm", ``tỷ lệ 1:500``;
- an ``a/b`` is a **date** when a date word stands before it (ngày, mùng, sáng, từ, đến, …);
- a **house or alley number** follows an address word (số nhà, ngõ, ngách, hẻm, kiệt, lô, …, or
  "số" with a street word after it): ``ngách 45/7`` "ngách bốn mươi lăm trên bảy";
- a **street named after a date** follows a street word (đường, phố, quảng trường, cầu, …):
  ``đường 3/2`` "đường ba tháng hai" (no "ngày", no "mùng": it is a name);
- a **fraction** is followed by what it divides (số, diện tích, dân số, kinh phí, …) or follows
  a word of proportion (chiếm, hơn, gần, quá, đạt, bằng): ``3/5 diện tích`` "ba phần năm diện
  tích", ``1/2 số hộ`` "một nửa số hộ";
- anything else is left to the date rule (a real day and month) or read with "trên".
"""

from __future__ import annotations

import re

from ..numbers import read_integer_text, read_number
from .patterns import sub, text_after, words_before

_SCORE_WORDS = r"hòa|hoà|thắng|thua|tỷ số|tỉ số|chung cuộc|gỡ hòa|gỡ hoà|dẫn trước|cách biệt|kết quả"
_RATIO_WORDS = r"tỷ lệ|tỉ lệ|tỷ số|tỉ số|tỷ lệ bản đồ"

# Words that make the a/b after them a date; the weak ones yield to a whole that is divided
# ("sau 2/3 thời gian"), the strong ones never ("ngày 2/3 số hộ được nhận…").
_DATE_BEFORE = frozenset({"ngày", "mùng", "hôm", "sáng", "trưa", "chiều", "tối", "đêm", "rạng", "nay"})
_WEAK_DATE_BEFORE = frozenset({"từ", "đến", "tới", "trước", "sau", "hết", "lúc", "vào", "và"})
_WHOLE_NOUNS = ("thời gian", "diện tích", "dân số", "số", "tổng", "kinh phí", "khối lượng", "sản lượng",
                "chiều dài", "dung tích", "quãng đường", "chặng", "nhiệm kỳ", "kế hoạch", "chỉ tiêu")
# A school named after a date: "trường THCS 8/3" (the dictionary has expanded THCS by now).
_SCHOOL_NAMES = ("học cơ sở", "học phổ thông", "tiểu học", "mầm non", "mẫu giáo")
_ADDRESS_BEFORE = frozenset({"ngõ", "ngách", "hẻm", "kiệt", "lô", "nhà", "căn", "phòng", "km", "thửa", "tờ"})
_ADDRESS_BEFORE_TWO = frozenset({"số nhà", "nhà số", "địa chỉ", "căn hộ", "thửa đất", "tờ bản"})
_STREET_WORDS = frozenset({"đường", "phố", "cầu", "chợ", "bến", "trường"})
_STREET_WORDS_TWO = frozenset({"quảng trường", "công viên", "sân vận", "vận động", "khu phố"})
_AFTER_HOUSE_NUMBER = ("đường", "phố", "ngõ", "ngách", "hẻm", "kiệt", "khu", "tổ", "thôn", "ấp", "xóm", "phường")
_PROPORTION_BEFORE = frozenset({"chiếm", "hơn", "gần", "quá", "đạt", "bằng", "khoảng"})
# What a fraction divides. Words that also begin common phrases after a date ("tổ chức",
# "nhà nước", "người dân", "đường phố") are left out: there the date reading wins.
_FRACTION_NOUNS = (
    "số", "diện tích", "dân số", "tổng", "kinh phí", "khối lượng", "sản lượng", "lượng", "quãng", "thời gian",
    "chiều", "giá trị", "dung tích", "vốn", "quỹ", "ngân sách", "đại biểu", "cử tri", "thành viên", "hộ",
    "học sinh", "lao động", "kế hoạch", "chỉ tiêu", "nhiệm vụ", "phần", "quân số", "trường hợp", "phiếu",
    "cán bộ", "đảng viên", "công suất", "mức", "giá", "trữ lượng", "đoạn", "tuyến", "chặng", "rừng", "đàn",
    "thời hạn", "dự án", "bề mặt", "khu vực", "lãnh thổ", "cơ sở", "doanh nghiệp", "gia đình", "thôn", "xã",
    "huyện", "tỉnh", "suất", "lớp", "xóm",
)
_RATIO_CLAUSE_RE = re.compile(r"(?i:tỷ lệ|tỉ lệ)[^.!?;\n]{0,60}$")


def _score(m: re.Match[str]) -> str:
    a, b = int(m.group(3)), int(m.group(4))
    spoken = f"{read_number(a)} đều" if a == b and a > 0 else f"{read_number(a)} {read_number(b)}"
    return f"{m.group(1)}{m.group(2)} {spoken} "


def _ratio(m: re.Match[str]) -> str:
    return f"{m.group(1)}{m.group(2)} {read_integer_text(m.group(3))} trên {read_integer_text(m.group(4))} "


def read_scores_and_ratios(text: str) -> str:
    # A score: up to four words (a team's name) between the match word and the score.
    text = sub(rf"(?<!\w)((?i:{_SCORE_WORDS}))((?:\s[^\s\d.,;:!?()]+){{0,4}}?)\s([0-9]{{1,2}})\s?[-–:]\s?([0-9]{{1,2}})"
               r"(?![0-9/]|[.,:][0-9]|[-–][0-9])", _score, text)
    # A ratio written with a colon may stand a few words after "tỷ lệ" ("tỷ lệ nam nữ là 1:1");
    # with a slash it must follow at once: further on, the slash is a fraction (_slash).
    text = sub(rf"(?<!\w)((?i:{_RATIO_WORDS}))((?:\s[^\s\d.,;:!?()]+){{0,4}}?)\s([0-9]{{1,6}})\s?:\s?"
               r"([0-9]{1,6})(?![0-9/]|[.,:][0-9])", _ratio, text)
    return sub(rf"(?<!\w)((?i:{_RATIO_WORDS}))((?:\s(?:là|khoảng|chỉ|bản đồ))?)\s([0-9]{{1,6}})\s?/\s?"
               r"([0-9]{1,6})(?![0-9/]|[.,:][0-9])", _ratio, text)


def _starts_with_any(text: str, words: tuple[str, ...]) -> bool:
    return any(text.startswith(word) and not text[len(word):len(word) + 1].isalpha() for word in words)


def _is_date(day: int, month: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[month - 1]


def _month_name(month: int) -> str:
    return "tư" if month == 4 else read_number(month)


def _denominator(n: int) -> str:
    return "tư" if n == 4 else read_number(n)


def _slash(m: re.Match[str]) -> str:
    parts = [m.group(1), m.group(2), *[p for p in (m.group(3) or "").split("/") if p]]
    one = words_before(m)
    two = words_before(m, 2)
    after = text_after(m, 24).lstrip(" ")
    if one in _DATE_BEFORE or (one in _WEAK_DATE_BEFORE and not _starts_with_any(after, _WHOLE_NOUNS)):
        return m.group(0)
    spoken_parts = " trên ".join(read_integer_text(p) for p in parts)
    if (one in _ADDRESS_BEFORE or two in _ADDRESS_BEFORE_TWO
            or (one == "số" and _starts_with_any(after, _AFTER_HOUSE_NUMBER))):
        return f" {spoken_parts} "
    if len(parts) > 2:
        return m.group(0)
    a, b = int(parts[0]), int(parts[1])
    if one in _STREET_WORDS or two in _STREET_WORDS_TWO or words_before(m, 3).endswith(_SCHOOL_NAMES):
        if _is_date(a, b) and not parts[0].startswith("0"):
            return f" {read_number(a)} tháng {_month_name(b)} "
        return f" {spoken_parts} "
    in_ratio_clause = _RATIO_CLAUSE_RE.search(m.string, max(0, m.start() - 60), m.start()) is not None
    if b >= 2 and a >= 1 and (_starts_with_any(after, _FRACTION_NOUNS) or one in _PROPORTION_BEFORE
                              or one in _WEAK_DATE_BEFORE or in_ratio_clause):
        return " một nửa " if (a, b) == (1, 2) else f" {read_number(a)} phần {_denominator(b)} "
    return m.group(0)


def read_slash_contexts(text: str) -> str:
    return sub(r"(?<![\w.,/:-])([0-9]{1,4})/([0-9]{1,4})((?:/[0-9]{1,4})*)(?![\w/]|[.,][0-9])", _slash, text)
