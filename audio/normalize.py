"""Vietnamese text normalization for radio: written bulletin text in, speakable words out.

``normalize_for_speech`` is a pure function: it turns numbers, dates, times, money, phone
numbers, units, Roman numerals and administrative abbreviations into the words a Northern
announcer would say, strips markup and characters the engine cannot read, and keeps the
punctuation the engine pauses on. ``load_abbreviations`` is the only I/O and is kept apart.
Conventions, with examples, are in docs/normalization.md.

Every regex here is written to run in linear time on 100,000 characters: no nested
quantifiers, and patterns that scan runs of letters or digits only start at the start of a run.

Why one module of this length: the rules interact (a date rule must run before the number
rules, abbreviations before both), so their order is visible in one file; the number words
themselves are in ``audio.numbers``.
"""

from __future__ import annotations

import functools
import html
import re
import tomllib
import unicodedata
from collections.abc import Callable, Mapping
from pathlib import Path

from protocol.errors import ConfigError, ValidationError

from .numbers import (
    DIGITS,
    read_decimal,
    read_digits,
    read_integer_text,
    read_number,
    read_ordinal,
    roman_to_int,
)

# A link to config/abbreviations.toml in the source tree; a real file in an installed package.
DEFAULT_ABBREVIATIONS_PATH = Path(__file__).parent / "assets" / "abbreviations.toml"
SYSTEM_ABBREVIATIONS_PATH = Path("/etc/commune-radio/abbreviations.toml")

# About three hours of speech; anything longer is not a bulletin.
MAX_INPUT_CHARS = 200_000
_MAX_KEY_CHARS = 60
_MAX_VALUE_CHARS = 200

# ---------------------------------------------------------------------------------------------
# Abbreviation dictionary (the only I/O)
# ---------------------------------------------------------------------------------------------


def _read_abbreviation_file(path: Path) -> dict[str, str]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(
            f"Không đọc được từ điển viết tắt {path}: {exc.strerror or exc}.",
            f"Cannot read the abbreviation dictionary {path}: {exc.strerror or exc}.",
        ) from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"Từ điển viết tắt {path} sai cú pháp TOML: {exc}.",
            f"The abbreviation dictionary {path} is not valid TOML: {exc}.",
        ) from exc
    table = data.get("abbreviations")
    unknown = sorted(set(data) - {"abbreviations"})
    if not isinstance(table, dict) or unknown:
        raise ConfigError(
            f"Từ điển viết tắt {path} phải chỉ có bảng [abbreviations] (thừa: {', '.join(unknown) or 'không'}).",
            f"The abbreviation dictionary {path} must hold only an [abbreviations] table "
            f"(unexpected: {', '.join(unknown) or 'none'}).",
        )
    result: dict[str, str] = {}
    for key, value in table.items():
        problem_vi, problem_en = "", ""
        if not isinstance(value, str):
            problem_vi, problem_en = "giá trị phải là chuỗi", "the value must be a string"
        elif not key.strip() or len(key) > _MAX_KEY_CHARS or key != key.strip():
            problem_vi = f"khóa phải có 1-{_MAX_KEY_CHARS} ký tự, không có khoảng trắng ở đầu/cuối"
            problem_en = f"the key must have 1-{_MAX_KEY_CHARS} characters with no leading/trailing spaces"
        elif len(value) > _MAX_VALUE_CHARS or any(ch in value for ch in "<>"):
            problem_vi = f"giá trị phải dưới {_MAX_VALUE_CHARS} ký tự và không có < >"
            problem_en = f"the value must be under {_MAX_VALUE_CHARS} characters with no < >"
        if problem_en:
            raise ConfigError(
                f"Từ điển viết tắt {path}, mục {key!r}: {problem_vi}.",
                f"Abbreviation dictionary {path}, entry {key!r}: {problem_en}.",
            )
        result[unicodedata.normalize("NFC", key)] = unicodedata.normalize("NFC", value.strip())
    return result


def load_abbreviations(path: Path | None = None, *, system_path: Path | None = SYSTEM_ABBREVIATIONS_PATH,
                       default_path: Path | None = DEFAULT_ABBREVIATIONS_PATH) -> dict[str, str]:
    """The abbreviation dictionary: the shipped defaults, then the commune's file, then ``path``.

    Later layers add or replace entries; an entry whose value is "" removes the key. The shipped
    file and the system file are used when present; an explicit ``path`` must exist.
    Raises ConfigError (bilingual) on unreadable or malformed files.
    """
    merged: dict[str, str] = {}
    layers = [p for p in (default_path, system_path) if p is not None and p.is_file()]
    if path is not None:
        layers.append(path)
    for layer in layers:
        for key, value in _read_abbreviation_file(layer).items():
            if value:
                merged[key] = value
            else:
                merged.pop(key, None)
    return merged


