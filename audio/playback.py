"""Playback through libVLC (python-vlc), with a WAV capture output and a watchdog.

One ``Player`` plays one thing at a time: a prepared file, a live http(s) stream (a relay
of a national or provincial station, played for a given duration), or raw PCM arriving in a
FIFO (a live voice: ``play(fifo, live_pcm=(rate, channels))``, demuxed as ``rawaud`` with a
small caching delay; bench/live.py measures the latency). Each playback runs in its
own supervisor thread that owns every libVLC call for it. libVLC callbacks only put events
into a queue, because libVLC is not re-entrant from inside its callbacks.

Outputs:
- ``capture``: libVLC's ``afile`` output writes exactly what was played to one WAV file per
  playback (tests, the demo, a Pi without a sound card). The file is written under a
  ``.part-`` temp name and renamed into place (after fsync) only when the playback is over.
- ``alsa``: the sound card. ``dummy``: plays to nowhere, at real-time pace.

Facts that shaped this (see ../shared/field-notes.md and the measurements in
bench/playback.py):
- The first ``vlc.Instance`` in a process costs ~0.2 s (it loads the plugin bank); later
  ones cost ~1 ms while any instance is alive. The afile file name is an instance option, so
  a Player keeps one idle "warm" instance for its lifetime and builds a fresh instance per
  playback: cheap, and no state leaks from one playback into the next.
- afile and dummy write ahead of the clock by about the caching delay, so EndReached comes
  early; played time is taken from the capture (or media length/position), never from wall
  time to EndReached.
- A garbage file ends with EndReached and no error; a stalled stream stays "Playing" (or
  "Opening") forever: only the watchdog notices.
- afile ignores ``audio_set_volume``; in capture mode the volume becomes the instance's
  software ``--gain`` with the same cubic law VLC's ALSA soft volume uses, fixed for the
  whole capture (a change applies from the next playback). On ALSA it applies at once.

Why one module of this length: the libVLC session, its supervisor and the Player form one
state machine around a non-re-entrant library; the plain rules it applies are in
``audio.playback_checks``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import queue
import struct
import threading
import time
import wave
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audio.errors import PlaybackError
from audio.playback_checks import (
    MIN_AUDIO_S,
    OUTPUTS,
    Outcome,
    PlaybackResult,
    Source,
    WatchLimits,
    capture_name,
    check_file,
    check_volume,
    detect_output,
    diagnose_stream,
    end_outcome,
    not_audio_error,
    parse_source,
    playback_error,
    positive_or_none,
    volume_gain,
    watchdog_verdict,
)
from protocol.durable import TEMP_PREFIX, fsync_dir
from protocol.errors import StorageError, ValidationError

if TYPE_CHECKING:
    from audio.settings import AudioPipelineConfig

FAST_TICK_S = 0.01  # until audio starts: `started` must be prompt
SLOW_TICK_S = 0.05  # after: the watchdog needs no finer grain
STOP_WAIT_S = 5.0  # how long stop()/pre-emption waits for a playback to finish releasing
WAV_HEADER_BYTES = 44  # afile writes the classic 44-byte RIFF/fmt/data header


# --------------------------------------------------------------------------- libVLC shell


def _load_vlc() -> Any:
    try:
        import vlc
    except (ImportError, OSError, NotImplementedError) as exc:
        raise playback_error("libvlc_missing",
                     f"Không nạp được libVLC ({exc}); hãy cài libvlc5 và vlc-plugin-base",
                     f"Cannot load libVLC ({exc}); install libvlc5 and vlc-plugin-base") from None
    return vlc


def _new_instance(vlc: Any, args: list[str]) -> Any:
    instance = vlc.Instance(args)
    if instance is None:
        # libVLC returns no instance when it finds no plugins (libvlc5 without vlc-plugin-base).
        raise playback_error("libvlc_missing",
                     "libVLC không khởi tạo được (thiếu plugin?); hãy cài vlc-plugin-base",
                     "libVLC could not start (plugins missing?); install vlc-plugin-base")
    return instance


def _read_byte_rate(path: Path) -> int | None:
    try:
        with open(path, "rb") as handle:
            header = handle.read(WAV_HEADER_BYTES)
    except OSError:
        return None
    if len(header) < WAV_HEADER_BYTES or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
        return None
    (byte_rate,) = struct.unpack_from("<I", header, 28)
    return byte_rate or None


def _wav_seconds(path: Path) -> float:
    try:
        with wave.open(str(path), "rb") as reader:
            return reader.getnframes() / float(reader.getframerate())
    except (OSError, wave.Error, EOFError, ZeroDivisionError):
        return 0.0


class Playback:
    """Handle on one playback. ``started`` is set when audio actually starts (never, if it
    fails first); ``done`` when it is over and every libVLC object is released.

    "Starts" means: capture, the first audio bytes reached the WAV; alsa/dummy, libVLC
    reports Playing with an audio track (the card then adds about the file-caching delay).
    """

    def __init__(self, source: str, label: str) -> None:
        self.source = source
        self.label = label
        self.started = threading.Event()
        self.done = threading.Event()
        self.requested_monotonic = time.monotonic()
        self.started_monotonic: float | None = None
        self.started_at: dt.datetime | None = None  # UTC
        self._result: PlaybackResult | None = None

    @property
    def start_latency_s(self) -> float | None:
        if self.started_monotonic is None:
            return None
        return self.started_monotonic - self.requested_monotonic

    @property
    def result(self) -> PlaybackResult | None:
        return self._result

    def wait(self, timeout: float | None = None) -> PlaybackResult | None:
        """The result, or None if the playback is still going after ``timeout`` seconds."""
        self.done.wait(timeout)
        return self._result

    def _mark_started(self) -> None:
        if not self.started.is_set():
            self.started_monotonic = time.monotonic()
            self.started_at = dt.datetime.now(dt.UTC)
            self.started.set()

    def _finish(self, result: PlaybackResult) -> None:
        self._result = result
        self.done.set()


@dataclasses.dataclass(frozen=True)
class _Ending:
    outcome: Outcome
    played_s: float  # provisional; the closed capture file, when there is one, is the truth
    failure: PlaybackError | None = None
    stop_reason: str | None = None


@dataclasses.dataclass(frozen=True)
class _Settings:
    output: str
    capture_dir: Path | None
    file_caching_ms: int
    network_caching_ms: int


LIVE_CACHING_MS = 60   # a FIFO of live PCM: enough to absorb the writer's 50 ms chunks


class _Session:
    """One playback: the supervisor thread owns all libVLC objects of it."""

    def __init__(self, vlc: Any, settings: _Settings, source: Source, limits: WatchLimits,
                 volume: int, playback: Playback, live_pcm: tuple[int, int] | None = None) -> None:
        self.vlc = vlc
        self.live_pcm = live_pcm
        self.settings = settings
        self.source = source
        self.limits = limits
        self.volume = volume
        self.playback = playback
        self.inbox: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.capture_final: Path | None = None
        self.capture_part: Path | None = None
        self.thread = threading.Thread(target=self._run, name=f"playback:{playback.label or 'untitled'}",
                                       daemon=True)

    # Called from other threads: only messages, never libVLC.
    def request_stop(self, reason: str) -> None:
        self.inbox.put(("stop", reason))

    def request_volume(self, volume: int) -> None:
        self.inbox.put(("volume", volume))

    def _on_event(self, event: Any, kind: str) -> None:
        # libVLC thread: no libVLC calls here (not re-entrant); hand over and return.
        self.inbox.put((kind, None))

    def _instance_args(self) -> list[str]:
        # No preparsing: it would open (and close) a live FIFO before the player does.
        args = ["--no-video", "--quiet", "--no-sub-autodetect-file",
                *(["--no-auto-preparse"] if self.live_pcm else []),
                f"--file-caching={LIVE_CACHING_MS if self.live_pcm else self.settings.file_caching_ms}",
                f"--network-caching={self.settings.network_caching_ms}"]
        if self.settings.output == "capture":
            assert self.capture_part is not None
            args += ["--aout=afile", f"--audiofile-file={self.capture_part}", "--audiofile-wav",
                     f"--gain={volume_gain(self.volume):.6f}"]
        else:
            args.append(f"--aout={self.settings.output}")
        return args

    def _run(self) -> None:
        try:
            ending = self._play()
        except PlaybackError as exc:
            ending = _Ending("error", 0.0, exc)
        except Exception as exc:  # noqa: BLE001 - the daemon must get a result, not a dead thread
            ending = _Ending("error", 0.0, playback_error("internal", f"Lỗi bất ngờ khi phát: {exc!r}",
                                                  f"Unexpected playback failure: {exc!r}"))
        try:
            capture = self._finalize_capture()
        except OSError as exc:
            capture = None
            if ending.failure is None:
                ending = dataclasses.replace(ending, outcome="error", failure=playback_error(
                    "capture_storage", f"Không lưu được tệp ghi âm: {exc}", f"Cannot store the capture file: {exc}"))
        played = ending.played_s
        if capture is not None:
            played = _wav_seconds(capture)  # exact: what afile wrote, header rewritten on close
        failure = ending.failure
        self.playback._finish(PlaybackResult(
            outcome=ending.outcome, played_s=round(played, 3), error=str(failure) if failure else None,
            capture_path=capture, failure=failure, stop_reason=ending.stop_reason))

    def _play(self) -> _Ending:
        if not self.source.is_stream and self.live_pcm is None:
            check_file(Path(self.source.uri))
        if self.settings.output == "capture":
            assert self.settings.capture_dir is not None
            name = capture_name(dt.datetime.now(dt.UTC), self.playback.label)
            final = self.settings.capture_dir / name
            counter = 1
            while final.exists():
                final = self.settings.capture_dir / f"{final.stem}-{counter}.wav"
                counter += 1
            self.capture_final = final
            self.capture_part = final.with_name(TEMP_PREFIX + final.name)
        vlc = self.vlc
        instance = _new_instance(vlc, self._instance_args())
        player = media = None
        events: Any = None
        try:
            player = instance.media_player_new()
            if self.source.is_stream:
                media = instance.media_new(self.source.uri)
            else:
                media = instance.media_new_path(self.source.uri)
            if self.live_pcm is not None:
                rate, channels = self.live_pcm
                for option in (":demux=rawaud", f":rawaud-samplerate={rate}", f":rawaud-channels={channels}",
                               ":rawaud-fourcc=s16l", f":file-caching={LIVE_CACHING_MS}"):
                    media.add_option(option)
            player.set_media(media)
            events = player.event_manager()
            for event_type, kind in ((vlc.EventType.MediaPlayerPlaying, "playing"),
                                     (vlc.EventType.MediaPlayerEndReached, "end"),
                                     (vlc.EventType.MediaPlayerEncounteredError, "error")):
                events.event_attach(event_type, self._on_event, kind)
            player.audio_set_volume(self.volume)
            if player.play() != 0:
                raise playback_error("libvlc", f"libVLC không bắt đầu phát được: {self.source.display}",
                             f"libVLC could not start playing: {self.source.display}")
            return self._supervise(player)
        finally:
            if player is not None:
                player.stop()  # synchronous in libVLC 3: the input thread is gone after it
                if events is not None:
                    for event_type in (vlc.EventType.MediaPlayerPlaying, vlc.EventType.MediaPlayerEndReached,
                                       vlc.EventType.MediaPlayerEncounteredError):
                        with contextlib.suppress(Exception):
                            events.event_detach(event_type)
                player.release()
            if media is not None:
                media.release()
            instance.release()  # afile rewrites the WAV header and closes the file by now

    def _supervise(self, player: Any) -> _Ending:
        playback = self.playback
        progress = 0.0
        progress_changed_at: float | None = None
        byte_rate: int | None = None
        length_s = 0.0
        playing = False
        while True:
            tick = SLOW_TICK_S if playback.started.is_set() else FAST_TICK_S
            try:
                kind, value = self.inbox.get(timeout=tick)
            except queue.Empty:
                kind, value = "tick", None
            now = time.monotonic()

            if kind == "stop":
                return self._result("stopped", progress, length_s, stop_reason=str(value))
            if kind == "volume":
                self.volume = int(value)
                player.audio_set_volume(self.volume)  # ALSA: at once; afile: ignored (gain is fixed)
                continue
            if kind == "error":
                if playback.started.is_set():
                    failure = playback_error("libvlc", f"libVLC báo lỗi sau {progress:.1f} giây phát: {self.source.display}",
                                     f"libVLC reported an error after {progress:.1f} s of playback: "
                                     f"{self.source.display}")
                elif self.source.is_stream:
                    failure = diagnose_stream(self.source.uri)
                else:
                    failure = playback_error("libvlc", f"libVLC báo lỗi khi mở tệp (tệp hỏng?): {self.source.display}",
                                     f"libVLC reported an error opening the file (corrupt?): {self.source.display}")
                return self._result("error", progress, length_s, failure=failure)
            if kind == "playing":
                playing = True

            # Measure what has really been played so far.
            if self.settings.output == "capture":
                assert self.capture_part is not None
                try:
                    size = self.capture_part.stat().st_size
                except FileNotFoundError:
                    size = 0
                if size > WAV_HEADER_BYTES:
                    if byte_rate is None:
                        byte_rate = _read_byte_rate(self.capture_part)
                    playback._mark_started()  # audio bytes reached the output: truthful start
                    current = (size - WAV_HEADER_BYTES) / byte_rate if byte_rate else progress
                else:
                    current = 0.0
            else:
                if playing and not playback.started.is_set() and player.audio_get_track_count() > 0:
                    playback._mark_started()
                current = max(0.0, player.get_time() / 1000.0)
                length_s = max(length_s, player.get_length() / 1000.0)
            if current > progress:
                progress = current
                progress_changed_at = now

            if kind == "end":
                played = self._played(progress, length_s, ended=True)
                outcome = end_outcome(played, is_stream=self.source.is_stream, max_s=self.limits.max_s)
                if outcome == "completed":
                    return self._result("completed", progress, length_s, ended=True)
                if played < MIN_AUDIO_S:
                    failure = (diagnose_stream(self.source.uri) if self.source.is_stream
                               else not_audio_error(self.source.display))
                else:
                    failure = playback_error("stream_ended",
                                     f"Luồng kết thúc sớm sau {played:.1f} giây (yêu cầu {self.limits.max_s:g} giây): "
                                     f"{self.source.display}",
                                     f"The stream ended early after {played:.1f} s (asked for "
                                     f"{self.limits.max_s:g} s): {self.source.display}")
                return self._result("error", progress, length_s, ended=True, failure=failure)

            verdict = watchdog_verdict(self.limits, now=now, requested_at=playback.requested_monotonic,
                                       started_at=playback.started_monotonic, progress_s=progress,
                                       progress_changed_at=progress_changed_at)
            if verdict == "completed":
                return self._result("completed", progress, length_s)
            if verdict == "stalled":
                if playback.started.is_set():
                    failure = playback_error("stalled",
                                     f"Âm thanh bị treo: không tiến thêm trong {self.limits.stall_s:g} giây; "
                                     f"đã dừng phát {self.source.display}",
                                     f"Stalled: the audio did not advance for {self.limits.stall_s:g} s; "
                                     f"stopped {self.source.display}")
                else:
                    failure = playback_error("stalled",
                                     f"Không nhận được âm thanh trong {self.limits.stall_s:g} giây; "
                                     f"đã dừng phát {self.source.display}",
                                     f"No audio arrived within {self.limits.stall_s:g} s; "
                                     f"stopped {self.source.display}")
                return self._result("stalled", progress, length_s, failure=failure)
            if verdict == "overrun":
                budget = min(b for b in (self.limits.expected_s, self.limits.max_s) if b is not None)
                failure = playback_error("overrun",
                                 f"Phát quá thời lượng dự kiến ({budget:g} giây + {self.limits.margin_s:g} giây); "
                                 f"đã dừng phát {self.source.display}",
                                 f"Playback ran past its expected length ({budget:g} s + "
                                 f"{self.limits.margin_s:g} s margin); stopped {self.source.display}")
                return self._result("overrun", progress, length_s, failure=failure)

    def _played(self, progress: float, length_s: float, *, ended: bool) -> float:
        if self.settings.output == "capture":
            return progress
        if ended and length_s > 0:
            return length_s  # position lags (updated ~4x a second); at the end the length is exact
        return progress

    def _result(self, outcome: Outcome, progress: float, length_s: float, *, ended: bool = False,
                failure: PlaybackError | None = None, stop_reason: str | None = None) -> _Ending:
        return _Ending(outcome, self._played(progress, length_s, ended=ended), failure, stop_reason)

    def _finalize_capture(self) -> Path | None:
        """fsync the closed capture and rename it into place; drop it if it holds no audio."""
        part, final = self.capture_part, self.capture_final
        if part is None or final is None or not part.exists():
            return None
        if _wav_seconds(part) <= 0:
            part.unlink(missing_ok=True)
            return None
        with open(part, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(part, final)
        fsync_dir(final.parent)
        return final


# --------------------------------------------------------------------------- the player


class Player:
    """Plays one thing at a time; ``play()`` while playing stops the current one first."""

    def __init__(self, output: str = "capture", capture_dir: Path | None = None, volume: int = 80, *,
                 watchdog_margin_s: float = 5.0, stall_timeout_s: float = 10.0,
                 file_caching_ms: int = 100, network_caching_ms: int = 1000) -> None:
        if output not in OUTPUTS:
            raise ValidationError(f"Đầu ra âm thanh không hợp lệ: {output!r} (capture, alsa hoặc dummy)",
                                  f"Invalid audio output: {output!r} (capture, alsa or dummy)")
        if output == "capture":
            if capture_dir is None:
                raise ValidationError("Đầu ra 'capture' cần thư mục ghi âm (capture_dir)",
                                      "The 'capture' output needs a capture_dir")
            capture_dir = Path(capture_dir)
            try:
                capture_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(f"Không tạo được thư mục ghi âm {capture_dir}: {exc.strerror}",
                                   f"Cannot create the capture folder {capture_dir}: {exc.strerror}") from None
        if output == "alsa" and detect_output() != "alsa":
            # libVLC would "play" into a missing card without any error and report success.
            raise PlaybackError("Không tìm thấy card âm thanh (/proc/asound/cards trống); hãy dùng đầu ra 'capture'",
                                "No sound card found (/proc/asound/cards is empty); use the 'capture' output",
                                code="playback.no_sound_card")
        self._volume = check_volume(volume)
        margin = positive_or_none("watchdog_margin_s", watchdog_margin_s)
        stall = positive_or_none("stall_timeout_s", stall_timeout_s)
        assert margin is not None and stall is not None
        self._margin_s, self._stall_s = margin, stall
        for name, value in (("file_caching_ms", file_caching_ms), ("network_caching_ms", network_caching_ms)):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 60_000:
                raise ValidationError(f"{name} phải là số nguyên 0–60000, nhận được {value!r}",
                                      f"{name} must be an integer 0-60000, got {value!r}")
        self.output = output
        self._settings = _Settings(output, capture_dir, file_caching_ms, network_caching_ms)
        self._vlc = _load_vlc()
        # Keeps libVLC's plugin bank loaded: the per-playback instance then costs ~1 ms, not ~0.2 s.
        self._warm = _new_instance(self._vlc, ["--aout=dummy", "--no-video", "--quiet"])
        self._lock = threading.Lock()
        self._current: _Session | None = None
        self._closed = False

    @classmethod
    def from_config(cls, config: AudioPipelineConfig) -> Player:
        """The player the ``[audio]`` section asks for; 'auto' means the sound card if there is one."""
        audio = config.audio
        output = detect_output() if audio.output == "auto" else audio.output
        return cls(output, config.capture_path if output == "capture" else None, audio.volume,
                   watchdog_margin_s=audio.watchdog_margin_s, stall_timeout_s=audio.stall_timeout_s)

    @property
    def volume(self) -> int:
        return self._volume

    @property
    def current(self) -> Playback | None:
        session = self._current
        if session is None or session.playback.done.is_set():
            return None
        return session.playback

    def play(self, source: Path | str, *, expected_duration_s: float | None, max_duration_s: float | None = None,
             label: str = "", live_pcm: tuple[int, int] | None = None) -> Playback:
        """Start playing ``source`` (a file or an http/https URL) and return at once.

        ``live_pcm=(rate, channels)``: ``source`` is a FIFO of s16le PCM that a live feed writes
        (libVLC opens it for reading; the writer's end of file ends the playback).

        Problems with the source (missing file, bad URL, 404, garbage) come back as a
        Playback whose result has outcome 'error'; invalid arguments raise ValidationError.
        """
        limits = WatchLimits(expected_s=positive_or_none("expected_duration_s", expected_duration_s),
                             max_s=positive_or_none("max_duration_s", max_duration_s),
                             margin_s=self._margin_s, stall_s=self._stall_s)
        label = str(label)
        with self._lock:
            if self._closed:
                raise PlaybackError("Bộ phát đã đóng", "The player is closed", code="playback.closed")
            self._stop_locked("preempted")
            playback = Playback(str(source), label)
            try:
                parsed = parse_source(source)
            except PlaybackError as exc:
                playback._finish(PlaybackResult("error", 0.0, str(exc), None, exc))
                return playback
            session = _Session(self._vlc, self._settings, parsed, limits, self._volume, playback, live_pcm)
            self._current = session
            session.thread.start()
            return playback

    def stop(self, reason: str = "operator", timeout: float = STOP_WAIT_S) -> PlaybackResult | None:
        """Stop what is playing (if anything) and return its result."""
        with self._lock:
            return self._stop_locked(reason, timeout)

    def _stop_locked(self, reason: str, timeout: float = STOP_WAIT_S) -> PlaybackResult | None:
        session = self._current
        if session is None:
            return None
        if not session.playback.done.is_set():
            session.request_stop(reason)
        result = session.playback.wait(timeout)
        if result is not None:
            self._current = None
        return result

    def set_volume(self, volume: int) -> None:
        self._volume = check_volume(volume)
        session = self._current
        if session is not None and not session.playback.done.is_set():
            session.request_volume(self._volume)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._stop_locked("closing")
            self._closed = True
            self._warm.release()

    def __enter__(self) -> Player:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
