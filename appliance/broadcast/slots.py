"""Local broadcast slots: validation of operator input and data access for the ``slots`` table.

The panel adds, edits and deletes local slots through ``SlotRepository``; the daemon reads
them for the planner. Validation is a pure function (``parse_slot_input``) so the panel can
show errors before saving. Deleting is a soft delete (``deleted=1``) so the play log keeps
pointing at a real row.

Stored shapes (see migration 0002):
- ``kind='once'``: ``starts`` is a list of UTC instants (ISO 8601 with 'Z').
- ``kind='rrule'``: ``dtstart`` is a local wall time ``YYYY-MM-DDTHH:MM:SS`` in ``tzid``,
  ``rrule`` an RFC 5545 RRULE value, ``exdates`` local wall times in ``tzid``.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import uuid
import zoneinfo
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from appliance.broadcast import planner
from appliance.state.config import Config
from appliance.state.store import Store, utc_now_iso
from protocol.errors import ValidationError

_MAX_ONCE_STARTS = 100


@dataclasses.dataclass(frozen=True)
class Slot:
    id: str
    item_id: str
    zones: list[str]
    kind: str
    starts: list[str]
    dtstart: str | None
    rrule: str | None
    exdates: list[str]
    tzid: str
    duration_s: int | None
    valid_from: str | None
    valid_until: str | None
    created_by: str = ""
    created_at: str = ""
    updated_at: str = ""
    deleted: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class SlotFields:
    """Validated, normalised operator input (what gets written to the table)."""

    item_id: str
    zones: list[str]
    kind: str
    starts: list[str]
    dtstart: str | None
    rrule: str | None
    exdates: list[str]
    tzid: str
    duration_s: int | None
    valid_from: str | None
    valid_until: str | None


def _invalid(vi: str, en: str) -> ValidationError:
    return ValidationError(vi, en, code="invalid_input.slot")


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_instant(value: Any, tz: zoneinfo.ZoneInfo, field: str) -> datetime:
    """An ISO time; with 'Z' or an offset it is absolute, without one it is local wall time."""
    if not isinstance(value, str) or not value.strip():
        raise _invalid(f"Trường '{field}' phải là thời điểm ISO 8601.", f"Field '{field}' must be an ISO 8601 time.")
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _invalid(f"Thời điểm không hợp lệ ở '{field}': {value!r}.",
                       f"Invalid time in '{field}': {value!r}.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(UTC)


def _parse_local(value: Any, field: str) -> datetime:
    """A local wall time (no offset) as naive datetime, seconds kept, microseconds dropped."""
    if not isinstance(value, str) or not value.strip():
        raise _invalid(f"Trường '{field}' phải là giờ địa phương dạng YYYY-MM-DDTHH:MM.",
                       f"Field '{field}' must be a local time YYYY-MM-DDTHH:MM.")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _invalid(f"Giờ không hợp lệ ở '{field}': {value!r}.", f"Invalid time in '{field}': {value!r}.") from None
    if moment.tzinfo is not None:
        raise _invalid(f"'{field}' là giờ địa phương, không kèm múi giờ: {value!r}.",
                       f"'{field}' is a local wall time without an offset: {value!r}.")
    return moment.replace(microsecond=0)


def _local_text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _rule_text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _invalid("Thiếu quy tắc lặp (RRULE).", "The repeat rule (RRULE) is missing.")
    text = value.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    if "\n" in text or "DTSTART" in text.upper():
        raise _invalid("RRULE chỉ gồm một dòng quy tắc, không kèm DTSTART.",
                       "RRULE must be a single rule line without DTSTART.")
    return text


def parse_slot_input(data: Mapping[str, Any], *, zone_names: Sequence[str], default_tz: str,
                     settings: planner.Settings) -> SlotFields:
    """Validate operator input for one slot. Pure; raises ValidationError/ScheduleError.

    Shape and references are checked here; the broadcast rules (minimum interval, maximum
    duration, accepted RRULE subset) are the planner's ``validate_slot``.
    """
    if not isinstance(data, Mapping):
        raise _invalid("Dữ liệu lịch phát phải là một đối tượng.", "Slot data must be an object.")
    known = {"item_id", "zones", "kind", "starts", "dtstart", "rrule", "exdates", "tzid", "duration_s",
             "valid_from", "valid_until"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise _invalid(f"Trường không được biết: {', '.join(unknown)}.", f"Unknown fields: {', '.join(unknown)}.")
    item_id = data.get("item_id")
    if not isinstance(item_id, str) or not item_id.strip() or len(item_id) > 200:
        raise _invalid("Thiếu mã bản tin (item_id).", "The item id (item_id) is missing.")
    tzid = data.get("tzid") or default_tz
    try:
        tz = zoneinfo.ZoneInfo(str(tzid))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise _invalid(f"Múi giờ không hợp lệ: {tzid!r}.", f"Unknown time zone: {tzid!r}.") from None
    zones = _parse_zones(data.get("zones", ["*"]), zone_names)

    duration = data.get("duration_s")
    if duration is not None and (isinstance(duration, bool) or not isinstance(duration, int) or duration <= 0):
        raise _invalid("Thời lượng (duration_s) phải là số giây dương.", "duration_s must be a positive number of seconds.")

    valid_from = _optional_instant(data.get("valid_from"), tz, "valid_from")
    valid_until = _optional_instant(data.get("valid_until"), tz, "valid_until")
    if valid_from and valid_until and valid_until <= valid_from:
        raise _invalid("'valid_until' phải sau 'valid_from'.", "'valid_until' must be after 'valid_from'.")

    kind = data.get("kind")
    if kind == "once":
        raw = data.get("starts")
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list) or not raw or len(raw) > _MAX_ONCE_STARTS:
            raise _invalid(f"'starts' phải là danh sách 1 đến {_MAX_ONCE_STARTS} thời điểm.",
                           f"'starts' must be a list of 1 to {_MAX_ONCE_STARTS} times.")
        starts = sorted({_parse_instant(v, tz, "starts") for v in raw})
        fields = SlotFields(item_id.strip(), zones, "once", [iso_utc(s) for s in starts], None, None, [], str(tzid),
                            duration, _opt_iso(valid_from), _opt_iso(valid_until))
        planner.validate_slot(to_planner_slot(fields), settings)
        return fields
    if kind == "rrule":
        dtstart = _parse_local(data.get("dtstart"), "dtstart")
        rule = _rule_text(data.get("rrule"))
        raw_ex = data.get("exdates") or []
        if not isinstance(raw_ex, list) or len(raw_ex) > 1000:
            raise _invalid("'exdates' phải là danh sách giờ địa phương.", "'exdates' must be a list of local times.")
        exdates = sorted({_parse_local(v, "exdates") for v in raw_ex})
        fields = SlotFields(item_id.strip(), zones, "rrule", [], _local_text(dtstart), rule,
                            [_local_text(e) for e in exdates], str(tzid), duration,
                            _opt_iso(valid_from), _opt_iso(valid_until))
        planner.validate_slot(to_planner_slot(fields), settings)
        return fields
    raise _invalid("'kind' phải là 'once' hoặc 'rrule'.", "'kind' must be 'once' or 'rrule'.")


def refuse_past(fields: SlotFields, now: datetime) -> None:
    """An operator's one-off start in the past is refused (it would never play): raised, not saved."""
    if fields.kind == "once" and any(datetime.fromisoformat(s.replace("Z", "+00:00")) < now for s in fields.starts):
        raise ValidationError("Giờ phát đã qua: hãy chọn một thời điểm trong tương lai.",
                              "The start time is in the past: choose a time in the future.",
                              code="invalid_input.start_past")