@functools.lru_cache(maxsize=1)
def _default_abbreviations() -> tuple[tuple[str, str], ...]:
    return tuple(load_abbreviations().items())


# ---------------------------------------------------------------------------------------------
# Character cleanup: markup, control characters, other scripts
# ---------------------------------------------------------------------------------------------

_VIETNAMESE_LETTERS = frozenset(
    "aàáảãạăằắẳẵặâầấẩẫậbcdđeèéẻẽẹêềếểễệfghiìíỉĩịjklmnoòóỏõọôồốổỗộơờớởỡợpqrstuùúủũụưừứửữựvwxyỳýỷỹỵz"
)
_KEEP_SYMBOLS = frozenset(" \n0123456789.,;:!?…-–—/()[]{}%‰°²³&+=<>~≈±≥≤×'\"“”‘’«»@#*_|\\$€£•·")
_LINE_BREAKS = frozenset("\n\r\v\f\u2028\u2029\x85")


class _CharMap(dict[int, str | None]):
    """str.translate table filled lazily: each distinct character is classified once."""

    def __missing__(self, code: int) -> str | None:
        ch = chr(code)
        result: str | None
        if ch in _KEEP_SYMBOLS or ch.lower() in _VIETNAMESE_LETTERS:
            result = ch
        elif ch in _LINE_BREAKS:
            result = "\n"
        elif ch == "\t" or unicodedata.category(ch) == "Zs":
            result = " "
        elif unicodedata.category(ch) == "Nd":
            result = str(unicodedata.digit(ch))
        elif ch == "\u200b":
            # A zero-width space marks a word break.
            result = " "
        elif unicodedata.category(ch) in ("Cf", "Mn", "Me"):
            # Zero-width joiners, soft hyphens and stray combining marks sit inside words.
            result = None
        else:
            # A Latin letter outside Vietnamese (ç, ü, ø) loses its accent; everything else
            # (other scripts, emoji, control characters) becomes a space: espeak-ng's Vietnamese
            # voice cannot read it and would switch language.
            base = unicodedata.normalize("NFKD", ch)[:1]
            result = base if base.lower() in _VIETNAMESE_LETTERS and base.isascii() else " "
        if len(self) < 20_000:
            self[code] = result
        return result


_CHAR_MAP = _CharMap()

_TAG_RE = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:-]*)?[^<>]*>")
_BLOCK_TAGS = frozenset({"p", "br", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr",
                         "table", "break", "s", "paragraph", "sentence", "title", "section"})


def _strip_markup(text: str) -> str:
    def tag(m: re.Match[str]) -> str:
        name = (m.group(2) or "").lower()
        return "\n" if name in _BLOCK_TAGS else " "

    text = _TAG_RE.sub(tag, text)
    if "&" in text:
        text = html.unescape(text)
        # Escaped markup (&lt;b&gt;) must not reach the engine either.
        text = _TAG_RE.sub(tag, text)
    return text


# "II. NHIỆM VỤ": a Roman numeral opening a line and followed by punctuation (or nothing)
# is a heading number. Leading symbols are allowed because later steps strip them, and the
# rule must give the same answer on a second pass.
_HEADING_ROMAN_RE = re.compile(r"^((?:[^\w\n]|[_²³])*)([IVX]{1,5})(?=[ \t]*(?:[^\w\s]|[_²³]|$))", re.MULTILINE)
_BULLET_RE = re.compile(r"^[ \t]*[-+*•·–—][ \t]+", re.MULTILINE)
_ENDS_WITH_PUNCT = frozenset(".!?;:,…")


def _heading_roman(m: re.Match[str]) -> str:
    value = roman_to_int(m.group(2))
    return m.group(0) if value is None else f"{m.group(1)}{read_number(value)}"


def _join_lines(text: str) -> str:
    """Line breaks become sentence breaks, so headings and list items get a pause."""
    out: list[str] = []
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        if out and out[-1][-1] not in _ENDS_WITH_PUNCT:
            out[-1] += "."
        out.append(line)
    return " ".join(out)


_SPACES_RE = re.compile(r"[ \t]+")

# ---------------------------------------------------------------------------------------------
# Abbreviations
# ---------------------------------------------------------------------------------------------

_WORD_CHAR = r"[^\W_]"
_LETTER = r"[^\W\d_²³]"  # superscripts count as \w in Python; they are not letters


