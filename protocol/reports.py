"""What a device reports: heartbeats and uploaded log entries (protocol §10), checked strictly.

Central runs these on every body it receives; the station's own tests run them on what it
builds, so both sides hold to one definition. Unknown heartbeat members are ignored (newer
stations may send more); everything else that is wrong raises ``BadReport`` with the reason
central answers in its HTTP 400.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from protocol.spec import (
    CONTROL_RE,
    ENTRY_DATA_MAX_CHARS,
    HEARTBEAT_MAX_BYTES,
    ID_RE,
    MAX_LIST_ENTRIES,
    MAX_SAFE_INT,
    MAX_TITLE_CHARS,
    OUTBOX_TYPES,
    PLAY_DATA_MAX_BYTES,
    PLAY_TEXT_MAX_BYTES,
    TEXT_CONTROL_RE,
    ZONE_RE,
)
from protocol.times import parse_utc

__all__ = ["HEARTBEAT_MAX_BYTES", "LOGS_MAX_BYTES", "LOGS_MAX_ENTRIES", "BadReport", "validate_entry",
           "validate_heartbeat", "validate_logs"]

LOGS_MAX_BYTES = 1024 * 1024
LOGS_MAX_ENTRIES = 2000

CODE_RE = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,63}$")
REASON_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
CLOCK_SOURCES = ("ntp", "rtc", "central", "none")
SYNC_RESULTS = ("ok", "not_modified", "error")
RESULT_STATUSES = ("done", "failed", "rejected")
PLAY_OUTCOMES = ("completed", "cut", "stopped", "error", "stalled", "overrun", "skipped")
PLAY_TRIGGERS = ("schedule", "manual", "emergency", "command")
POWER_MAINS = ("present", "lost", "unknown")


class BadReport(ValueError):
    """A heartbeat or logs request central refuses (HTTP 400 with ``code`` and a reason)."""

    def __init__(self, message: str, code: str = "bad_request") -> None:
        super().__init__(message)
        self.code = code


# --------------------------------------------------------------------------- pure checks


def _is_int(value: Any, minimum: int = 0, maximum: int = MAX_SAFE_INT) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and minimum <= value <= maximum


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and abs(value) < 1e15


def _text(value: Any, where: str, max_len: int, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or (not value and not allow_empty) or len(value) > max_len \
            or CONTROL_RE.search(value):
        raise BadReport(f"{where}: expected a string of at most {max_len} characters without control characters")
    return value


def _utc(value: Any, where: str) -> str:
    try:
        parse_utc(value)
    except ValueError:
        raise BadReport(f"{where}: expected a UTC time like 2025-06-01T00:00:00Z") from None
    return str(value)


def _obj(value: Any, where: str, keys: frozenset[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadReport(f"{where}: expected an object")
    missing = sorted(keys - set(value))
    if missing:
        raise BadReport(f"{where}: missing {', '.join(missing)}")
    return value


def _int_field(value: Any, where: str, maximum: int = MAX_SAFE_INT) -> int:
    if not _is_int(value, 0, maximum):
        raise BadReport(f"{where}: expected an integer from 0 to {maximum}")
    return int(value)


def validate_heartbeat(body: Any, device_id: str) -> dict[str, Any]:
    """Check a decoded heartbeat (protocol §10). Unknown members are ignored; returns ``body``."""
    required = frozenset({"device_id", "sent_at", "software_version", "boot_id", "uptime_s", "clock",
                          "timezone", "disk", "cpu", "memory", "playing", "relays", "volume", "last_sync",
                          "outbox_depth", "rejected_count"})
    hb = _obj(body, "heartbeat", required)
    if hb["device_id"] != device_id:
        raise BadReport("device_id: does not match the device of the URL and token", "wrong_device")
    _utc(hb["sent_at"], "sent_at")
    _text(hb["software_version"], "software_version", 32)
    _text(hb["boot_id"], "boot_id", 64)
    _int_field(hb["uptime_s"], "uptime_s")
    clock = _obj(hb["clock"], "clock", frozenset({"trusted", "offset_s", "source"}))
    if not isinstance(clock["trusted"], bool):
        raise BadReport("clock.trusted: expected true or false")
    if clock["offset_s"] is not None and not _is_number(clock["offset_s"]):
        raise BadReport("clock.offset_s: expected a number or null")
    if clock["source"] not in CLOCK_SOURCES:
        raise BadReport(f"clock.source: expected one of {', '.join(CLOCK_SOURCES)}")
    _text(hb["timezone"], "timezone", 64)
    for section, keys in (("disk", ("free_bytes", "total_bytes")), ("memory", ("available_bytes", "total_bytes"))):
        part = _obj(hb[section], section, frozenset(keys))
        for key in keys:
            _int_field(part[key], f"{section}.{key}")
    cpu = _obj(hb["cpu"], "cpu", frozenset({"temp_c", "load_1m"}))
    if cpu["temp_c"] is not None and not _is_number(cpu["temp_c"]):
        raise BadReport("cpu.temp_c: expected a number or null")
    if not _is_number(cpu["load_1m"]) or cpu["load_1m"] < 0:
        raise BadReport("cpu.load_1m: expected a number >= 0")
    playing = hb["playing"]
    if playing is not None:
        _obj(playing, "playing", frozenset({"item_id", "zones"}))
        _text(playing["item_id"], "playing.item_id", 200)
        if not isinstance(playing["zones"], list) or len(playing["zones"]) > MAX_LIST_ENTRIES or \
                not all(isinstance(z, str) and ZONE_RE.match(z) for z in playing["zones"]):
            raise BadReport("playing.zones: expected a list of zone names")
    relays = hb["relays"]
    if not isinstance(relays, dict) or len(relays) > MAX_LIST_ENTRIES or not all(
            isinstance(k, str) and ZONE_RE.match(k) and isinstance(v, bool) for k, v in relays.items()):
        raise BadReport("relays: expected an object of zone name → true/false")
    _int_field(hb["volume"], "volume", 100)
    sync = _obj(hb["last_sync"], "last_sync", frozenset({"at", "result", "error"}))
    if sync["at"] is not None:
        _utc(sync["at"], "last_sync.at")
    if sync["result"] not in SYNC_RESULTS:
        raise BadReport(f"last_sync.result: expected one of {', '.join(SYNC_RESULTS)}")
    if sync["error"] is not None and not (isinstance(sync["error"], str) and CODE_RE.match(sync["error"])):
        raise BadReport("last_sync.error: expected an error code or null")
    _int_field(hb["outbox_depth"], "outbox_depth")
    _int_field(hb["rejected_count"], "rejected_count")
    errors = hb.get("last_errors", [])
    if not isinstance(errors, list) or len(errors) > 10 or not all(
            isinstance(e, str) and CODE_RE.match(e) for e in errors):
        raise BadReport("last_errors: expected at most 10 error codes")
    results = hb.get("command_results", [])
    if not isinstance(results, list) or len(results) > 50:
        raise BadReport("command_results: expected a list of at most 50 results")
    for i, result in enumerate(results):
        where = f"command_results[{i}]"
        _obj(result, where, frozenset({"id", "status", "error", "at"}))
        if not isinstance(result["id"], str) or not ID_RE.match(result["id"]):
            raise BadReport(f"{where}.id: expected an identifier")
        if result["status"] not in RESULT_STATUSES:
            raise BadReport(f"{where}.status: expected one of {', '.join(RESULT_STATUSES)}")
        if result["error"] is not None and not (isinstance(result["error"], str) and CODE_RE.match(result["error"])):
            raise BadReport(f"{where}.error: expected an error code or null")
        _utc(result["at"], f"{where}.at")
    interval = hb.get("heartbeat_interval_s")
    if interval is not None and not _is_int(interval, 5, 3600):
        raise BadReport("heartbeat_interval_s: expected an integer from 5 to 3600")
    problems = hb.get("problems", [])
    if not isinstance(problems, list) or len(problems) > 10 or not all(
            isinstance(p, str) and CODE_RE.match(p) for p in problems):
        raise BadReport("problems: expected at most 10 problem codes")
    voice = hb.get("voice")
    if voice is not None:
        _obj(voice, "voice", frozenset({"engine", "id"}))
        _text(voice["engine"], "voice.engine", 16)
        _text(voice["id"], "voice.id", 64)
    faults = hb.get("amp_faults", [])
    if not isinstance(faults, list) or not all(isinstance(z, str) and ZONE_RE.match(z) for z in faults):
        raise BadReport("amp_faults: expected a list of zone names")
    power = hb.get("power")
    if power is not None:
        _validate_power(power)
    return hb


def _validate_power(power: Any) -> None:
    """The optional ``power`` member: mains state (and since when), the Pi's power flags."""
    _obj(power, "power", frozenset({"mains", "since", "under_voltage", "throttled", "flags"}))
    if power["mains"] not in POWER_MAINS:
        raise BadReport(f"power.mains: expected one of {', '.join(POWER_MAINS)}")
    if power["since"] is not None:
        _utc(power["since"], "power.since")
    for key in ("under_voltage", "throttled"):
        if not isinstance(power[key], bool):
            raise BadReport(f"power.{key}: expected true or false")
    if power["flags"] is not None and not _is_int(power["flags"], 0, 0xFFFFFFFF):
        raise BadReport("power.flags: expected the firmware's get_throttled word (0 to 4294967295) or null")


