"""Legal document numbers: 100/2019/NĐ-CP, 1234/QĐ-UBND, 123/QĐ-TTg, 05/2024/TT-BYT, 18/2023/QH15.

A document number is a count, so a leading zero is dropped (``05/2024/TT-BYT`` "năm năm hai
nghìn…"); the year is read as a year; the type and issuer code (``NĐ-CP``, ``TT-BYT``, mixed-case
``QĐ-TTg``, ``TTr-UBND``) is spelled letter by letter with Vietnamese letter names, since a code
such as ``BYT`` would otherwise be read as one syllable. Parts the dictionary knows (UBND) have
already been expanded by the time this rule runs.
"""

from __future__ import annotations

from ..numbers import read_number
from .capitals import spell_code
from .patterns import sub

_CODE = r"([A-ZĐ][A-Za-zĐđ0-9]*(?:-[A-ZĐ][A-Za-zĐđ0-9]*)*-?)"


def _count(digits: str) -> str:
    return read_number(int(digits))


def _code(code: str) -> str:
    return " ".join(spell_code(part) for part in code.split("-") if part)


def read_documents(text: str) -> str:
    text = sub(rf"(?<![0-9.,/])([0-9]+)/([0-9]{{4}})/{_CODE}(?![\w])",
               lambda m: f" {_count(m.group(1))} năm {read_number(int(m.group(2)))} {_code(m.group(3))} ", text)
    # The code was partly expanded by the dictionary ("18/2023/QH15" -> "18/2023/ quốc hội 15").
    text = sub(r"(?<![0-9.,/])([0-9]+)/([0-9]{4})/(?=\s?[^\W\d_])",
               lambda m: f" {_count(m.group(1))} năm {read_number(int(m.group(2)))} ", text)
    return sub(rf"(?<![0-9.,/])([0-9]+)/{_CODE}(?![\w-])",
               lambda m: f" {_count(m.group(1))} {_code(m.group(2))} ", text)



