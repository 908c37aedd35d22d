"""Reading numbers aloud in standard Northern Vietnamese, as a radio announcer would.

Pure functions over ints and digit strings; no regexes, no I/O. The conventions (lẻ, mốt,
lăm, tư, nghìn, tỷ, skipping all-zero groups) are written down in docs/normalization.md.
"""

from __future__ import annotations

DIGITS: tuple[str, ...] = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")

# Past this, a "number" is really an identifier (account, serial): read it digit by digit.
MAX_READ_AS_NUMBER = 10**18

_ROMAN_VALUES: dict[str, int] = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}


def _read_tens_units(n: int) -> str:
    """0 < n < 100, as spoken after nothing (a leading group) or after "trăm"/"lẻ"."""
    tens, units = divmod(n, 10)
    if tens == 0:
        return DIGITS[units]
    words = ["mười"] if tens == 1 else [DIGITS[tens], "mươi"]
    if units == 1:
        # "mốt" only after "mươi": 21 hai mươi mốt, but 11 mười một.
        words.append("một" if tens == 1 else "mốt")
    elif units == 4:
        # "tư" after "mươi" (24 hai mươi tư); 14 stays "mười bốn".
        words.append("bốn" if tens == 1 else "tư")
    elif units == 5:
        words.append("lăm")
    elif units:
        words.append(DIGITS[units])
    return " ".join(words)


def _read_group(n: int, *, leading: bool) -> str:
    """0 < n < 1000. A non-leading group always says its hundreds ("không trăm")."""
    hundreds, rest = divmod(n, 100)
    if leading and hundreds == 0:
        return _read_tens_units(rest)
    words = [DIGITS[hundreds], "trăm"]
    if rest == 0:
        return " ".join(words)
    if rest < 10:
        words.append("lẻ")
    words.append(_read_tens_units(rest))
    return " ".join(words)


def _read_below_billion(n: int, *, leading: bool) -> list[str]:
    """0 <= n < 10**9 as words; all-zero groups are skipped (1.000.005 một triệu không trăm lẻ năm)."""
    parts: list[str] = []
    for scale, name in ((1_000_000, "triệu"), (1_000, "nghìn"), (1, "")):
        group, n = divmod(n, scale)
        if group == 0:
            continue
        parts.append(_read_group(group, leading=leading and not parts))
        if name:
            parts.append(name)
    return parts


def _read(n: int, *, leading: bool) -> list[str]:
    if n >= 1_000_000_000:
        billions, rest = divmod(n, 1_000_000_000)
        # Above a billion Vietnamese stacks scales: 1.000 tỷ "một nghìn tỷ".
        return [*_read(billions, leading=leading), "tỷ", *_read_below_billion(rest, leading=False)]
    return _read_below_billion(n, leading=leading)


def read_number(n: int) -> str:
    """A non-negative integer in words: 105 "một trăm lẻ năm", 2024 "hai nghìn không trăm hai mươi tư".

    Negative numbers are prefixed with "âm". Numbers of 10**18 and above are read digit by digit.
    """
    if n < 0:
        return "âm " + read_number(-n)
    if n == 0:
        return DIGITS[0]
    if n >= MAX_READ_AS_NUMBER:
        return read_digits(str(n))
    return " ".join(_read(n, leading=True))


def read_digits(digits: str) -> str:
    """Digit by digit, as for phone numbers: "0912" "không chín một hai". Non-digits are ignored."""
    return " ".join(DIGITS[int(ch)] for ch in digits if "0" <= ch <= "9")


def read_integer_text(digits: str) -> str:
    """An integer as written: a leading zero ("05", "0243") means a code, read digit by digit."""
    if len(digits) > 1 and digits[0] == "0":
        return read_digits(digits)
    return read_number(int(digits)) if digits else ""


def read_decimal(integer_digits: str, fraction_digits: str) -> str:
    """``94,5`` "chín mươi tư phẩy năm"; ``1,25`` "một phẩy hai mươi lăm"; ``0,05`` "không phẩy không năm".

    A fraction of one or two digits without a leading zero is read as a number (how announcers
    say prices and rates); anything else digit by digit, so no digit is ever lost.
    """
    whole = read_number(int(integer_digits)) if integer_digits else DIGITS[0]
    if len(fraction_digits) <= 2 and not fraction_digits.startswith("0"):
        fraction = read_number(int(fraction_digits))
    else:
        fraction = read_digits(fraction_digits)
    return f"{whole} phẩy {fraction}"


def read_ordinal(n: int) -> str:
    """The word after "thứ": 1 "nhất", 4 "tư", otherwise the cardinal (thứ hai, thứ mười bốn)."""
    if n == 1:
        return "nhất"
    if n == 4:
        return "tư"
    return read_number(n)


def roman_to_int(text: str) -> int | None:
    """A strictly well-formed Roman numeral (I..MMMCMXCIX) to int; None if it is not one."""
    if not text or any(ch not in _ROMAN_VALUES for ch in text):
        return None
    total = 0
    for i, ch in enumerate(text):
        value = _ROMAN_VALUES[ch]
        if i + 1 < len(text) and _ROMAN_VALUES[text[i + 1]] > value:
            total -= value
        else:
            total += value
    # Round-tripping rejects malformed forms such as "IIII", "VX" or "IC".
    return total if 0 < total < 4000 and int_to_roman(total) == text else None


def int_to_roman(n: int) -> str:
    parts: list[str] = []
    for value, symbol in ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
                          (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        count, n = divmod(n, value)
        parts.append(symbol * count)
    return "".join(parts)