def _opt_utc(data: Mapping[str, Any], key: str, where: str) -> None:
    if data.get(key) is not None:
        _utc(data[key], f"{where}.{key}")


def validate_entry(entry: Any) -> dict[str, Any]:
    """Check one uploaded outbox entry (protocol §10); raises ``BadReport`` (the refusal reason)."""
    e = _obj(entry, "entry", frozenset({"id", "type", "at", "data"}))
    if not isinstance(e["id"], str) or not ID_RE.match(e["id"]):
        raise BadReport("id: expected an identifier", "bad_id")
    if e["type"] not in OUTBOX_TYPES:
        raise BadReport(f"type: expected one of {', '.join(OUTBOX_TYPES)}", "bad_type")
    _utc(e["at"], "at")
    data = e["data"]
    if not isinstance(data, dict):
        raise BadReport("data: expected an object", "bad_data")
    if e["type"] == "play":
        if len(json.dumps(data, ensure_ascii=False).encode("utf-8")) > PLAY_DATA_MAX_BYTES:
            raise BadReport(f"data: expected an object of at most {PLAY_DATA_MAX_BYTES} bytes", "bad_data")
    elif len(json.dumps(data)) > ENTRY_DATA_MAX_CHARS:
        raise BadReport("data: expected an object of at most 4 KB", "bad_data")
    if e["type"] == "play":
        _play_details(data)
        _obj(data, "data", frozenset({"item_id", "version", "zones", "started_at", "ended_at", "outcome",
                                      "played_s", "trigger"}))
        _text(data["item_id"], "data.item_id", 200)
        if data["version"] is not None and not _is_int(data["version"], 0):
            raise BadReport("data.version: expected an integer or null", "bad_data")
        if not isinstance(data["zones"], list) or not all(isinstance(z, str) for z in data["zones"]):
            raise BadReport("data.zones: expected a list of zone names", "bad_data")
        for key in ("started_at", "ended_at", "scheduled_at"):
            _opt_utc(data, key, "data")
        if data["outcome"] not in PLAY_OUTCOMES:
            raise BadReport(f"data.outcome: expected one of {', '.join(PLAY_OUTCOMES)}", "bad_data")
        if data["played_s"] is not None and (not _is_number(data["played_s"]) or data["played_s"] < 0):
            raise BadReport("data.played_s: expected a number >= 0 or null", "bad_data")
        if data["trigger"] not in PLAY_TRIGGERS:
            raise BadReport(f"data.trigger: expected one of {', '.join(PLAY_TRIGGERS)}", "bad_data")
    elif e["type"] == "rejected":
        _obj(data, "data", frozenset({"item_id", "version", "reason"}))
        if data["item_id"] is not None:
            _text(data["item_id"], "data.item_id", 200, allow_empty=True)
        if data["version"] is not None and not _is_int(data["version"], -MAX_SAFE_INT):
            raise BadReport("data.version: expected an integer or null", "bad_data")
        if not isinstance(data["reason"], str) or not REASON_RE.match(data["reason"]):
            raise BadReport("data.reason: expected a reason code", "bad_data")
    else:
        _obj(data, "data", frozenset({"zone", "state"}))
        if not isinstance(data["zone"], str) or not ZONE_RE.match(data["zone"]):
            raise BadReport("data.zone: expected a zone name", "bad_data")
        if data["state"] not in ("on", "off"):
            raise BadReport("data.state: expected 'on' or 'off'", "bad_data")
    return e


