"""An emergency is never silently lost: its audio, with speech retried and an alert signal as fallback.

The play-log row is already durable when this runs (``OnAir._play`` writes it first). Speech is
tried ``EMERGENCY_TTS_ATTEMPTS`` times (espeak-ng under load has written no audio, and an engine
can time out or die); if it still fails, the ready-made alert signal (``audio.alert``) plays so
that villagers hear that something is wrong, and speech is tried once more right after it.
Every step is an event (``emergency.recorded``, ``emergency.tts_failed`` per attempt,
``emergency.tts_recovered``, ``emergency.alert_fallback``, ``emergency.failed``) and a journal line.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from appliance.daemon.onair import OnAir, Outcome, Session

log = logging.getLogger(__name__)

EMERGENCY_TTS_ATTEMPTS = 3      # speech tries before the alert signal plays (one more follows it)
EMERGENCY_RETRY_PAUSE_S = 0.5   # × the attempt number: espeak-ng under load recovers in moments


def resolve(onair: OnAir, session: Session) -> tuple[Any, float | None, bool, bool]:
    """The emergency's audio, retrying speech; after ``EMERGENCY_TTS_ATTEMPTS`` failures the
    alert signal instead (the last element says so) and speech is tried once more after it."""
    for attempt in range(1, EMERGENCY_TTS_ATTEMPTS + 1):
        try:
            source, duration, is_stream = onair._resolve_source(session)
        except Exception as exc:  # the engine wrote no audio, timed out, died…
            event(onair, "emergency.tts_failed", session, f"speech attempt {attempt} failed: {_error_text(exc)}",
                  f"Lần đọc thử {attempt} thất bại: {_error_text(exc, vi=True)}", level="error", attempt=attempt,
                  code=_error_code(exc))
            if session.cancel.wait(EMERGENCY_RETRY_PAUSE_S * attempt):
                break
            continue
        if attempt > 1:
            event(onair, "emergency.tts_recovered", session, f"speech made at attempt {attempt}",
                  f"Đã tạo được giọng đọc ở lần thử {attempt}.", attempt=attempt)
        return source, duration, is_stream, False
    alert = onair.preparation.alert_clip()
    event(onair, "emergency.alert_fallback", session,
          "speech could not be made: playing the alert signal, then trying speech again",
          "Không tạo được giọng đọc: phát tín hiệu báo động, rồi thử đọc lại.", level="error")
    return alert.path, float(alert.duration_s), False, True


def speak_after_alert(onair: OnAir, session: Session, alert_played: float | None) -> Outcome:
    """The alert signal played: one more try at the speech, played at once if it works."""
    attempt = EMERGENCY_TTS_ATTEMPTS + 1
    try:
        source, duration, _ = onair._resolve_source(session)
    except Exception as exc:
        text = f"speech failed after {attempt} attempts ({_error_code(exc)}); the alert sound was played instead"
        event(onair, "emergency.failed", session, text,
              f"Không đọc được văn bản khẩn cấp sau {attempt} lần thử; đã phát tín hiệu báo động.",
              level="error", attempt=attempt, code=_error_code(exc))
        return "failed", text, alert_played
    event(onair, "emergency.tts_recovered", session, f"speech made at attempt {attempt}, after the alert",
          f"Đã tạo được giọng đọc ở lần thử {attempt}, sau tín hiệu báo động.", attempt=attempt)
    outcome, reason, played = onair._play_and_follow(session, source, duration, None, None)
    reason = "; ".join(r for r in ("alert sound played while speech was retried", reason) if r)
    return outcome, reason, (alert_played or 0.0) + (played or 0.0)


def event(onair: OnAir, kind: str, session: Session, en: str, vi: str, *, level: str = "warning",
          **data: Any) -> None:
    """One step of an emergency: an event (Vietnamese message, English in ``en``), a journal line,
    and a daemon event for listeners."""
    occ = session.occurrence
    log.log(logging.INFO if kind == "emergency.recorded" else logging.ERROR if level == "error" else logging.WARNING,
            "emergency %s: %s", occ.item_id, en)
    with contextlib.suppress(Exception):
        onair.store.log_event(kind, vi, {"en": en, "item_id": occ.item_id, "key": occ.key,
                                         "play_id": session.play_id, **data},
                              level="info" if kind == "emergency.recorded" else level)
    onair._emit({"type": kind.replace(".", "_"), "item_id": occ.item_id, "key": occ.key, "reason": en})


def _error_code(exc: BaseException) -> str:
    return str(getattr(exc, "code", "") or type(exc).__name__)


def _error_text(exc: BaseException, *, vi: bool = False) -> str:
    text = getattr(exc, "vi" if vi else "en", None)
    return str(text or exc)[:300]
