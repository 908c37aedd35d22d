"""Validation of the live-voice requests on the control channel (``appliance.control`` calls it).

``live_start`` {source: 'station'|'browser', mode: 'broadcast'|'record', zones?, urgent?, chime?};
``live_chunk`` {session_id, data: base64 of s16le 16 kHz mono PCM, ~50 ms}; ``live_stop``
{session_id?}; ``live_status`` {}. Chunks and status are not written to the event log (20 a
second would wear the SD card); the start and stop are, with their actor, like every action.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from appliance.errors import ControlError

LIVE_ACTIONS = {"live_start", "live_chunk", "live_stop", "live_status"}
UNLOGGED_LIVE_ACTIONS = {"live_chunk", "live_status"}
SESSION_ID_RE = re.compile(r"^live-[0-9a-f]{16}$")
MAX_CHUNK_B64 = 48_000       # ~36 KB of PCM: about a second, far above the 50 ms a browser sends

ZonesParser = Callable[[Mapping[str, Any], Sequence[str]], "list[str] | None"]


def _bad(vi: str, en: str) -> ControlError:
    return ControlError(vi, en, code="control.bad_request")


def _session_id(params: Mapping[str, Any], *, required: bool) -> str | None:
    value = params.get("session_id")
    if value is None and not required:
        return None
    if not isinstance(value, str) or not SESSION_ID_RE.match(value):
        raise _bad("Mã phiên nói trực tiếp không hợp lệ.", "Invalid live session id.")
    return value


def _flag(params: Mapping[str, Any], name: str, default: bool | None) -> bool | None:
    value = params.get(name, default)
    if value is not None and not isinstance(value, bool):
        raise _bad(f"'{name}' phải là true hoặc false.", f"'{name}' must be true or false.")
    return value


def validate_live(action: str, params: Mapping[str, Any], zone_names: Sequence[str],
                  zones: ZonesParser) -> dict[str, Any]:
    """Normalised params of one live request. Pure."""
    def only(allowed: set[str]) -> None:
        extra = sorted(set(params) - allowed)
        if extra:
            raise _bad(f"Tham số không được biết: {', '.join(extra)}.", f"Unknown parameters: {', '.join(extra)}.")

    if action == "live_status":
        only(set())
        return {}
    if action == "live_stop":
        only({"session_id"})
        return {"session_id": _session_id(params, required=False)}
    if action == "live_chunk":
        only({"session_id", "data"})
        data = params.get("data")
        if not isinstance(data, str) or not data or len(data) > MAX_CHUNK_B64:
            raise _bad("Khối âm thanh trống hoặc quá lớn.", "The audio chunk is empty or too large.")
        return {"session_id": _session_id(params, required=True), "data": data}
    if action == "live_start":
        only({"source", "mode", "zones", "urgent", "chime"})
        source = params.get("source", "browser")
        mode = params.get("mode", "broadcast")
        if source not in ("station", "browser"):
            raise _bad("'source' phải là 'station' (micrô của trạm) hoặc 'browser'.",
                       "'source' must be 'station' (the station microphone) or 'browser'.")
        if mode not in ("broadcast", "record"):
            raise _bad("'mode' phải là 'broadcast' (phát ngay) hoặc 'record' (ghi để phát sau).",
                       "'mode' must be 'broadcast' or 'record'.")
        return {"source": source, "mode": mode, "zones": zones(params, zone_names),
                "urgent": bool(_flag(params, "urgent", False)), "chime": _flag(params, "chime", None)}
    raise ControlError(f"Lệnh không được biết: {action!r}.", f"Unknown action: {action!r}.",
                       code="control.unknown_action")