def _play_details(data: Mapping[str, Any]) -> None:
    """The optional members that keep what was said: title, text, actor, reason_vi (null or absent
    when unknown)."""
    limits = {"title": MAX_TITLE_CHARS, "actor": 100, "reason_vi": 500}
    for key, limit in limits.items():
        if data.get(key) is not None:
            _text(data[key], f"data.{key}", limit, allow_empty=True)
    text = data.get("text")
    bad = not isinstance(text, str) or len(text.encode("utf-8")) > PLAY_TEXT_MAX_BYTES \
        or bool(TEXT_CONTROL_RE.search(text))
    if text is not None and bad:
        raise BadReport(f"data.text: expected a text of at most {PLAY_TEXT_MAX_BYTES} UTF-8 bytes", "bad_data")


def validate_logs(body: Any) -> list[Any]:
    """The envelope of a logs upload; the entries are checked one by one afterwards."""
    if not isinstance(body, dict) or set(body) != {"entries"}:
        raise BadReport("expected an object with exactly one member 'entries'")
    entries = body["entries"]
    if not isinstance(entries, list) or not 1 <= len(entries) <= LOGS_MAX_ENTRIES:
        raise BadReport(f"entries: expected a list of 1 to {LOGS_MAX_ENTRIES} entries")
    return entries


# --------------------------------------------------------------------------- status (pure)
