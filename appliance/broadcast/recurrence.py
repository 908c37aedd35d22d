"""Slots and their expansion into concrete start instants.

A slot is one source of occurrences for one item: a list of one-off UTC start instants,
or an RFC 5545 recurrence (DTSTART + RRULE + EXDATE, UNTIL or COUNT) evaluated in wall
time of a zone (the slot's TZID, else the device zone) with python-dateutil. Pure
functions: no clock, no I/O. The only state is a memo of expanded rules, keyed by the
immutable rule, so that a planner called every few seconds does not re-walk years of a
daily rule.

Expansion is bounded: only a restricted, well-understood subset of RRULE is accepted (a
rule that can never fire, such as the 30th of February, makes dateutil walk to year 9999,
seconds of CPU on a Pi), and every walk stops after ``MAX_STEPS`` occurrences.
"""

from __future__ import annotations

import bisect
import calendar
import itertools
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrulestr

from appliance.errors import ScheduleError

SlotKind = Literal["once", "rrule"]

# Walking further than this many occurrences from DTSTART is refused: a daily rule reaches
# 270 years, an every-30-minutes rule 5 years.
MAX_STEPS = 100_000
# How many occurrences validate_slot inspects for the minimum-interval rule.
VALIDATE_SAMPLE = 2_000
_MEMO_SIZE = 512

_ALLOWED_PARTS = {"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYMONTH",
                  "BYHOUR", "BYMINUTE", "BYSECOND", "WKST"}
_FREQS = {"MINUTELY": 60, "HOURLY": 3600, "DAILY": 86400, "WEEKLY": 7 * 86400,
          "MONTHLY": 28 * 86400, "YEARLY": 365 * 86400}
_WEEKDAYS = {"MO", "TU", "WE", "TH", "FR", "SA", "SU"}
_BYDAY_RE = re.compile(r"^([+-]?)(\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$")
_UNTIL_RE = re.compile(r"^(\d{8})(T(\d{6})(Z?))?$")


@dataclass(frozen=True)
class Slot:
    """One source of occurrences for one item.

    ``kind='once'``: ``starts`` are aware instants (stored and sent as UTC).
    ``kind='rrule'``: ``dtstart`` is a wall time in ``tzid`` (naive) or an aware instant
    (converted to that zone's wall time); ``rrule`` is the RRULE value, e.g.
    ``'FREQ=DAILY;BYHOUR=6;BYMINUTE=0'`` (an ``RRULE:`` prefix is accepted); ``exdates``
    are naive wall times in the zone or aware instants. ``tzid`` None means the device zone.
    ``duration_s`` None: the item's expected duration. ``zones`` None: the item's zones.
    ``valid_from``/``valid_until`` bound the slot itself (aware; ``valid_until`` exclusive).
    ``origin``: 'central' (a schedule inside a central item) or 'local' (operator slot).
    """

    slot_id: str
    item_id: str
    kind: SlotKind = "once"
    starts: tuple[datetime, ...] = ()
    dtstart: datetime | None = None
    rrule: str = ""
    exdates: tuple[datetime, ...] = ()
    tzid: str | None = None
    duration_s: float | None = None
    zones: tuple[str, ...] | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    origin: Literal["central", "local"] = "central"


def _refuse(slot: Slot, code: str, vi: str, en: str) -> ScheduleError:
    return ScheduleError(
        f"Lịch '{slot.slot_id}' (bản tin {slot.item_id}) bị từ chối: {vi}",
        f"Slot '{slot.slot_id}' (item {slot.item_id}) refused: {en}",
        code=f"schedule_invalid.{code}",
    )


def zone_of(slot: Slot, device_tz: str) -> ZoneInfo:
    name = slot.tzid or device_tz
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _refuse(slot, "tzid", f"múi giờ '{name}' không tồn tại.",
                      f"time zone '{name}' does not exist.") from None


def _aware(slot: Slot, value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise _refuse(slot, "naive_time", f"{what} phải có múi giờ (UTC).",
                      f"{what} must carry a time zone (UTC).")
    return value.astimezone(UTC)


def _wall_to_utc(value: datetime, tz: ZoneInfo) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=tz).astimezone(UTC)
    return value.astimezone(UTC)


# --------------------------------------------------------------------------- RRULE checks