def _parse_zones(value: Any, zone_names: Sequence[str]) -> list[str]:
    if value in (None, "*"):
        return ["*"]
    if not isinstance(value, list) or not value or not all(isinstance(z, str) for z in value):
        raise _invalid("'zones' phải là danh sách tên vùng.", "'zones' must be a list of zone names.")
    if "*" in value and len(set(value)) > 1:
        raise _invalid("Chọn tất cả các vùng ('*') hoặc từng vùng, không chọn cả hai.",
                       "Choose all zones ('*') or single zones, not both.")
    if "*" in value:
        return ["*"]
    unknown = sorted(set(value) - set(zone_names))
    if unknown:
        raise _invalid(f"Vùng không tồn tại: {', '.join(unknown)}.", f"Unknown zones: {', '.join(unknown)}.")
    return sorted(set(value))


def _optional_instant(value: Any, tz: zoneinfo.ZoneInfo, field: str) -> datetime | None:
    return None if value in (None, "") else _parse_instant(value, tz, field)


def _opt_iso(moment: datetime | None) -> str | None:
    return iso_utc(moment) if moment else None


def to_planner_slot(slot: Slot | SlotFields) -> planner.Slot:
    """The planner's view of a local slot (raises ScheduleError for a malformed stored row)."""
    shape = {"kind": slot.kind, "starts": slot.starts, "dtstart": slot.dtstart, "rrule": slot.rrule,
             "exdates": slot.exdates, "tzid": slot.tzid, "duration_s": slot.duration_s}
    zones = None if list(slot.zones) == ["*"] else slot.zones
    return planner.slot_from_schedule(
        slot.item_id, shape, slot_id=getattr(slot, "id", None) or "local:new", zones=zones,
        valid_from=datetime.fromisoformat(slot.valid_from.replace("Z", "+00:00")) if slot.valid_from else None,
        valid_until=datetime.fromisoformat(slot.valid_until.replace("Z", "+00:00")) if slot.valid_until else None,
        origin="local")


