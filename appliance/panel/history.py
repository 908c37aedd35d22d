"""What played: play-log queries with filters, CSV export and minutes per day and zone.

Queries read the daemon's play_log (migration 0002); the aggregation is a pure function so
the chart can be tested without a database.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from appliance.panel.i18n import parse_utc
from appliance.state.store import Store, to_utc_iso

OUTCOMES = ("playing", "completed", "cut", "interrupted", "failed", "skipped")
CSV_COLUMNS = ("id", "item_id", "item_version", "title", "text", "zones", "trigger", "actor", "outcome", "reason",
               "scheduled_start", "actual_start", "actual_end", "played_s")
# The CSV's headers in Vietnamese (the default) and English; times are the station's local time.
CSV_HEADERS = {
    "vi": ("Mã lượt phát", "Mã bản tin", "Phiên bản", "Tiêu đề", "Nội dung đã đọc", "Vùng loa", "Cách phát",
           "Người yêu cầu", "Kết quả", "Lý do", "Giờ theo lịch (giờ địa phương)", "Bắt đầu (giờ địa phương)",
           "Kết thúc (giờ địa phương)", "Thời lượng (giây)"),
    "en": ("Play id", "Item id", "Version", "Title", "Text spoken", "Zones", "Trigger", "Requested by", "Outcome",
           "Reason", "Scheduled (local time)", "Started (local time)", "Ended (local time)", "Played (s)"),
}
_TIME_COLUMNS = ("scheduled_start", "actual_start", "actual_end")


@dataclass(frozen=True)
class PlayFilter:
    date_from: date | None = None
    date_to: date | None = None
    zone: str | None = None
    outcome: str | None = None
    limit: int = 500


def _day_start_utc(day: date, zone: ZoneInfo) -> str:
    return to_utc_iso(datetime.combine(day, time(0, 0), tzinfo=zone))


def plays(store: Store, flt: PlayFilter, zone: ZoneInfo) -> list[dict[str, Any]]:
    sql = ("SELECT p.*, i.title AS item_title FROM play_log p LEFT JOIN items i ON i.id = p.item_id"
           " WHERE 1=1")
    params: list[Any] = []
    when = "COALESCE(p.actual_start, p.scheduled_start, p.created_at)"
    if flt.date_from:
        sql += f" AND {when} >= ?"
        params.append(_day_start_utc(flt.date_from, zone))
    if flt.date_to:
        sql += f" AND {when} < ?"
        params.append(_day_start_utc(flt.date_to + timedelta(days=1), zone))
    if flt.zone:
        # Zone names are restricted by config to [a-z0-9_-]: safe inside a LIKE on the JSON list.
        sql += " AND (p.zones LIKE ? OR p.zones LIKE '%\"*\"%')"
        params.append(f'%"{flt.zone}"%')
    if flt.outcome:
        sql += " AND p.outcome = ?"
        params.append(flt.outcome)
    sql += f" ORDER BY {when} DESC LIMIT ?"
    params.append(flt.limit)
    out = []
    for row in store.query(sql, tuple(params)):
        data = dict(row)
        # The play log keeps its own title (an emergency text has no item; an item may be gone).
        data["title"] = data.get("title") or data.pop("item_title", None) or ""
        data.pop("item_title", None)
        try:
            data["zones"] = json.loads(data["zones"])
        except (TypeError, ValueError):
            data["zones"] = []
        out.append(data)
    return out


def _local(value: Any, zone: ZoneInfo) -> str:
    moment = parse_utc(value) if isinstance(value, str) else None
    return moment.astimezone(zone).strftime("%d/%m/%Y %H:%M:%S") if moment else ""


def to_csv(rows: Iterable[dict[str, Any]], *, zone: ZoneInfo | None = None, lang: str = "vi") -> str:
    """CSV with a header in the operator's language and times in the station's local time
    (``zone``; UTC ISO when none is given); reasons, actors and outcomes in that language too.
    Cells starting like a spreadsheet formula are quoted inert."""
    from appliance.broadcast.reasons import actor_label
    from appliance.panel.i18n import translate

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADERS.get(lang, CSV_HEADERS["vi"]) if zone is not None else CSV_COLUMNS)
    for row in rows:
        cells = []
        for column in CSV_COLUMNS:
            value = row.get(column)
            if zone is not None:
                if column in _TIME_COLUMNS:
                    value = _local(value, zone)
                elif column == "reason" and lang == "vi":
                    value = row.get("reason_vi") or value
                elif column == "actor":
                    value = actor_label(value, lang)
                elif column in ("outcome", "trigger") and value:
                    value = translate(str(value), lang)
                elif column == "played_s" and value is not None and lang == "vi":
                    value = f"{float(value):.1f}".replace(".", ",")
            if isinstance(value, list):
                value = " ".join(value)
            text = "" if value is None else str(value)
            if text[:1] in ("=", "+", "-", "@", "\t", "\r") and column in ("title", "text", "reason", "actor"):
                text = "'" + text
            cells.append(text)
        writer.writerow(cells)
    return buffer.getvalue()


def played_seconds(row: dict[str, Any]) -> float:
    if row.get("played_s") is not None:
        return max(0.0, float(row["played_s"]))
    start, end = parse_utc(row.get("actual_start")), parse_utc(row.get("actual_end"))
    if start and end and end > start:
        return (end - start).total_seconds()
    return 0.0


def minutes_by_day_zone(rows: Iterable[dict[str, Any]], zone: ZoneInfo, days: Sequence[date],
                        zone_names: Sequence[str]) -> dict[tuple[date, str], float]:
    """Broadcast minutes per (local day, zone). A play in several zones counts in each."""
    wanted = set(days)
    totals: dict[tuple[date, str], float] = {}
    for row in rows:
        start = parse_utc(row.get("actual_start"))
        if start is None:
            continue
        day = start.astimezone(zone).date()
        if day not in wanted:
            continue
        zones = row.get("zones") or []
        if "*" in zones:
            zones = list(zone_names)
        for name in zones:
            if name in zone_names:
                totals[(day, name)] = totals.get((day, name), 0.0) + played_seconds(row) / 60
    return totals


def last_days(today: date, count: int = 7) -> list[date]:
    return [today - timedelta(days=count - 1 - i) for i in range(count)]


def recent_for_chart(store: Store, days: Sequence[date], zone: ZoneInfo) -> list[dict[str, Any]]:
    return plays(store, PlayFilter(date_from=days[0], date_to=days[-1], limit=20000), zone)


def now_utc() -> datetime:
    return datetime.now(UTC)