@functools.lru_cache(maxsize=16)
def _compile_abbreviations(items: tuple[tuple[str, str], ...]) -> tuple[re.Pattern[str] | None,
                                                                          re.Pattern[str] | None,
                                                                          dict[str, str]]:
    """(exact-case pattern, any-case pattern, lookup). A key with no capital letter matches any case."""
    lookup: dict[str, str] = {}
    exact: list[str] = []
    anycase: list[str] = []
    for key, value in items:
        if key.lower() == key:
            lookup[key.lower()] = value
            anycase.append(key)
        else:
            lookup[key] = value
            exact.append(key)

    def build(keys: list[str], flags: int) -> re.Pattern[str] | None:
        if not keys:
            return None
        word_start = [k for k in keys if re.match(r"\w", k)]
        other_start = [k for k in keys if not re.match(r"\w", k)]
        branches = []
        if word_start:
            # Digits may touch a key on the left (2024Covid-19): later steps pad numbers with
            # spaces, so refusing them here would change the output on a second pass.
            branches.append(rf"(?<!{_LETTER}){_trie_pattern(word_start, flags)}")
        if other_start:
            branches.append(_trie_pattern(other_start, flags))
        return re.compile("|".join(branches), flags)

    return build(exact, 0), build(anycase, re.IGNORECASE), lookup


def _right_boundary(key: str) -> str:
    # A key ending in a letter may run into a digit (QL1A); one ending in a digit may not.
    if key[-1].isdigit():
        return rf"(?!{_WORD_CHAR})"
    if key[-1].isalpha():
        return rf"(?!{_LETTER})"
    return ""


def _trie_pattern(keys: list[str], flags: int) -> str:
    """One regex over many keys, shaped as a trie: linear in the text, not in text x keys.

    The longest key wins because a node tries its children before ending there.
    """
    fold = (lambda k: k.lower()) if flags & re.IGNORECASE else (lambda k: k)
    root: dict[str, dict] = {}
    for key in keys:
        node = root
        for ch in fold(key):
            node = node.setdefault(ch, {})
        node[""] = {"boundary": _right_boundary(key)}  # type: ignore[dict-item]

    def emit(node: dict[str, dict]) -> str:
        alternatives = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if "" in node:
            alternatives.append(node[""]["boundary"])  # type: ignore[index]
        if len(alternatives) == 1:
            return alternatives[0]
        return "(?:" + "|".join(alternatives) + ")"

    return emit(root)


def _expand_abbreviations(text: str, items: tuple[tuple[str, str], ...]) -> str:
    exact, anycase, lookup = _compile_abbreviations(items)
    if exact is not None:
        text = exact.sub(lambda m: f" {lookup[m.group(0)]} ", text)
    if anycase is not None:
        text = anycase.sub(lambda m: f" {lookup[m.group(0).lower()]} ", text)
    return text


# ---------------------------------------------------------------------------------------------
# Web addresses and e-mail
# ---------------------------------------------------------------------------------------------

_TLDS = frozenset({"vn", "com", "net", "org", "gov", "edu", "info", "int"})
_ADDRESS_RE = re.compile(r"(?<![\w.@/-])(?:https?://)?[\w-]+(?:\.[\w-]+)*(?:@[\w-]+(?:\.[\w-]+)+)?(?:/[\w./?=&%-]*)?")


def _address(m: re.Match[str]) -> str:
    token = m.group(0)
    host = re.sub(r"^https?://", "", token).split("/", 1)[0]
    if "." not in host or host.rsplit(".", 1)[-1].lower() not in _TLDS or host[0].isdigit():
        return token
    body = re.sub(r"^https?://", "", token).rstrip("/")
    spoken = (body.replace(".", " chấm ").replace("@", " a còng ").replace("/", " gạch chéo ")
              .replace("-", " gạch ngang ").replace("_", " gạch dưới "))
    spoken = re.sub(r"[?=&%]", " ", spoken)
    return f" {spoken.lower()} "


# ---------------------------------------------------------------------------------------------
# Numbers, dates, times, phones, units
# ---------------------------------------------------------------------------------------------


def _sub(pattern: str, repl: Callable[[re.Match[str]], str], text: str, flags: int = 0) -> str:
    return _compiled(pattern, flags).sub(repl, text)


@functools.lru_cache(maxsize=128)
def _compiled(pattern: str, flags: int) -> re.Pattern[str]:
    return re.compile(pattern, flags)


def _words_before(m: re.Match[str], count: int = 1) -> str:
    """The last ``count`` words before the match, lower-cased (for context such as "ngày")."""
    words = m.string[max(0, m.start() - 40):m.start()].lower().split()
    return " ".join(words[-count:])


def _text_after(m: re.Match[str], size: int = 12) -> str:
    return m.string[m.end():m.end() + size].lower()


