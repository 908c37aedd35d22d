"""Uploaded audio clips: the name the browser sends is only checked and shown, never used as
a path; the bytes go to a random temp file, are probed with ffprobe (real audio, sane
duration), checked for a container that agrees with its content (a WAV whose header claims
4 GB while holding 1 s, a FLAC or MP3 announcing another length than it decodes to), then move
into the content-addressed media store under their sha256.
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
from collections.abc import Callable
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


def probe(path: Path) -> tuple[str, float, str]:
    """(mime, duration in seconds, ffprobe's format name) of a real audio file; refuses anything else."""
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
    return ALLOWED_FORMATS[format_name], duration, format_name


def riff_problem(read: Callable[[int, int], bytes], size: int) -> str | None:
    """What is wrong with a RIFF/WAVE file's layout (None: nothing). ``read(offset, n)`` gives
    bytes of the file. Every chunk, the data chunk above all, must lie inside the file, and the
    RIFF size must be the file's: players trust those numbers (and allocate by them)."""
    head = read(0, 12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return "not a RIFF/WAVE file"
    riff_size = int.from_bytes(head[4:8], "little")
    if riff_size + 8 not in (size, size - 1):
        return f"the RIFF header says {riff_size + 8} bytes, the file has {size}"
    offset, seen_data = 12, False
    while offset + 8 <= size:
        chunk = read(offset, 8)
        name, length = chunk[:4], int.from_bytes(chunk[4:8], "little")
        end = offset + 8 + length
        if end > size:
            return f"chunk {name.decode('latin-1')!r} claims {length} bytes, only {size - offset - 8} follow"
        seen_data = seen_data or name == b"data"
        offset = end + (length & 1)
    if not seen_data:
        return "no data chunk"
    return None


def check_container(path: Path, format_name: str, duration: float, *, timeout_s: float) -> None:
    """Refuse a file whose container disagrees with its content: a WAV's layout, and for every
    format the length its headers announce against the length it really decodes to."""
    if format_name == "wav":
        size = path.stat().st_size
        with open(path, "rb") as handle:
            def read(offset: int, n: int) -> bytes:
                handle.seek(offset)
                return handle.read(n)

            problem = riff_problem(read, size)
        if problem is not None:
            raise _container(problem)
    decoded = decoded_seconds(path, timeout_s=timeout_s)
    if abs(decoded - duration) > max(0.5, 0.02 * decoded):
        raise _container(f"the header announces {duration:.1f} s, the audio holds {decoded:.1f} s")


def decoded_seconds(path: Path, *, timeout_s: float) -> float:
    """How long the audio really is: decode it all (ffmpeg to nowhere) and read the end time."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise _refuse("máy thiếu ffmpeg để kiểm tra tệp.", "ffmpeg is missing, cannot check the file.",
                      "invalid_input.clip_probe")
    try:
        done = subprocess.run(
            [ffmpeg, "-v", "error", "-nostdin", "-i", str(path), "-map", "0:a:0", "-f", "null",
             "-progress", "pipe:1", "-"], capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise _refuse("không đọc hết được tệp.", "the file could not be read to its end.") from None
    times = [line.split("=", 1)[1] for line in done.stdout.decode("ascii", "replace").splitlines()
             if line.startswith("out_time_us=")]
    if done.returncode != 0 or not times or not times[-1].strip().isdigit():
        raise _refuse("không giải mã được tệp.", "the file does not decode.", "invalid_input.clip_type")
    return int(times[-1]) / 1_000_000


def _container(detail: str) -> ValidationError:
    return _refuse(f"tiêu đề tệp không khớp nội dung ({detail}).",
                   f"the file's header does not match its content ({detail}).", "invalid_input.clip_container")


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
        mime, duration, format_name = probe(tmp)
        if duration > max_duration_s:
            minutes = int(max_duration_s // 60)
            raise _refuse(f"dài hơn {minutes} phút cho phép.", f"longer than the allowed {minutes} minutes.",
                          "invalid_input.clip_duration")
        check_container(tmp, format_name, duration, timeout_s=PROBE_TIMEOUT_S + duration / 20)
        sha = media.put_file(tmp)
        return StoredClip(sha256=sha, bytes=size, mime=mime, duration_s=duration, display_name=shown)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


_SHA_RE = re.compile(r"^[0-9a-f]{64}$")


def valid_sha(value: str) -> bool:
    return bool(_SHA_RE.fullmatch(value))
