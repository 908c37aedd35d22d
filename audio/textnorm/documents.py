"""Legal document numbers: 100/2019/NĐ-CP, 1234/QĐ-UBND."""

from __future__ import annotations

from ..numbers import read_integer_text, read_number
from .patterns import sub


def read_documents(text: str) -> str:
    """Legal document numbers: 100/2019/NĐ-CP "một trăm năm hai nghìn không trăm mười chín NĐ CP"."""
    code = r"([A-ZĐ][A-ZĐ0-9]*(?:-[A-ZĐ0-9]+)*-?)"
    text = sub(rf"(?<![0-9.,/])([0-9]+)/([0-9]{{4}})/{code}",
                lambda m: f" {read_integer_text(m.group(1))} năm {read_number(int(m.group(2)))} "
                          f"{m.group(3).replace('-', ' ')} ", text)
    return sub(rf"(?<![0-9.,/])([0-9]+)/{code}(?![\w-])",
                lambda m: f" {read_integer_text(m.group(1))} {m.group(2).replace('-', ' ')} ", text)