_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _valid_day_month(day: int, month: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= _MONTH_DAYS[month - 1]


def _day_words(day: int) -> str:
    # Days one to ten take "mùng" (mùng hai tháng chín); the rest are plain numbers.
    return f"mùng {read_number(day)}" if day <= 10 else read_number(day)


def _month_words(month: int, *, lunar: bool = False) -> str:
    if lunar and month == 1:
        return "giêng"
    if lunar and month == 12:
        return "chạp"
    return "tư" if month == 4 else read_number(month)


def _is_lunar(m: re.Match[str]) -> bool:
    after = _text_after(m, 10).lstrip(" ,(")
    return after.startswith("âm lịch") or after.startswith("âl")


def _date_words(day: int, month: int, year: str | None, *, lunar: bool = False, say_ngay: bool = True) -> str:
    words = [_day_words(day), "tháng", _month_words(month, lunar=lunar)]
    if year:
        words += ["năm", read_number(int(year))]
    if say_ngay:
        words.insert(0, "ngày")
    return " ".join(words)


# After these words a date does not take "ngày": "sáng 5/9" reads "sáng mùng năm tháng chín".
_NO_NGAY_BEFORE = frozenset({"ngày", "mùng", "hôm", "sáng", "trưa", "chiều", "tối", "đêm"})


def _say_ngay(m: re.Match[str]) -> bool:
    return _words_before(m) not in _NO_NGAY_BEFORE


def _after_mung(m: re.Match[str], spoken: str) -> str:
    """ "mùng 2/9" already says "mùng": do not say it twice."""
    if _words_before(m) == "mùng" and spoken.startswith("mùng "):
        spoken = spoken[len("mùng "):]
    return f" {spoken} "


def _loose(text: str) -> str:
    """Read a date-like match that is not a real date: numbers word by word, '/' as "trên"."""
    parts = re.split(r"([/.\-–])", text)
    out = []
    for part in parts:
        if part == "/":
            out.append("trên")
        elif part in "-–" and part:
            out.append("đến")
        elif part == ".":
            out.append("chấm")
        elif part.strip().isdigit():
            out.append(read_integer_text(part.strip()))
    return f" {' '.join(out)} "


_D = r"(?<![0-9.,/])([0-9]{1,2})"
_Y = r"([0-9]{4})(?![0-9/])"


def _full_date(m: re.Match[str]) -> str:
    day, month, year = int(m.group(1)), int(m.group(2)), m.group(3)
    if not _valid_day_month(day, month):
        return _loose(m.group(0))
    return _after_mung(m, _date_words(day, month, year, lunar=_is_lunar(m), say_ngay=_say_ngay(m)))


def _day_range_date(m: re.Match[str]) -> str:
    d1, d2, month, year = int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4)
    if not (_valid_day_month(d1, month) and _valid_day_month(d2, month) and d1 < d2):
        return _loose(m.group(0))
    joiner = "và" if d2 == d1 + 1 else "đến"
    words = [_day_words(d1), joiner, _day_words(d2), "tháng", _month_words(month, lunar=_is_lunar(m))]
    if year:
        words += ["năm", read_number(int(year))]
    if _say_ngay(m):
        words.insert(0, "ngày")
    return _after_mung(m, " ".join(words))


def _date_range(m: re.Match[str]) -> str:
    d1, m1, y1, d2, m2, y2 = m.groups()
    if not (_valid_day_month(int(d1), int(m1)) and _valid_day_month(int(d2), int(m2))):
        return _loose(m.group(0))
    lunar = _is_lunar(m)
    first = _date_words(int(d1), int(m1), y1, lunar=lunar, say_ngay=_say_ngay(m))
    second = _date_words(int(d2), int(m2), y2, lunar=lunar)
    return _after_mung(m, f"{first} đến {second}")


def _day_month(m: re.Match[str]) -> str:
    day, month = int(m.group(1)), int(m.group(2))
    if not _valid_day_month(day, month):
        return _loose(m.group(0))
    return _after_mung(m, _date_words(day, month, None, lunar=_is_lunar(m), say_ngay=_say_ngay(m)))


def _month_year(m: re.Match[str]) -> str:
    month, year = int(m.group(1)), m.group(2)
    if not 1 <= month <= 12:
        return _loose(m.group(0))
    before = _words_before(m)
    year_words = read_number(int(year))
    if before in ("quý", "kỳ", "đợt", "số"):
        return f" {read_number(month)} năm {year_words} "
    prefix = "" if before == "tháng" else "tháng "
    return f" {prefix}{_month_words(month, lunar=_is_lunar(m))} năm {year_words} "