def parse_rule(slot: Slot) -> dict[str, str]:
    """Split the RRULE into parts and refuse anything outside the supported subset."""
    text = slot.rrule.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    if not text:
        raise _refuse(slot, "rrule_missing", "thiếu quy tắc lặp (RRULE).", "the recurrence (RRULE) is missing.")
    parts: dict[str, str] = {}
    for chunk in text.split(";"):
        if not chunk:
            continue
        name, sep, value = chunk.partition("=")
        name = name.strip().upper()
        value = value.strip().upper()
        if not sep or not value:
            raise _refuse(slot, "rrule_syntax", f"phần '{chunk}' của RRULE không đúng dạng TÊN=GIÁ_TRỊ.",
                          f"RRULE part '{chunk}' is not NAME=VALUE.")
        if name not in _ALLOWED_PARTS:
            raise _refuse(slot, "rrule_unsupported", f"RRULE có phần '{name}' chưa được hỗ trợ.",
                          f"RRULE part '{name}' is not supported.")
        if name in parts:
            raise _refuse(slot, "rrule_syntax", f"RRULE lặp lại phần '{name}'.", f"RRULE repeats part '{name}'.")
        parts[name] = value
    freq = parts.get("FREQ")
    if freq not in _FREQS:
        raise _refuse(slot, "rrule_freq", "FREQ phải là MINUTELY, HOURLY, DAILY, WEEKLY, MONTHLY hoặc YEARLY.",
                      "FREQ must be MINUTELY, HOURLY, DAILY, WEEKLY, MONTHLY or YEARLY.")
    if "COUNT" in parts and "UNTIL" in parts:
        raise _refuse(slot, "rrule_syntax", "không được dùng cả COUNT và UNTIL.", "COUNT and UNTIL cannot both be used.")
    _check_ints(slot, parts, "INTERVAL", 1, 1000)
    _check_ints(slot, parts, "COUNT", 1, MAX_STEPS)
    _check_ints(slot, parts, "BYMONTH", 1, 12)
    _check_ints(slot, parts, "BYHOUR", 0, 23)
    _check_ints(slot, parts, "BYMINUTE", 0, 59)
    _check_ints(slot, parts, "BYSECOND", 0, 59)
    monthdays = _check_ints(slot, parts, "BYMONTHDAY", -31, 31)
    if 0 in monthdays:
        raise _refuse(slot, "rrule_value", "BYMONTHDAY không được bằng 0.", "BYMONTHDAY cannot be 0.")
    if "WKST" in parts and parts["WKST"] not in _WEEKDAYS:
        raise _refuse(slot, "rrule_value", "WKST phải là một thứ trong tuần (MO..SU).", "WKST must be a weekday (MO..SU).")
    ordinals = _check_byday(slot, parts, freq)
    if ordinals and monthdays:
        # "first Monday" and "the 15th" can never coincide; dateutil would search forever.
        raise _refuse(slot, "rrule_impossible", "không dùng thứ có số thứ tự (vd. 1MO) cùng BYMONTHDAY.",
                      "an ordinal weekday (e.g. 1MO) cannot be combined with BYMONTHDAY.")
    if monthdays:
        months = _check_ints(slot, parts, "BYMONTH", 1, 12) or list(range(1, 13))
        longest = {m: calendar.monthrange(2024, m)[1] for m in months}  # 2024: leap year, Feb has 29
        if not any(abs(d) <= longest[m] for m in months for d in monthdays):
            raise _refuse(slot, "rrule_impossible", "ngày trong tháng không bao giờ xảy ra (vd. 30 tháng 2).",
                          "the day of month never occurs (e.g. 30 February).")
    if "UNTIL" in parts and not _UNTIL_RE.match(parts["UNTIL"]):
        raise _refuse(slot, "rrule_value", "UNTIL phải có dạng YYYYMMDD hoặc YYYYMMDDTHHMMSS[Z].",
                      "UNTIL must be YYYYMMDD or YYYYMMDDTHHMMSS[Z].")
    return parts


def _check_ints(slot: Slot, parts: dict[str, str], name: str, low: int, high: int) -> list[int]:
    if name not in parts:
        return []
    values: list[int] = []
    for raw in parts[name].split(","):
        try:
            value = int(raw)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise _refuse(slot, "rrule_value", f"{name} phải là số nguyên từ {low} đến {high} (đang là '{raw}').",
                          f"{name} must be whole numbers from {low} to {high} (got '{raw}').")
        values.append(value)
    return values


def _check_byday(slot: Slot, parts: dict[str, str], freq: str) -> list[int]:
    if "BYDAY" not in parts:
        return []
    ordinals: list[int] = []
    limit = 53 if freq == "YEARLY" and "BYMONTH" not in parts else 5
    for raw in parts["BYDAY"].split(","):
        match = _BYDAY_RE.match(raw)
        if match is None:
            raise _refuse(slot, "rrule_value", f"BYDAY '{raw}' không hợp lệ (vd. MO, 1MO, -1FR).",
                          f"BYDAY '{raw}' is invalid (e.g. MO, 1MO, -1FR).")
        if match.group(2):
            n = int(match.group(2))
            if freq not in {"MONTHLY", "YEARLY"} or not 1 <= n <= limit:
                raise _refuse(slot, "rrule_value", f"BYDAY '{raw}': số thứ tự không hợp lệ với FREQ={freq}.",
                              f"BYDAY '{raw}': ordinal not valid with FREQ={freq}.")
            ordinals.append(n)
    return ordinals


