"""The demo's folder: the demo deletes only what a previous demo run created there.

A folder the demo sets up carries a marker file (``.commune-radio-demo``). ``claim(base)``
accepts a missing or empty folder, or a previous demo folder (from which it removes only the
entries the demo creates, leaving anything else an operator put there); any other non-empty
folder is refused with a bilingual error, and nothing in it is touched.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from protocol.errors import CommuneRadioError

MARKER = ".commune-radio-demo"
# Everything the demo creates directly under its folder (appliance.demo.appliance_settings and
# prepare_environment): nothing else is ever removed.
ENTRIES = ("central", "appliance", "capture", "seed", "appliance.toml")


class DemoFolderRefused(CommuneRadioError):
    """The folder given to ``commune-radio demo --data`` holds something the demo did not create."""


def claim(base: Path) -> list[str]:
    """Make ``base`` ready for a fresh demo run; returns the names left alone (not the demo's)."""
    if base.exists() and not base.is_dir():
        raise DemoFolderRefused(
            f"{base} không phải là thư mục: demo không dùng nó. Hãy chọn thư mục khác với --data.",
            f"{base} is not a folder: the demo will not use it. Choose another one with --data.",
            code="invalid_input.demo_folder")
    if base.exists() and any(base.iterdir()) and not (base / MARKER).is_file():
        raise DemoFolderRefused(
            f"Thư mục {base} đã có dữ liệu không phải của demo: demo không xoá nó. "
            "Hãy chọn một thư mục trống hoặc chưa có, với --data.",
            f"The folder {base} holds data the demo did not create: the demo will not delete it. "
            "Choose an empty or new folder with --data.",
            code="invalid_input.demo_folder")
    base.mkdir(parents=True, exist_ok=True)
    for name in ENTRIES:
        path = base / name
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)
    (base / MARKER).write_text("commune-radio demo folder: `commune-radio demo` recreates "
                               + ", ".join(ENTRIES) + " here at each run.\n", encoding="utf-8")
    return sorted(p.name for p in base.iterdir() if p.name not in {*ENTRIES, MARKER})