def _dates(text: str) -> str:
    sep = r"[/.\-]"
    # Round-the-clock phrases are not dates.
    text = _sub(r"(?<![0-9.,/])24/(24|7)(?:\s?(?:h|giờ)(?!\w))?(?![0-9/])",
                lambda m: f" hai mươi tư trên {read_number(int(m.group(1)))}{' giờ' if m.group(0)[-1] in 'hờ' else ''} ",
                text)
    # 20/10-25/10(/2024): a range of full dates.
    text = _sub(rf"{_D}/([0-9]{{1,2}})(?:/([0-9]{{4}}))?\s?[-–]\s?([0-9]{{1,2}})/([0-9]{{1,2}})(?:/([0-9]{{4}}))?(?![0-9/])",
                _date_range, text)
    # ngày 5-6/10(/2024): two days of one month.
    text = _sub(rf"{_D}\s?[-–]\s?([0-9]{{1,2}})/([0-9]{{1,2}})(?:/([0-9]{{4}}))?(?![0-9/])", _day_range_date, text)
    # 25/12/2024, 25-12-2024, 25.12.2024 (the separators must agree).
    text = _sub(rf"{_D}({sep})([0-9]{{1,2}})\2{_Y}",
                lambda m: _full_date(_Regrouped(m, (1, 3, 4))), text)
    # 12/2024: month and year.
    text = _sub(rf"(?<![0-9.,/])([0-9]{{1,2}})/{_Y}", _month_year, text)
    # 2/9: day and month.
    text = _sub(rf"{_D}/([0-9]{{1,2}})(?![0-9/])", _day_month, text)
    # "ngày 2 tháng 9" written out: days one to ten still take "mùng".
    text = _sub(r"(?<!\w)((?i:ngày))\s(0?[1-9]|10)(?=\s(?i:tháng))", lambda m: f"{m.group(1)} mùng {read_number(int(m.group(2)))}",
                text)
    text = _sub(r"(?<!\w)((?i:tháng))\s(0?[1-9]|1[0-2])(?![0-9]|[,./][0-9])",
                lambda m: f"{m.group(1)} {_month_words(int(m.group(2)), lunar=_is_lunar(m))} ", text)
    return text


class _Regrouped:
    """A match seen through a subset of its groups, so date readers share one signature."""

    def __init__(self, match: re.Match[str], groups: tuple[int, ...]) -> None:
        self._match = match
        self._groups = groups
        self.string = match.string

    def group(self, index: int = 0) -> str:
        return self._match.group(0 if index == 0 else self._groups[index - 1])

    def start(self) -> int:
        return self._match.start()

    def end(self) -> int:
        return self._match.end()

    def groups(self) -> tuple[str | None, ...]:
        return tuple(self._match.group(i) for i in self._groups)


def _phone_digits(token: str) -> str:
    """Digit by digit, with a pause between the groups as written (easier to note down)."""
    groups = [g for g in re.split(r"[ .\-]", token.replace("+84", "+84 ")) if g]
    spoken = []
    for group in groups:
        spoken.append("cộng " + read_digits(group) if group.startswith("+") else read_digits(group))
    return ", ".join(spoken)


_PHONE_CONTEXT = (r"(?:hotline|đường dây nóng|tổng đài|điện thoại|số máy|fax|gọi(?: ngay)?(?: (?:đến|tới|cho))?"
                  r"(?: số)?|liên hệ(?: số)?|số điện thoại)")


_PHONE_WORDS = ("gọi", "hotline", "đường dây nóng", "tổng đài", "điện thoại", "số máy", "báo ngay", "liên hệ")


def _phone(m: re.Match[str]) -> str:
    token = m.group(0)
    count = sum(ch.isdigit() for ch in token)
    if not 9 <= count <= 12:
        return token
    return f" {_phone_digits(token)} "


def _emergency_number(m: re.Match[str]) -> str:
    # 111-115 are hotlines (child protection, rescue, police, fire, ambulance) when a phone
    # word is near: "Số điện thoại cứu hộ: 112"; otherwise plain numbers ("113 hộ").
    before = m.string[max(0, m.start() - 30):m.start()].lower()
    if any(word in before for word in _PHONE_WORDS) and not any(ch.isdigit() for ch in before[-12:]):
        return f" {read_digits(m.group(0))} "
    return m.group(0)


def _phones(text: str) -> str:
    # Mobile and landline numbers: 0912 345 678, 0243.826.123, +84 912 345 678.
    text = _sub(r"(?<![0-9.,/+])(?:\+84[ .]?|0)[0-9]{1,4}(?:[ .\-]?[0-9]{2,4}){2,3}(?![0-9]|[.,/][0-9])",
                _phone, text)
    # Service numbers: 1900 1234, 1800 1091.
    text = _sub(r"(?<![0-9.,/])1[89]00[ .]?[0-9]{4}(?:[ .]?[0-9]{2})?(?![0-9])",
                lambda m: f" {_phone_digits(m.group(0))} ", text)
    # After a phone word any number is read digit by digit: "gọi 113", "tổng đài 1022".
    text = _sub(rf"(?<!\w)({_PHONE_CONTEXT})(\s?:?\s?)([0-9]{{3,}}(?:[ .\-][0-9]{{2,}})*)(?![0-9])",
                lambda m: f"{m.group(1)}{m.group(2)} {_phone_digits(m.group(3))} ", text, re.IGNORECASE)
    return _sub(r"(?<![0-9.,/])11[1-5](?![0-9]|[.,][0-9])", _emergency_number, text)