def _normalized_rule(parts: dict[str, str], tz: ZoneInfo) -> str:
    # dateutil wants UNTIL in UTC when DTSTART is aware; RFC 5545 allows a floating local
    # UNTIL (and a date), which we read as wall time in the slot's zone (end of day for a date).
    out = dict(parts)
    if "UNTIL" in out:
        match = _UNTIL_RE.match(out["UNTIL"])
        assert match is not None  # checked in parse_rule
        if match.group(4) != "Z":
            clock = match.group(3) or "235959"
            local = datetime.strptime(match.group(1) + clock, "%Y%m%d%H%M%S").replace(tzinfo=tz)
            out["UNTIL"] = local.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return ";".join(f"{k}={v}" for k, v in out.items())


# --------------------------------------------------------------------------- memoised walk


class _RuleWalk:
    """A rule's occurrences (UTC), generated lazily and trimmed behind the requested window.

    The planner's windows move forward, so entries well before the last request are
    dropped (memory stays small on a Pi); a request further back restarts the walk.
    """

    _KEEP = 2048

    def __init__(self, rule_text: str, dtstart: datetime) -> None:
        self.rule_text = rule_text
        self.dtstart = dtstart
        self.lock = threading.Lock()
        rrulestr(rule_text, dtstart=dtstart)  # raise ValueError now, not on first use
        self._restart()

    def _restart(self) -> None:
        self._iter: Iterator[datetime] = iter(rrulestr(self.rule_text, dtstart=self.dtstart))
        self.times: list[datetime] = []
        self.done = False
        self.steps = 0
        self.trimmed = False

    def window(self, start: datetime, end: datetime) -> list[datetime] | None:
        """Occurrences in [start, end); None if reaching ``end`` needs more than MAX_STEPS."""
        if self.trimmed and (not self.times or start < self.times[0]):
            self._restart()
        while not self.done and (not self.times or self.times[-1] < end):
            if self.steps >= MAX_STEPS:
                return None
            try:
                self.times.append(next(self._iter).astimezone(UTC))
                self.steps += 1
            except StopIteration:
                self.done = True
            if len(self.times) > 2 * self._KEEP and self.times[self._KEEP] < start:
                del self.times[:self._KEEP]
                self.trimmed = True
        lo = bisect.bisect_left(self.times, start)
        hi = bisect.bisect_left(self.times, end)
        result = self.times[lo:hi]
        if lo > self._KEEP:
            # Keep one entry before ``start`` so a repeated request does not look like a step back.
            del self.times[:lo - 1]
            self.trimmed = True
        return result


_memo: OrderedDict[tuple[str, datetime, str], _RuleWalk] = OrderedDict()
_memo_lock = threading.Lock()


def _walk_for(slot: Slot, device_tz: str) -> tuple[_RuleWalk, ZoneInfo]:
    tz = zone_of(slot, device_tz)
    if slot.dtstart is None:
        raise _refuse(slot, "dtstart_missing", "thiếu thời điểm bắt đầu (DTSTART).", "DTSTART is missing.")
    parts = parse_rule(slot)
    local_start = slot.dtstart.replace(tzinfo=tz) if slot.dtstart.tzinfo is None else slot.dtstart.astimezone(tz)
    rule_text = _normalized_rule(parts, tz)
    key = (rule_text, local_start.replace(tzinfo=None), str(tz.key))
    with _memo_lock:
        walk = _memo.get(key)
        if walk is None:
            try:
                walk = _RuleWalk(rule_text, local_start)
            except ValueError as exc:
                raise _refuse(slot, "rrule_syntax", f"RRULE không đọc được ({exc}).",
                              f"RRULE cannot be parsed ({exc}).") from None
            _memo[key] = walk
            while len(_memo) > _MEMO_SIZE:
                _memo.popitem(last=False)
        else:
            _memo.move_to_end(key)
    return walk, tz


# --------------------------------------------------------------------------- public API