def _row_to_slot(row: sqlite3.Row) -> Slot:
    return Slot(
        id=row["id"], item_id=row["item_id"], zones=json.loads(row["zones"]), kind=row["kind"],
        starts=json.loads(row["starts"]), dtstart=row["dtstart"], rrule=row["rrule"],
        exdates=json.loads(row["exdates"]), tzid=row["tzid"], duration_s=row["duration_s"],
        valid_from=row["valid_from"], valid_until=row["valid_until"], created_by=row["created_by"],
        created_at=row["created_at"], updated_at=row["updated_at"], deleted=bool(row["deleted"]),
    )


class SlotRepository:
    """Data access for local slots. Every change is recorded in the event log with its actor.

    ``on_change`` (optional) is called after a committed change, e.g. to wake the daemon.
    """

    def __init__(self, store: Store, config: Config, *, on_change: Any = None) -> None:
        self._store = store
        self._config = config
        self._on_change = on_change

    def validate(self, data: Mapping[str, Any]) -> SlotFields:
        return parse_slot_input(data, zone_names=self._config.zone_names(), default_tz=self._config.device.timezone,
                                settings=planner.settings_from_config(self._config))

    def add(self, data: Mapping[str, Any], *, actor: str) -> Slot:
        fields = self.validate(data)
        slot_id = uuid.uuid4().hex
        now = utc_now_iso()
        with self._store.transaction(durable=True) as tx:
            tx.execute(
                "INSERT INTO slots (id, item_id, zones, kind, starts, dtstart, rrule, exdates, tzid, duration_s,"
                " valid_from, valid_until, created_by, created_at, updated_at, deleted)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
                (slot_id, fields.item_id, json.dumps(fields.zones), fields.kind, json.dumps(fields.starts),
                 fields.dtstart, fields.rrule, json.dumps(fields.exdates), fields.tzid, fields.duration_s,
                 fields.valid_from, fields.valid_until, actor, now, now),
            )
            self._store.log_event("slot.add", f"slot {slot_id} for item {fields.item_id}",
                                  {"slot_id": slot_id, "actor": actor, **dataclasses.asdict(fields)}, conn=tx)
        self._changed()
        return self._require(slot_id)

    def update(self, slot_id: str, data: Mapping[str, Any], *, actor: str) -> Slot:
        fields = self.validate(data)
        self._require(slot_id, live=True)
        now = utc_now_iso()
        with self._store.transaction(durable=True) as tx:
            tx.execute(
                "UPDATE slots SET item_id=?, zones=?, kind=?, starts=?, dtstart=?, rrule=?, exdates=?, tzid=?,"
                " duration_s=?, valid_from=?, valid_until=?, updated_at=? WHERE id=? AND deleted=0",
                (fields.item_id, json.dumps(fields.zones), fields.kind, json.dumps(fields.starts), fields.dtstart,
                 fields.rrule, json.dumps(fields.exdates), fields.tzid, fields.duration_s, fields.valid_from,
                 fields.valid_until, now, slot_id),
            )
            self._store.log_event("slot.update", f"slot {slot_id} updated",
                                  {"slot_id": slot_id, "actor": actor, **dataclasses.asdict(fields)}, conn=tx)
        self._changed()
        return self._require(slot_id)

    def delete(self, slot_id: str, *, actor: str) -> None:
        self._require(slot_id, live=True)
        with self._store.transaction(durable=True) as tx:
            tx.execute("UPDATE slots SET deleted=1, updated_at=? WHERE id=?", (utc_now_iso(), slot_id))
            self._store.log_event("slot.delete", f"slot {slot_id} deleted", {"slot_id": slot_id, "actor": actor},
                                  conn=tx)
        self._changed()

    def get(self, slot_id: str) -> Slot | None:
        row = self._store.query_one("SELECT * FROM slots WHERE id = ?", (slot_id,))
        return _row_to_slot(row) if row else None

    def list(self, *, include_deleted: bool = False, item_id: str | None = None) -> list[Slot]:
        sql, params = "SELECT * FROM slots WHERE 1=1", []
        if not include_deleted:
            sql += " AND deleted = 0"
        if item_id is not None:
            sql += " AND item_id = ?"
            params.append(item_id)
        sql += " ORDER BY created_at, id"
        return [_row_to_slot(r) for r in self._store.query(sql, tuple(params))]

    def _require(self, slot_id: str, *, live: bool = False) -> Slot:
        slot = self.get(slot_id) if isinstance(slot_id, str) else None
        if slot is None or (live and slot.deleted):
            raise ValidationError(f"Không có lịch phát {slot_id!r}.", f"No slot {slot_id!r}.",
                                  code="invalid_input.no_slot")
        return slot

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()
