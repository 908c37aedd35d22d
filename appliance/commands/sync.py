"""``commune-radio sync --once``: pull items and media from central now, with a progress bar."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TextIO

from appliance.commands import load_config
from appliance.sync.syncer import SyncResult, open_syncer


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--once", action="store_true",
                        help="đồng bộ một lần rồi thoát (mặc định) / sync once and exit (the default)")
    parser.add_argument("--json", action="store_true", help="kết quả dạng JSON / print the result as JSON")


class ProgressBar:
    """One self-rewriting line on a terminal; silent when output is not a TTY."""

    def __init__(self, stream: TextIO, width: int = 28) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self.width = width
        self._last = 0.0
        self._open = False

    def __call__(self, item_id: str, title: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if done < total and now - self._last < 0.1:
            return  # redrawing faster than the eye can read only costs CPU on a Pi
        self._last = now
        share = done / total if total else 1.0
        filled = int(share * self.width)
        bar = "#" * filled + "." * (self.width - filled)
        label = (title or item_id)[:30]
        self.stream.write(f"\r[{bar}] {share:6.1%} {done / 1e6:7.2f}/{total / 1e6:.2f} MB  {label}\x1b[K")
        self._open = done < total
        if not self._open:
            self.stream.write("\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self._open:
            self.stream.write("\n")
            self._open = False


def summary(result: SyncResult, lang: str) -> list[str]:
    en = lang == "en"
    lines = []
    if result.not_modified:
        lines.append("Feed unchanged (304)." if en else "Nguồn tin không thay đổi (304).")
    counts = [
        ("new", "mới", result.new), ("updated", "cập nhật", result.updated),
        ("revoked", "thu hồi", result.revoked), ("rejected", "bị từ chối", result.rejected),
        ("ready", "sẵn sàng", result.ready), ("media fetched", "tệp đã tải", result.media_fetched),
        ("deferred", "tạm hoãn", result.deferred), ("central speech", "giọng trung tâm", result.speech),
    ]
    parts = [f"{(name if en else vi)}: {n}" for name, vi, n in counts]
    lines.append(("Items " if en else "Bản tin ") + ", ".join(parts))
    lines.append(f"{result.requests} requests, {result.bytes / 1e6:.2f} MB of media downloaded." if en else
                  f"{result.requests} yêu cầu, đã tải {result.bytes / 1e6:.2f} MB tệp âm thanh.")
    for note in result.notes:
        lines.append(f"  - [{note['code']}] {note['en'] if en else note['vi']}")
    if result.error is not None:
        head = "Sync incomplete" if en else "Đồng bộ chưa xong"
        lines.append(f"{head} [{result.error.code}]: {result.error.message(lang)}")
    else:
        lines.append("Sync complete." if en else "Đồng bộ xong.")
    return lines


def run(args: argparse.Namespace) -> int:
    config = load_config(args)
    syncer = open_syncer(config)
    bar = ProgressBar(sys.stderr)
    try:
        result = syncer.sync_once(progress=bar)
    finally:
        bar.close()
        syncer.client.close()
        syncer.store.close()
    if args.json:
        print(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
    else:
        print("\n".join(summary(result, args.lang)))
    return 0 if result.ok else 1
