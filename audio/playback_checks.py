"""What the player decides around libVLC, as plain data: results, the watchdog's verdict, sources.

``watchdog_verdict`` and ``end_outcome`` are pure; ``check_file`` looks at a file before
libVLC gets it, ``diagnose_stream`` probes a stream that failed so the play log can say why
(HTTP status, refused connection, not audio), and ``detect_output`` reads /proc/asound.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
import re
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Literal

from audio.errors import PlaybackError
from protocol.errors import ValidationError

Output = Literal["capture", "alsa", "dummy"]
Outcome = Literal["completed", "stopped", "error", "stalled", "overrun"]
OUTPUTS: tuple[str, ...] = ("capture", "alsa", "dummy")
STREAM_SCHEMES = ("http", "https")

MIN_AUDIO_S = 0.05  # less than this after EndReached means nothing playable was in the source
STREAM_SHORT_TOLERANCE_S = 1.0  # a stream ending this much before its duration ended early
PROBE_TIMEOUT_S = 3.0


@dataclasses.dataclass(frozen=True)
class PlaybackResult:
    outcome: Outcome
    played_s: float
    error: str | None = None  # Vietnamese text (str of the failure); None unless something went wrong
    capture_path: Path | None = None
    failure: PlaybackError | None = None  # code + vi + en, for logs and proof-of-play reports
    stop_reason: str | None = None  # given to stop(), or "preempted" when play() replaced it

    @property
    def error_code(self) -> str | None:
        return self.failure.code if self.failure else None


@dataclasses.dataclass(frozen=True)
class WatchLimits:
    expected_s: float | None  # nominal length of a file; None for an open-ended stream
    max_s: float | None  # play at most this much, then stop as completed (relays)
    margin_s: float
    stall_s: float


Verdict = Literal["completed", "overrun", "stalled"]


def watchdog_verdict(limits: WatchLimits, *, now: float, requested_at: float, started_at: float | None,
                     progress_s: float, progress_changed_at: float | None) -> Verdict | None:
    """Decide whether a running playback must end now (all times are monotonic seconds).

    ``progress_s`` is audio actually played (captured seconds or player position);
    ``progress_changed_at`` when it last advanced (None: never).
    """
    if limits.max_s is not None and progress_s >= limits.max_s:
        return "completed"
    last_advance = progress_changed_at if progress_changed_at is not None else requested_at
    if now - last_advance >= limits.stall_s:
        return "stalled"
    budgets = [b for b in (limits.expected_s, limits.max_s) if b is not None]
    if budgets and started_at is not None and now - started_at > min(budgets) + limits.margin_s:
        return "overrun"
    return None


def end_outcome(played_s: float, *, is_stream: bool, max_s: float | None) -> Literal["completed", "error"]:
    """Outcome when libVLC reports the end of the source by itself."""
    if played_s < MIN_AUDIO_S:
        return "error"  # garbage and non-audio files end "normally" with nothing played
    if is_stream and max_s is not None and played_s < max_s - STREAM_SHORT_TOLERANCE_S:
        return "error"  # the relay ended before its slot did
    return "completed"


def capture_name(when: dt.datetime, label: str) -> str:
    """``20250102T030405.123456Z_label.wav``: UTC time first so a listing sorts by time."""
    stamp = when.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    safe = sanitize_label(label)
    return f"{stamp}_{safe}.wav" if safe else f"{stamp}.wav"


def sanitize_label(label: str, limit: int = 60) -> str:
    # Vietnamese đ/Đ do not decompose under NFKD; map them before dropping diacritics.
    text = label.replace("đ", "d").replace("Đ", "D")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")
    return text[:limit].strip("-._")


def volume_gain(volume: int) -> float:
    """VLC's software-volume law (cubic), so a capture sounds as loud as the ALSA output would."""
    return (volume / 100.0) ** 3


def detect_output(cards_path: Path = Path("/proc/asound/cards")) -> str:
    """'alsa' if the kernel lists a sound card, else 'capture'."""
    try:
        text = cards_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "capture"
    return "alsa" if re.search(r"^\s*\d+\s+\[", text, re.MULTILINE) else "capture"