def occurrence_times(slot: Slot, start: datetime, end: datetime, device_tz: str) -> list[datetime]:
    """Start instants (UTC) of ``slot`` in [start, end), after EXDATE and slot validity.

    Raises ScheduleError for a malformed slot, or for a rule that needs more than
    MAX_STEPS occurrences to reach ``end``.
    """
    start = start.astimezone(UTC)
    end = end.astimezone(UTC)
    if end <= start:
        return []
    if slot.kind == "once":
        times = sorted({_aware(slot, s, "start time") for s in slot.starts})
        times = [t for t in times if start <= t < end]
        tz = zone_of(slot, device_tz)
    elif slot.kind == "rrule":
        walk, tz = _walk_for(slot, device_tz)
        with walk.lock:
            found = walk.window(start, end)
            if found is None:
                raise _refuse(slot, "too_many", f"quy tắc lặp cần hơn {MAX_STEPS} lần phát để tới khoảng thời gian này.",
                              f"the rule needs more than {MAX_STEPS} occurrences to reach this period.")
        times = found
    else:
        raise _refuse(slot, "kind", f"loại lịch '{slot.kind}' không hợp lệ (once hoặc rrule).",
                      f"slot kind '{slot.kind}' is invalid (once or rrule).")
    if slot.exdates:
        excluded = {_wall_to_utc(x, tz) for x in slot.exdates}
        times = [t for t in times if t not in excluded]
    if slot.valid_from is not None:
        times = [t for t in times if t >= _aware(slot, slot.valid_from, "valid_from")]
    if slot.valid_until is not None:
        times = [t for t in times if t < _aware(slot, slot.valid_until, "valid_until")]
    return times


def validate_slot_rules(slot: Slot, *, min_interval_s: float, max_duration_s: float, device_tz: str) -> None:
    """Refuse a slot that is malformed, fires more often than ``min_interval_s`` or runs too long.

    Intervals are measured in local wall time, so a daily rule is not refused for the 23-hour
    day of a DST change. Only the first VALIDATE_SAMPLE occurrences are inspected: the
    accepted RRULE subset repeats its pattern well within that.
    """
    tz = zone_of(slot, device_tz)
    if slot.duration_s is not None:
        if not slot.duration_s > 0:
            raise _refuse(slot, "duration", "thời lượng phải lớn hơn 0.", "the duration must be greater than 0.")
        if slot.duration_s > max_duration_s:
            raise _refuse(slot, "too_long",
                          f"thời lượng {slot.duration_s / 60:.0f} phút dài hơn mức tối đa {max_duration_s / 60:.0f} phút.",
                          f"duration {slot.duration_s / 60:.0f} min exceeds the maximum of {max_duration_s / 60:.0f} min.")
    if slot.valid_from is not None and slot.valid_until is not None and \
            _aware(slot, slot.valid_until, "valid_until") <= _aware(slot, slot.valid_from, "valid_from"):
        raise _refuse(slot, "validity", "hết hiệu lực trước khi bắt đầu hiệu lực.", "valid_until is not after valid_from.")
    for x in slot.exdates:
        if not isinstance(x, datetime):
            raise _refuse(slot, "exdate", "EXDATE phải là thời điểm.", "EXDATE values must be date-times.")
    if slot.kind == "once":
        if not slot.starts:
            raise _refuse(slot, "no_starts", "không có thời điểm phát nào.", "it has no start time.")
        times = sorted({_aware(slot, s, "start time") for s in slot.starts})
        walls = [t.astimezone(tz).replace(tzinfo=None) for t in times]
    elif slot.kind == "rrule":
        walk, _ = _walk_for(slot, device_tz)  # parses and checks the rule
        sample = itertools.islice(rrulestr(walk.rule_text, dtstart=walk.dtstart), VALIDATE_SAMPLE)
        walls = [t.replace(tzinfo=None) for t in sample]
        if not walls:
            raise _refuse(slot, "never", "quy tắc lặp không bao giờ phát.", "the rule never fires.")
    else:
        raise _refuse(slot, "kind", f"loại lịch '{slot.kind}' không hợp lệ (once hoặc rrule).",
                      f"slot kind '{slot.kind}' is invalid (once or rrule).")
    gaps = [b - a for a, b in zip(walls, walls[1:], strict=False) if b != a]
    if gaps:
        smallest = min(gaps)
        if smallest < timedelta(seconds=min_interval_s):
            raise _refuse(
                slot, "too_frequent",
                f"phát cách nhau chỉ {_fmt_gap(smallest, 'vi')}, dày hơn mức tối thiểu {min_interval_s / 60:.0f} phút.",
                f"it fires only {_fmt_gap(smallest, 'en')} apart, more often than the minimum of "
                f"{min_interval_s / 60:.0f} min.")


def _fmt_gap(gap: timedelta, language: str) -> str:
    seconds = int(gap.total_seconds())
    if seconds < 60:
        return f"{seconds} giây" if language == "vi" else f"{seconds} s"
    return f"{seconds // 60} phút" if language == "vi" else f"{seconds // 60} min"
