"""A live session's recording: PCM in, Opus in Ogg out (~24 kbit/s: 15 minutes ≈ 2.7 MB).

``ffmpeg`` (already needed by the audio pipeline) encodes from its stdin into a ``.part-`` temp
name; ``close()`` waits for it, fsyncs the file and renames it into place, so a recording is
either whole or absent. A failing encoder never stops the broadcast: the error is kept in
``error`` and the session logs it.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

from audio.capture import LIVE_FORMAT, PcmFormat
from protocol.durable import TEMP_PREFIX, fsync_dir

BITRATE = "24k"


class OpusRecorder:
    def __init__(self, path: Path, fmt: PcmFormat = LIVE_FORMAT) -> None:
        self.path = Path(path)
        self.part = self.path.with_name(TEMP_PREFIX + self.path.name)
        self.fmt = fmt
        self.error: str | None = None
        self.bytes_in = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._process: subprocess.Popen[bytes] | None = subprocess.Popen(  # noqa: S603
                ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
                 "-f", "s16le", "-ar", str(fmt.rate), "-ac", str(fmt.channels), "-i", "pipe:0",
                 "-c:a", "libopus", "-b:a", BITRATE, "-application", "voip", "-f", "ogg", str(self.part)],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except OSError as exc:
            self._process = None
            self.error = f"ffmpeg: {exc}"

    def write(self, pcm: bytes) -> None:
        process = self._process
        if process is None or process.stdin is None or self.error:
            return
        try:
            process.stdin.write(pcm)
            self.bytes_in += len(pcm)
        except (BrokenPipeError, OSError) as exc:
            self.error = f"ffmpeg stopped: {exc}"

    def close(self) -> tuple[Path | None, int]:
        """Finish the file; returns (path, size) or (None, 0) when there is no recording."""
        process = self._process
        self._process = None
        if process is None:
            return None, 0
        with contextlib.suppress(OSError):
            if process.stdin is not None:
                process.stdin.close()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
            self.error = self.error or "ffmpeg did not finish in 30 s"
        stderr = process.stderr.read().decode("utf-8", "replace").strip() if process.stderr else ""
        if process.returncode != 0:
            self.error = self.error or f"ffmpeg exited {process.returncode}: {stderr[:300]}"
        if self.error or self.bytes_in == 0 or not self.part.exists():
            self.part.unlink(missing_ok=True)
            return None, 0
        with open(self.part, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(self.part, self.path)
        fsync_dir(self.path.parent)
        return self.path, self.path.stat().st_size