@dataclasses.dataclass(frozen=True)
class Source:
    uri: str  # what libVLC opens: a filesystem path or an http(s) URL
    is_stream: bool
    display: str


def parse_source(source: Path | str) -> Source:
    """A local file or an http(s) URL; anything else is refused with a clear error."""
    if isinstance(source, Path):
        return Source(str(source), False, str(source))
    if not isinstance(source, str) or not source.strip():
        raise playback_error("bad_source", f"Nguồn phát trống hoặc sai kiểu: {source!r}",
                     f"Empty or wrongly typed source: {source!r}")
    text = source.strip()
    parts = urllib.parse.urlsplit(text)
    if len(parts.scheme) > 1:  # one letter would be a drive letter, not a scheme
        if parts.scheme.lower() not in STREAM_SCHEMES or not parts.netloc:
            raise playback_error("bad_source",
                         f"Nguồn phát không hợp lệ: chỉ nhận tệp hoặc địa chỉ http/https ({text})",
                         f"Invalid source: only a file or an http/https URL is accepted ({text})")
        return Source(text, True, text)
    return Source(text, False, text)


def check_file(path: Path) -> None:
    """Refuse a missing, empty, unreadable or non-regular file before libVLC sees it."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise playback_error("missing_file", f"Không tìm thấy tệp âm thanh: {path}",
                     f"Audio file not found: {path}") from None
    except OSError as exc:
        raise playback_error("unreadable", f"Không đọc được tệp âm thanh: {path} ({exc.strerror})",
                     f"Cannot read the audio file: {path} ({exc.strerror})") from None
    if not path.is_file():
        raise playback_error("not_a_file", f"Không phải tệp thông thường: {path}", f"Not a regular file: {path}")
    if info.st_size == 0:
        raise playback_error("empty_file", f"Tệp âm thanh rỗng (0 byte): {path}", f"Audio file is empty (0 bytes): {path}")
    if not os.access(path, os.R_OK):
        raise playback_error("unreadable", f"Không có quyền đọc tệp âm thanh: {path}",
                     f"No permission to read the audio file: {path}")


def playback_error(reason: str, vi: str, en: str) -> PlaybackError:
    return PlaybackError(vi, en, code=f"playback.{reason}")


def positive_or_none(name: str, value: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise ValidationError(f"{name} phải là số giây dương, nhận được {value!r}",
                              f"{name} must be a positive number of seconds, got {value!r}")
    return float(value)


def check_volume(volume: int) -> int:
    if isinstance(volume, bool) or not isinstance(volume, int) or not 0 <= volume <= 100:
        raise ValidationError(f"Âm lượng phải là số nguyên từ 0 đến 100, nhận được {volume!r}",
                              f"Volume must be an integer from 0 to 100, got {volume!r}")
    return volume


def diagnose_stream(url: str, timeout: float = PROBE_TIMEOUT_S) -> PlaybackError:
    """libVLC says only "error"; ask the server ourselves so the operator learns why."""
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "commune-radio", "Icy-MetaData": "0"})
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked
            response.read(1)
    except urllib.error.HTTPError as exc:
        return playback_error("http_status", f"Máy chủ luồng trả lời lỗi HTTP {exc.code}: {url}",
                      f"The stream server answered HTTP {exc.code}: {url}")
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, ConnectionRefusedError):
            return playback_error("unreachable", f"Không kết nối được tới máy chủ luồng (bị từ chối kết nối): {url}",
                          f"Cannot connect to the stream server (connection refused): {url}")
        return playback_error("unreachable", f"Không kết nối được tới máy chủ luồng ({reason}): {url}",
                      f"Cannot connect to the stream server ({reason}): {url}")
    except (TimeoutError, OSError) as exc:
        return playback_error("unreachable", f"Máy chủ luồng không trả lời ({exc}): {url}",
                      f"The stream server does not answer ({exc}): {url}")
    return not_audio_error(url)


def not_audio_error(display: str) -> PlaybackError:
    return playback_error("not_audio",
                  f"Không có âm thanh phát được (tệp/luồng hỏng hoặc không phải âm thanh): {display}",
                  f"No playable audio (corrupt file or stream, or not audio): {display}")
