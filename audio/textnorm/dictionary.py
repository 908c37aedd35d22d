"""The abbreviation dictionary: loading its layered TOML files (the only I/O) and expanding keys.

Keys are matched through one trie-shaped regex, so the cost is linear in the text, not in text x keys.
"""

from __future__ import annotations

import functools
import re
import tomllib
import unicodedata
from pathlib import Path

from protocol.errors import ConfigError

from .patterns import LETTER, WORD_CHAR

# A link to config/abbreviations.toml in the source tree; a real file in an installed package.
DEFAULT_ABBREVIATIONS_PATH = Path(__file__).parent.parent / "assets" / "abbreviations.toml"
SYSTEM_ABBREVIATIONS_PATH = Path("/etc/commune-radio/abbreviations.toml")
_MAX_KEY_CHARS = 60
_MAX_VALUE_CHARS = 200


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
def default_abbreviations() -> tuple[tuple[str, str], ...]:
    return tuple(load_abbreviations().items())


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
            branches.append(rf"(?<!{LETTER}){_trie_pattern(word_start, flags)}")
        if other_start:
            branches.append(_trie_pattern(other_start, flags))
        return re.compile("|".join(branches), flags)

    return build(exact, 0), build(anycase, re.IGNORECASE), lookup


def _right_boundary(key: str) -> str:
    # A key ending in a letter may run into a digit (QL1A); one ending in a digit may not.
    if key[-1].isdigit():
        return rf"(?!{WORD_CHAR})"
    if key[-1].isalpha():
        return rf"(?!{LETTER})"
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


def expand_abbreviations(text: str, items: tuple[tuple[str, str], ...]) -> str:
    exact, anycase, lookup = _compile_abbreviations(items)
    if exact is not None:
        text = exact.sub(lambda m: f" {lookup[m.group(0)]} ", text)
    if anycase is not None:
        text = anycase.sub(lambda m: f" {lookup[m.group(0).lower()]} ", text)
    return text