def _documents(text: str) -> str:
    """Legal document numbers: 100/2019/NĐ-CP "một trăm năm hai nghìn không trăm mười chín NĐ CP"."""
    code = r"([A-ZĐ][A-ZĐ0-9]*(?:-[A-ZĐ0-9]+)*-?)"
    text = _sub(rf"(?<![0-9.,/])([0-9]+)/([0-9]{{4}})/{code}",
                lambda m: f" {read_integer_text(m.group(1))} năm {read_number(int(m.group(2)))} "
                          f"{m.group(3).replace('-', ' ')} ", text)
    return _sub(rf"(?<![0-9.,/])([0-9]+)/{code}(?![\w-])",
                lambda m: f" {read_integer_text(m.group(1))} {m.group(2).replace('-', ' ')} ", text)


def _time_words(hour: int, minute: int, second: int | None = None) -> str:
    words = [read_number(hour), "giờ"]
    if minute:
        words += [read_number(minute), "phút"]
    if second:
        words += [read_number(second), "giây"]
    return " ".join(words)


def _times(text: str) -> str:
    def hm(m: re.Match[str]) -> str:
        hour, minute = int(m.group(1)), int(m.group(2))
        second = int(m.group(3)) if m.re.groups >= 3 and m.group(3) else None
        if hour > 24 or minute > 59 or (second is not None and second > 59):
            return _loose(m.group(0).replace(":", "/"))
        return f" {_time_words(hour, minute, second)} "

    text = _sub(r"(?<![0-9.,/:])([0-9]{1,2})[hg]([0-9]{2})(?:'|ph\b|p\b)?(?![0-9])", hm, text)
    text = _sub(r"(?<![0-9.,/:])([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?(?![0-9:])", hm, text)
    return text


# A dash between two quantities is a range: 50-60 triệu, 7h-9h, 20°C - 25°C.
_RANGE_RE = r"(?:(?<=[0-9%°'])|(?<=[0-9][hgC])|(?<=°C))\s?[-–—]\s?(?=[0-9])"

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


def _alternation(keys: object) -> str:
    return "|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True))  # type: ignore[arg-type]


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


def _numbers(text: str) -> str:
    # Runs of 16+ digits are identifiers; reading them first keeps later patterns short.
    text = _sub(r"[0-9]{16,}", lambda m: f" {read_digits(m.group(0))} ", text)
    text = _sub(rf"(?<!{_LETTER})({_alternation(_SYMBOL_UNITS)})(?![\w])",
                lambda m: f" {_SYMBOL_UNITS[m.group(1)]} ", text)
    text = _sub(r"(?<=[0-9])(\s?)(?:°\s?C|oC)(?![\w])|(?<!\w)độ C(?![\w])", lambda m: " độ xê ", text)
    text = _sub(r"(?<=[0-9])\s?°(?!\s?[FK])", " độ ", text)
    text = _sub(r"%", " phần trăm ", text)
    text = _sub(r"‰", " phần nghìn ", text)
    # Negative only where it is unambiguous: temperatures (-5 độ).
    # A minus glued to a number that no range claimed: -5 độ, nhiệt độ -2.
    text = _sub(r"(?<![\w.,-])-(?=[0-9])", " âm ", text)
    text = _sub(r"(?<=[0-9])\s?[x×]\s?(?=[0-9])", " nhân ", text)
    text = _sub(r"(?<=[0-9])\s?\+\s?(?=[0-9])", " cộng ", text)
    # Road markers: Km 15+300 "ki lô mét mười lăm cộng ba trăm".
    text = _sub(r"(?<!\w)[Kk]m\s?(?=[0-9])", " ki lô mét ", text)
    text = _sub(r"[~≈]\s?(?=[0-9])", " khoảng ", text)
    text = _sub(r"(?:>=|≥)\s?(?=[0-9])", " từ ", text)
    text = _sub(r">\s?(?=[0-9])", " trên ", text)
    text = _sub(r"(?:<=|≤)\s?(?=[0-9])", " không quá ", text)
    text = _sub(r"<\s?(?=[0-9])", " dưới ", text)
    # Ordinals: thứ 2 "thứ hai", lần thứ 1 "lần thứ nhất", thứ 2, 4, 6 "thứ hai, thứ tư, thứ sáu".
    text = _sub(r"(?<!\w)((?i:thứ))\s([0-9]{1,2}(?:(?:,\s?|\s?-\s?|\svà\s|\sđến\s)[0-9]{1,2})*)(?![0-9]|[,.][0-9])",
                _ordinal_list, text)

    def number_with_unit(m: re.Match[str]) -> str:
        words = _read_number_token(m.group(1))
        unit = m.group(2)
        return f" {words} {_UNITS[unit]} " if unit else f" {words} "

    text = _sub(rf"({_NUMBER})(?:\s?({_alternation(_UNITS)})(?![\w]))?", number_with_unit, text)
    # Anything left (digits glued to odd symbols) is read digit by digit: no digit reaches the engine.
    return _sub(r"[0-9]+", lambda m: f" {read_integer_text(m.group(0))} ", text)


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


