"""Passwords people guess first are refused, not only short ones (issue 11: `1234567890` was
accepted). Pure rules over the password (and the user name), plus a bundled list of the 10,000
most common passwords (``data/common-passwords.txt.gz``, see data/README.md), read once.

A password is weak when, compared without accents, case or spaces: it is on the list, or is a
list entry or a common Vietnamese word with digits or symbols around it; it has only digits, or
only one or two different characters; it is a run of consecutive characters or a keyboard row;
it is a date (ddmmyyyy, a birthday); or it contains the user name.
"""

from __future__ import annotations

import functools
import gzip
import re
import unicodedata
from pathlib import Path

_LIST = Path(__file__).resolve().parent / "data" / "common-passwords.txt.gz"
# Words Vietnamese users build passwords from (without accents): refused alone or with digits.
VIETNAMESE_WORDS = frozenset({
    "matkhau", "anhyeuem", "emyeuanh", "yeuem", "yeuanh", "iloveyou", "vietnam", "hanoi", "saigon",
    "hochiminh", "danang", "haiphong", "xinchao", "admin", "quantri", "quantrivien", "truyenthanh",
    "daitruyenthanh", "loaphuong", "ubnd", "uybannhandan", "xa", "thon", "congan", "password", "matma",
    "nguyen", "tran", "pham", "hoang", "phan", "vu", "dang", "bui", "do", "ho", "ngo", "duong", "ly",
    "huong", "linh", "trang", "thao", "hung", "tuan", "dung", "minh", "nam", "long", "anh", "em",
})
_KEYBOARD = ("qwertyuiop", "asdfghjkl", "zxcvbnm", "1234567890", "qazwsxedc", "1qaz2wsx3edc")
_DATE = re.compile(r"^(0[1-9]|[12]\d|3[01])(0[1-9]|1[0-2])(19|20)\d\d$")


@functools.cache
def common_passwords() -> frozenset[str]:
    with gzip.open(_LIST, "rt", encoding="utf-8") as handle:
        return frozenset(line.strip().lower() for line in handle if line.strip())


def plain(text: str) -> str:
    """Lower case, no accents (đ -> d), no spaces: 'Mật Khẩu 1' -> 'matkhau1'."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c) and not c.isspace()).lower()


def _sequential(text: str) -> bool:
    steps = {ord(b) - ord(a) for a, b in zip(text, text[1:], strict=False)}
    return len(text) > 2 and len(steps) == 1 and steps <= {1, -1}


def _keyboard(text: str) -> bool:
    return any(text in row or text in row[::-1] for row in _KEYBOARD) or \
        any(len(text) >= 6 and text in row * 3 for row in _KEYBOARD)


def weakness(password: str, username: str = "") -> tuple[str, str] | None:
    """Why ``password`` is too easy to guess, as (Vietnamese, English); None when it is not."""
    flat = plain(password)
    core = re.sub(r"^[\d\W_]+|[\d\W_]+$", "", flat)
    listed = common_passwords()
    if password.lower() in listed or flat in listed:
        return ("Mật khẩu này nằm trong danh sách mật khẩu phổ biến nhất.",
                "This password is on the list of the most common passwords.")
    if core and core != flat and (core in listed or core in VIETNAMESE_WORDS):
        return ("Mật khẩu chỉ là một từ phổ biến thêm chữ số hoặc ký hiệu.",
                "The password is only a common word with digits or symbols added.")
    if core in VIETNAMESE_WORDS:
        return "Mật khẩu là một từ quá phổ biến.", "The password is a word that is too common."
    if flat.isdigit():
        return ("Mật khẩu không được chỉ gồm chữ số.", "The password must not be digits only.")
    if len(set(flat)) <= 2:
        return ("Mật khẩu lặp lại quá ít ký tự khác nhau.", "The password repeats too few different characters.")
    if _sequential(flat) or _keyboard(flat):
        return ("Mật khẩu là một dãy ký tự liền nhau trên bàn phím hoặc trong bảng chữ.",
                "The password is a run of consecutive or keyboard characters.")
    if _DATE.match(re.sub(r"\D", "", flat)) and len(re.sub(r"\d", "", flat)) <= 2:
        return ("Mật khẩu là một ngày tháng (ví dụ ngày sinh).", "The password is a date (a birthday, say).")
    name = plain(username)
    if len(name) >= 3 and name in flat:
        return ("Mật khẩu không được chứa tên đăng nhập.", "The password must not contain the user name.")
    return None
