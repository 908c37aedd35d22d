"""Uploaded audio clips: the name the browser sends is only checked and shown, never used as
a path; the bytes go to a random temp file, are probed with ffprobe (real audio, sane
duration), then move into the content-addressed media store under their sha256.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from appliance.state.mediastore import MediaStore
from protocol.errors import ValidationError

ALLOWED_FORMATS = {"mp3": "audio/mpeg", "wav": "audio/wav", "ogg": "audio/ogg", "flac": "audio/flac",
                   "mov,mp4,m4a,3gp,3g2,mj2": "audio/mp4", "aac": "audio/aac", "opus": "audio/ogg"}
PROBE_TIMEOUT_S = 20.0
_CHUNK = 1 << 20


@dataclass(frozen=True)
class StoredClip:
    sha256: str
    bytes: int
    mime: str
    duration_s: float
    display_name: str


def _refuse(vi: str, en: str, code: str = "invalid_input.clip") -> ValidationError:
    error = ValidationError(f"Tệp âm thanh: {vi}", f"Audio file: {en}", code=code)
    error.field = "clip"  # type: ignore[attr-defined]
    return error


def check_filename(name: str | None) -> str:
    """The name as shown to people; refuses anything path-like (traversal, separators, NUL)."""
    raw = name or ""
    if not raw.strip():
        raise _refuse("hãy chọn một tệp.", "choose a file.", "invalid_input.clip_missing")
    if ("/" in raw or "\\" in raw or "\x00" in raw or raw.strip() in {".", ".."} or ".." in raw
            or any(unicodedata.category(c) == "Cc" for c in raw)):
        raise _refuse("tên tệp không hợp lệ.", "invalid file name.", "invalid_input.clip_name")
    shown = unicodedata.normalize("NFC", raw.strip())[:120]
    return shown


def probe(path: Path) -> tuple[str, float]:
    """(mime, duration in seconds) of a real audio file; refuses anything else."""
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        raise _refuse("máy thiếu ffprobe để kiểm tra tệp.", "ffprobe is missing, cannot check the file.",
                      "invalid_input.clip_probe")
    try:
        done = subprocess.run(
            [ffprobe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)],
            capture_output=True, timeout=PROBE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise _refuse("không đọc được tệp.", "the file could not be read.") from None
    if done.returncode != 0:
        raise _refuse("không phải tệp âm thanh.", "not an audio file.", "invalid_input.clip_type")
    try:
        info = json.loads(done.stdout.decode("utf-8", "replace"))
    except ValueError:
        raise _refuse("không phải tệp âm thanh.", "not an audio file.", "invalid_input.clip_type") from None
    streams = info.get("streams") or []
    fmt = info.get("format") or {}
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    # Cover art in an MP3 shows as an attached-picture video stream; real video is refused.
    video = [s for s in streams if s.get("codec_type") == "video"
             and not (s.get("disposition") or {}).get("attached_pic")]
    format_name = str(fmt.get("format_name", ""))
    if not audio or video or format_name not in ALLOWED_FORMATS:
        raise _refuse("không phải tệp âm thanh được hỗ trợ (MP3, WAV, OGG, M4A, FLAC).",
                      "not a supported audio file (MP3, WAV, OGG, M4A, FLAC).", "invalid_input.clip_type")
    try:
        duration = float(fmt.get("duration") or audio[0].get("duration") or 0)
    except (TypeError, ValueError):
        duration = 0.0
    if not 0.2 <= duration <= 4 * 3600:
        raise _refuse("thời lượng không hợp lệ.", "invalid duration.", "invalid_input.clip_duration")
    return ALLOWED_FORMATS[format_name], duration


def store_upload(stream: BinaryIO, filename: str | None, *, media: MediaStore, temp_dir: Path,
                 max_bytes: int, max_duration_s: float) -> StoredClip:
    shown = check_filename(filename)
    temp_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".upload-", dir=temp_dir)
    tmp = Path(tmp_name)
    try:
        size = 0
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise _refuse("tệp quá lớn.", "the file is too large.", "invalid_input.clip_size")
                out.write(chunk)
        if size == 0:
            raise _refuse("tệp trống.", "the file is empty.", "invalid_input.clip_empty")
        mime, duration = probe(tmp)
        if duration > max_duration_s:
            minutes = int(max_duration_s // 60)
            raise _refuse(f"dài hơn {minutes} phút cho phép.", f"longer than the allowed {minutes} minutes.",
                          "invalid_input.clip_duration")
        sha = media.put_file(tmp)
        return StoredClip(sha256=sha, bytes=size, mime=mime, duration_s=duration, display_name=shown)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


_SHA_RE = re.compile(r"^[0-9a-f]{64}$")


def valid_sha(value: str) -> bool:
    return bool(_SHA_RE.fullmatch(value))