def _per_units(text: str) -> str:
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

    text = _sub(rf"(?<=\S)\s?/\s?({_alternation(_PER_UNITS)})(?![\w])", per, text)
    # A price per anything: 50.000 đồng/hồ sơ "năm mươi nghìn đồng một hồ sơ".
    text = _sub(rf"(?:(?<=đồng)|(?<=[0-9]đ))\s?/\s?(?={_LETTER})", " một ", text)
    # Dates and document numbers are gone by now: a slash before a number is "per" (mg/100 ml).
    return _sub(r"(?<=\S)\s?/\s?(?=[0-9])", " trên ", text)


_ROMAN_CONTEXT = (r"quý|đại hội|khóa|khoá|lần thứ|thế kỷ|thế kỉ|chương|phần|mục|đợt|giai đoạn|kỳ|kì"
                  r"|quân khu|hội nghị trung ương|thứ|cấp|vùng|tập|số")


def _romans(text: str) -> str:
    def in_context(m: re.Match[str]) -> str:
        value = roman_to_int(m.group(2))
        if value is None:
            return m.group(0)
        keyword = m.group(1)
        spoken = read_ordinal(value) if keyword.lower().endswith("thứ") else read_number(value)
        year = f" năm {read_number(int(m.group(3)))}" if m.group(3) else ""
        return f"{keyword} {spoken}{year} "

    text = _sub(rf"(?<!\w)((?i:{_ROMAN_CONTEXT}))\s([IVX]{{1,7}})(?:/([0-9]{{4}}))?(?![\w])", in_context, text)

    def standalone(m: re.Match[str]) -> str:
        value = roman_to_int(m.group(0))
        return m.group(0) if value is None else f" {read_number(value)} "

    return _sub(r"(?<![\w])[IVX]{2,6}(?![\w])", standalone, text)


# ---------------------------------------------------------------------------------------------
# Capitals: headings in capitals, acronyms, single letters
# ---------------------------------------------------------------------------------------------

_LETTER_NAMES: dict[str, str] = {
    "A": "a", "Ă": "á", "Â": "ớ", "B": "bê", "C": "xê", "D": "đê", "Đ": "đê", "E": "e", "Ê": "ê",
    "F": "ép", "G": "giê", "H": "hát", "I": "i", "J": "gi", "K": "ca", "L": "lờ", "M": "mờ", "N": "nờ",
    "O": "o", "Ô": "ô", "Ơ": "ơ", "P": "pê", "Q": "quy", "R": "rờ", "S": "ét", "T": "tê", "U": "u",
    "Ư": "ư", "V": "vê", "W": "vê kép", "X": "ích", "Y": "y", "Z": "dét",
}
_VOWELS = "aàáảãạăằắẳẵặâầấẩẫậeèéẻẽẹêềếểễệiìíỉĩịoòóỏõọôồốổỗộơờớởỡợuùúủũụưừứửữựyỳýỷỹỵ"
_SYLLABLE_RE = re.compile(
    rf"(?:ngh|ng|gh|gi|kh|nh|ph|qu|th|tr|ch|[bcdđghklmnprstvx])?[{_VOWELS}]{{1,3}}(?:ng|nh|ch|[cmnpt])?"
)


def _is_vietnamese_syllable(word: str) -> bool:
    return _SYLLABLE_RE.fullmatch(word.lower()) is not None


def _spell(word: str) -> str:
    return " ".join(_LETTER_NAMES.get(ch, ch.lower()) for ch in word)


def _capitals(text: str) -> str:
    def word(m: re.Match[str]) -> str:
        token = m.group(0)
        if not token.isupper():
            return token
        if len(token) == 1 and _is_vietnamese_syllable(token):
            # A lone vowel (Y tế, cúm A) is read as it stands.
            return token
        if _is_vietnamese_syllable(token):
            # A heading in capitals (THÔNG BÁO) is read as words, not spelled.
            return token.lower()
        return _spell(token)

    return _sub(rf"{_LETTER}+", word, text)


