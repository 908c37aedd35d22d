"""Registering many devices at once from a CSV file, with a token file per device.

The file has a header row naming its columns: ``device_id`` and ``zones`` (zone names separated
by spaces or ``;``), optionally ``province``. ``parse_csv`` reads it (pure; a bad line is an
error naming the line, and nothing is registered); ``Catalog.add_devices`` registers every
device in one transaction; ``write_token_files`` writes ``<device_id>.token`` files (0600,
written to a temporary name, synced, renamed) for the installers, and ``token_zip`` packs them
for the page's download.
"""

from __future__ import annotations

import csv
import io
import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from protocol.errors import ValidationError

MAX_DEVICES = 50_000
MAX_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class NewDevice:
    device_id: str
    zones: tuple[str, ...]
    province: str


def parse_csv(text: str) -> list[NewDevice]:
    """The devices a CSV text names. Raises ValidationError (with the line number)."""
    if text.startswith("\ufeff"):  # spreadsheet programs write a byte-order mark
        text = text[1:]
    sample = text[:4096]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    fields = {(f or "").strip().lower() for f in reader.fieldnames or ()}
    if not {"device_id", "zones"} <= fields:
        raise ValidationError("Tệp CSV cần dòng tiêu đề có cột device_id và zones (tuỳ chọn: province).",
                              "The CSV file needs a header row with device_id and zones columns (optional: province).")
    out: list[NewDevice] = []
    for row in reader:
        line = reader.line_num
        values: Mapping[str, str] = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()
                                     if isinstance(v, str)}
        if not any(values.values()):
            continue
        device_id = values.get("device_id", "")
        zones = tuple(z for z in values.get("zones", "").replace(";", " ").split() if z)
        if not device_id or not zones:
            raise ValidationError(f"Dòng {line}: thiếu device_id hoặc zones.", f"Line {line}: device_id or zones missing.")
        out.append(NewDevice(device_id, zones, values.get("province", "")))
        if len(out) > MAX_DEVICES:
            raise ValidationError(f"Tối đa {MAX_DEVICES} thiết bị mỗi tệp.", f"At most {MAX_DEVICES} devices per file.")
    if not out:
        raise ValidationError("Tệp CSV không có thiết bị nào.", "The CSV file names no device.")
    return out


def token_file_text(device_id: str, token: str) -> str:
    """What a token file holds: the environment line the station's secrets.env takes."""
    return f"# commune-radio device {device_id}\nCOMMUNE_RADIO_DEVICE_TOKEN={token}\n"


def write_token_files(directory: Path, tokens: Mapping[str, str]) -> list[Path]:
    """One ``<device_id>.token`` per device (0600); refuses to replace an existing file."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    existing = [d for d in tokens if (directory / f"{d}.token").exists()]
    if existing:
        raise ValidationError(f"Tệp mã đã có: {existing[0]}.token (chọn thư mục khác).",
                              f"A token file exists already: {existing[0]}.token (choose another directory).")
    paths = []
    for device_id, token in tokens.items():
        final = directory / f"{device_id}.token"
        temp = directory / f".{device_id}.token.tmp"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(token_file_text(device_id, token))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, final)
        paths.append(final)
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return paths


def token_zip(tokens: Mapping[str, str]) -> bytes:
    """The token files in a zip archive (the page's download)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for device_id, token in tokens.items():
            info = zipfile.ZipInfo(f"{device_id}.token", date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o600 << 16
            archive.writestr(info, token_file_text(device_id, token))
    return buffer.getvalue()