# ---------------------------------------------------------------------------------------------
# Punctuation
# ---------------------------------------------------------------------------------------------

_PUNCT_STRENGTH = {"?": 5, "!": 5, ".": 4, "…": 4, ";": 3, ":": 2, ",": 1}


def _punctuation(text: str) -> str:
    text = _sub(r"\s+", " ", text)
    text = text.replace("...", "…")
    text = _sub(r"[()\[\]{}]", " , ", text)
    text = _sub(r"[\"“”‘’«»'`]", " ", text)
    text = _sub(r"&", " và ", text)
    text = _sub(r"±", " cộng trừ ", text)
    text = _sub(r"(?<=\S)\s?=\s?(?=\S)", " bằng ", text)
    # A dash standing alone is a pause; a hyphen inside a word joins two words (vắc-xin).
    text = _sub(r"(?:^|\s)[-–—]+(?=\s|$)", " , ", text)
    text = _sub(r"[-–—]", " ", text)
    text = _sub(r"[/\\|_*#@+=<>~^$€£•·≈≥≤×°²³]", " ", text)
    text = _sub(r"\.(?=\w)", ". ", text)

    def collapse(m: re.Match[str]) -> str:
        marks = [ch for ch in m.group(0) if ch in _PUNCT_STRENGTH]
        strongest = max(marks, key=lambda ch: _PUNCT_STRENGTH[ch])
        return f"{strongest} "

    text = _sub(r"\s+", " ", text)
    text = _sub(r" ?[.,;:!?…](?: ?[.,;:!?…])* ?", collapse, text)
    text = _sub(r"\s+", " ", text).strip()
    # Nothing to pause after at the very start, nor a dangling comma at the end.
    return text.lstrip(".,;:!?… ").rstrip(",;: ")


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------

_HAS_LETTER_RE = re.compile(_LETTER)


def normalize_for_speech(text: str, abbreviations: Mapping[str, str] | None = None) -> str:
    """The spoken form of ``text`` for espeak-ng's Vietnamese voice: words and pause punctuation only.

    ``abbreviations`` defaults to ``load_abbreviations()`` (shipped + commune dictionary).
    Raises ValidationError (bilingual) when the text is not a string, is longer than
    MAX_INPUT_CHARS, or has nothing speakable (empty, whitespace, markup or foreign script only).
    """
    if not isinstance(text, str):
        raise ValidationError("Văn bản cần đọc phải là chuỗi ký tự.", "The text to read must be a string.")
    if len(text) > MAX_INPUT_CHARS:
        raise ValidationError(
            f"Văn bản quá dài ({len(text)} ký tự, tối đa {MAX_INPUT_CHARS}). Hãy chia thành nhiều bản tin.",
            f"The text is too long ({len(text)} characters, at most {MAX_INPUT_CHARS}). Split it into several bulletins.",
        )
    items = (_default_abbreviations() if abbreviations is None
             else tuple((unicodedata.normalize("NFC", k), v) for k, v in abbreviations.items() if k and v))

    s = unicodedata.normalize("NFC", text)
    s = _strip_markup(s)
    s = s.translate(_CHAR_MAP)
    # Abbreviations first, so "V/v" at the start of a line is not taken for a Roman five.
    s = _expand_abbreviations(s, items)
    s = _HEADING_ROMAN_RE.sub(_heading_roman, s)
    s = _BULLET_RE.sub("", s)
    s = _join_lines(s)
    s = _SPACES_RE.sub(" ", s)
    # Joining lines may add the "." that completes a key such as "TT." ("TT\n" -> "TT.").
    s = _expand_abbreviations(s, items)
    s = _ADDRESS_RE.sub(_address, s)
    s = _phones(s)
    s = _documents(s)
    s = _romans(s)
    s = _dates(s)
    s = _sub(_RANGE_RE, " đến ", s)
    s = _per_units(s)
    s = _times(s)
    s = _numbers(s)
    s = _capitals(s)
    s = _punctuation(s)
    if not _HAS_LETTER_RE.search(s):
        raise ValidationError(
            "Văn bản không có nội dung đọc được (trống, chỉ có khoảng trắng, thẻ đánh dấu hoặc chữ không phải tiếng Việt).",
            "The text has nothing to read aloud (empty, whitespace, markup only, or no Vietnamese script).",
        )
    return s


__all__ = [
    "DEFAULT_ABBREVIATIONS_PATH",
    "DIGITS",
    "MAX_INPUT_CHARS",
    "SYSTEM_ABBREVIATIONS_PATH",
    "load_abbreviations",
    "normalize_for_speech",
    "read_number",
]
