"""Recurrence expansion (RRULE, EXDATE, UNTIL, COUNT, zones, DST), slot refusals, windows."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.broadcast.planner import Settings, slot_from_schedule, validate_slot
from appliance.broadcast.recurrence import MAX_STEPS, Slot, occurrence_times, validate_slot_rules
from appliance.broadcast.windows import (
    Window,
    allows,
    intervals_around,
    next_opening,
    parse_window,
    parse_windows,
)
from appliance.errors import ScheduleError

VN = "Asia/Ho_Chi_Minh"
FAR_PAST = datetime(2000, 1, 1, tzinfo=UTC)
FAR_FUTURE = datetime(2040, 1, 1, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def rule(text: str, dtstart: datetime, **kw: object) -> Slot:
    return Slot("s", "item", "rrule", dtstart=dtstart, rrule=text, **kw)  # type: ignore[arg-type]


def times(slot: Slot, start: datetime = FAR_PAST, end: datetime = FAR_FUTURE, tz: str = VN) -> list[datetime]:
    return occurrence_times(slot, start, end, tz)


def check(slot: Slot, min_interval_s: float = 1800, max_duration_s: float = 7200, tz: str = VN) -> None:
    validate_slot_rules(slot, min_interval_s=min_interval_s, max_duration_s=max_duration_s, device_tz=tz)


# --------------------------------------------------------------------------- expansion


def test_daily_rule_is_wall_time_in_the_device_zone_and_crosses_utc_midnight() -> None:
    got = times(rule("FREQ=DAILY;COUNT=3", datetime(2025, 1, 1, 6, 0)))
    # 06:00 in Vietnam (UTC+7) is 23:00 UTC the day before.
    assert got == [utc(2024, 12, 31, 23), utc(2025, 1, 1, 23), utc(2025, 1, 2, 23)]


def test_exdate_until_and_count() -> None:
    slot = rule("FREQ=DAILY;UNTIL=20250105T060000", datetime(2025, 1, 1, 6, 0),
                exdates=(datetime(2025, 1, 3, 6, 0),))
    assert [t.day for t in times(slot)] == [31, 1, 3, 4]  # UTC days: local 1, 2, 4, 5 (3rd excluded)
    # UNTIL as a date includes that whole local day; UNTIL in UTC is exact.
    assert len(times(rule("FREQ=DAILY;UNTIL=20250105", datetime(2025, 1, 1, 6, 0)))) == 5
    assert len(times(rule("FREQ=DAILY;UNTIL=20250104T225959Z", datetime(2025, 1, 1, 6, 0)))) == 4
    # COUNT counts before EXDATE removes (RFC 5545).
    counted = rule("FREQ=DAILY;COUNT=4", datetime(2025, 1, 1, 6, 0), exdates=(datetime(2025, 1, 2, 6, 0),))
    assert len(times(counted)) == 3
    # An aware EXDATE matches the same instant.
    aware = rule("FREQ=DAILY;COUNT=2", datetime(2025, 1, 1, 6, 0), exdates=(utc(2024, 12, 31, 23),))
    assert times(aware) == [utc(2025, 1, 1, 23)]


def test_week_boundaries_with_byday_and_wkst() -> None:
    slot = rule("FREQ=WEEKLY;INTERVAL=2;BYDAY=SU,MO;WKST=MO", datetime(2025, 6, 1, 17, 0))  # a Sunday
    local = [t.astimezone(ZoneInfo(VN)) for t in times(slot, utc(2025, 5, 31), utc(2025, 6, 30))]
    assert [(t.day, t.strftime("%a")) for t in local] == [(1, "Sun"), (9, "Mon"), (15, "Sun"), (23, "Mon"),
                                                           (29, "Sun")]


def test_monthly_last_friday_and_month_end_days() -> None:
    fridays = times(rule("FREQ=MONTHLY;BYDAY=-1FR;COUNT=3", datetime(2025, 1, 1, 8, 0)))
    assert [t.astimezone(ZoneInfo(VN)).day for t in fridays] == [31, 28, 28]
    month_end = times(rule("FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=3", datetime(2025, 1, 1, 8, 0)))
    assert [t.astimezone(ZoneInfo(VN)).day for t in month_end] == [31, 28, 31]


def test_window_of_expansion_is_half_open_and_slot_validity_applies() -> None:
    slot = rule("FREQ=DAILY", datetime(2025, 1, 1, 6, 0), valid_from=utc(2025, 1, 2), valid_until=utc(2025, 1, 4, 23))
    assert times(slot) == [utc(2025, 1, 2, 23), utc(2025, 1, 3, 23)]
    assert times(slot, utc(2025, 1, 2, 23), utc(2025, 1, 3, 23)) == [utc(2025, 1, 2, 23)]
    assert times(slot, utc(2025, 1, 3), utc(2025, 1, 2)) == []


def test_dst_is_wall_clock_in_zones_that_have_it() -> None:
    berlin = rule("FREQ=DAILY;COUNT=4", datetime(2025, 3, 29, 2, 30), tzid="Europe/Berlin")
    got = times(berlin)
    # 30 March 02:30 does not exist (clocks jump 02:00 -> 03:00): it plays at 03:30 CEST.
    assert got == [utc(2025, 3, 29, 1, 30), utc(2025, 3, 30, 1, 30), utc(2025, 3, 31, 0, 30), utc(2025, 4, 1, 0, 30)]
    autumn = times(rule("FREQ=DAILY;COUNT=3", datetime(2025, 10, 25, 2, 30), tzid="Europe/Berlin"))
    assert len(set(autumn)) == 3  # the repeated hour plays once
    # A daily rule is not "too frequent" because one day has 23 hours.
    check(rule("FREQ=DAILY", datetime(2025, 3, 25, 6, 0), tzid="Europe/Berlin"), min_interval_s=86400)


def test_once_slots_sort_and_deduplicate() -> None:
    slot = Slot("s", "i", "once", starts=(utc(2025, 1, 2), utc(2025, 1, 1), utc(2025, 1, 2)))
    assert times(slot) == [utc(2025, 1, 1), utc(2025, 1, 2)]


@settings(max_examples=60, deadline=None)
@given(
    freq=st.sampled_from(["DAILY", "WEEKLY", "MONTHLY"]),
    interval=st.integers(1, 3),
    hour=st.integers(0, 23),
    minutes=st.lists(st.sampled_from([0, 30]), min_size=1, max_size=2, unique=True),
    start_day=st.integers(1, 28),
    split=st.integers(1, 400),
    n_ex=st.integers(0, 3),
)
def test_expansion_is_consistent_under_splitting(freq: str, interval: int, hour: int, minutes: list[int],
                                                 start_day: int, split: int, n_ex: int) -> None:
    dtstart = datetime(2025, 2, start_day, hour, 0)
    text = f"FREQ={freq};INTERVAL={interval};BYHOUR={hour};BYMINUTE={','.join(map(str, minutes))}"
    base = rule(text, dtstart)
    first = times(base, utc(2025, 1, 1), utc(2026, 6, 1))
    exdates = tuple(t.astimezone(ZoneInfo(VN)).replace(tzinfo=None) for t in first[:n_ex])
    slot = rule(text, dtstart, exdates=exdates)
    lo, hi = utc(2025, 1, 1), utc(2026, 6, 1)
    mid = lo + timedelta(days=split)
    whole = times(slot, lo, hi)
    assert whole == sorted(set(whole))
    assert whole == times(slot, lo, mid) + times(slot, mid, hi)
    assert all(lo <= t < hi and t.tzinfo is UTC for t in whole)
    assert len(whole) == len(first) - n_ex if len(first) >= n_ex else not whole
    walls = [t.astimezone(ZoneInfo(VN)) for t in whole]
    assert all(w.hour == hour and w.minute in minutes for w in walls)
    check(slot, min_interval_s=1800)


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(("slot", "code"), [
    (rule("FREQ=MINUTELY;INTERVAL=5", datetime(2025, 1, 1, 6)), "too_frequent"),
    (rule("FREQ=DAILY;BYHOUR=6;BYMINUTE=0,10", datetime(2025, 1, 1, 6)), "too_frequent"),
    (rule("FREQ=HOURLY", datetime(2025, 1, 1, 6)), None),
    (rule("FREQ=DAILY", datetime(2025, 1, 1, 6), duration_s=3 * 3600), "too_long"),
    (rule("FREQ=DAILY", datetime(2025, 1, 1, 6), duration_s=0), "duration"),
    (rule("FREQ=SECONDLY", datetime(2025, 1, 1, 6)), "rrule_freq"),
    (rule("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", datetime(2025, 1, 1, 6)), "rrule_impossible"),
    (rule("FREQ=MINUTELY;INTERVAL=30;BYMONTH=4;BYMONTHDAY=31", datetime(2025, 1, 1, 6)), "rrule_impossible"),
    (rule("FREQ=MONTHLY;BYDAY=1MO;BYMONTHDAY=15", datetime(2025, 1, 1, 6)), "rrule_impossible"),
    (rule("FREQ=MONTHLY;BYSETPOS=-1;BYDAY=MO", datetime(2025, 1, 1, 6)), "rrule_unsupported"),
    (rule("FREQ=DAILY;COUNT=2;UNTIL=20250101", datetime(2025, 1, 1, 6)), "rrule_syntax"),
    (rule("FREQ=DAILY;BYHOUR=25", datetime(2025, 1, 1, 6)), "rrule_value"),
    (rule("FREQ=DAILY;BYDAY=XX", datetime(2025, 1, 1, 6)), "rrule_value"),
    (rule("FREQ=WEEKLY;BYDAY=2MO", datetime(2025, 1, 1, 6)), "rrule_value"),
    (rule("FREQ=DAILY;UNTIL=tomorrow", datetime(2025, 1, 1, 6)), "rrule_value"),
    (rule("DAILY", datetime(2025, 1, 1, 6)), "rrule_syntax"),
    (rule("", datetime(2025, 1, 1, 6)), "rrule_missing"),
    (Slot("s", "i", "rrule", rrule="FREQ=DAILY"), "dtstart_missing"),
    (rule("FREQ=DAILY", datetime(2025, 1, 1, 6), tzid="Mars/Olympus"), "tzid"),
    (rule("FREQ=DAILY;COUNT=1", datetime(2025, 1, 1, 6), exdates=(datetime(2025, 1, 1, 6),)), None),
    (Slot("s", "i", "once"), "no_starts"),
    (Slot("s", "i", "once", starts=(datetime(2025, 1, 1, 6),)), "naive_time"),
    (Slot("s", "i", "once", starts=(utc(2025, 1, 1, 6), utc(2025, 1, 1, 6, 1))), "too_frequent"),
    (Slot("s", "i", "once", starts=(utc(2025, 1, 1, 6),), valid_from=utc(2025, 2, 1), valid_until=utc(2025, 1, 1)),
     "validity"),
    (Slot("s", "i", "weekly"), "kind"),  # type: ignore[arg-type]
])
def test_bad_slots_are_refused_with_a_bilingual_reason(slot: Slot, code: str | None) -> None:
    if code is None:
        check(slot)
        return
    with pytest.raises(ScheduleError) as info:
        check(slot)
    assert info.value.code == f"schedule_invalid.{code}"
    assert info.value.vi != info.value.en and "'s'" in info.value.en and "'s'" in info.value.vi


def test_a_rule_too_far_from_its_window_is_refused_not_walked_forever() -> None:
    slot = rule("FREQ=MINUTELY;INTERVAL=30", datetime(1990, 1, 1, 0, 0))
    with pytest.raises(ScheduleError) as info:
        times(slot, utc(2030, 1, 1), utc(2030, 1, 2))
    assert info.value.code == "schedule_invalid.too_many" and str(MAX_STEPS) in info.value.en


def test_validate_slot_uses_settings() -> None:
    slot = rule("FREQ=HOURLY", datetime(2025, 1, 1, 6))
    validate_slot(slot, Settings(min_interval_s=3600))
    with pytest.raises(ScheduleError):
        validate_slot(slot, Settings(min_interval_s=7200))


def test_slot_from_protocol_schedule_objects() -> None:
    once = slot_from_schedule("it", {"type": "once", "starts": ["2025-01-01T23:00:00Z"], "duration_s": 60})
    assert once.kind == "once" and once.starts == (utc(2025, 1, 1, 23),) and once.duration_s == 60
    assert once.slot_id == "central:it"
    rec = slot_from_schedule("it", {"kind": "rrule", "dtstart": "2025-01-02T06:00:00", "tzid": VN,
                                    "rrule": "FREQ=DAILY;COUNT=2", "exdates": ["2025-01-03T06:00:00"],
                                    "duration_s": 30}, slot_id="local-7", zones=["a"], origin="local")
    assert times(rec) == [utc(2025, 1, 1, 23)]
    assert rec.zones == ("a",) and rec.origin == "local"
    for bad in ({"type": "once", "starts": ["2025-01-01 23:00"], "duration_s": 1},
                {"type": "rrule", "dtstart": "2025-01-02T06:00:00Z", "tzid": VN, "rrule": "FREQ=DAILY",
                 "exdates": [], "duration_s": 1},
                {"type": "weekly"}):
        with pytest.raises(ScheduleError):
            slot_from_schedule("it", bad)


# --------------------------------------------------------------------------- windows


def test_parse_windows() -> None:
    assert parse_window("05:30-21:30") == Window(time(5, 30), time(21, 30))
    assert str(parse_window(" 21:00 - 02:00 ")) == "21:00-02:00"
    for bad in ("25:00-06:00", "5:30-21:30", "05:30", "", "05:30-21:60"):
        with pytest.raises(ScheduleError) as info:
            parse_window(bad)
        assert info.value.code == "schedule_invalid.window"


def _vn(*args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(VN)).astimezone(UTC)


def test_overnight_window_crosses_midnight() -> None:
    tz = ZoneInfo(VN)
    night = parse_windows(["21:00-02:00"])
    minute = timedelta(minutes=1)
    assert allows(night, _vn(2025, 5, 1, 23, 0), _vn(2025, 5, 1, 23, 0) + minute, tz)
    assert allows(night, _vn(2025, 5, 2, 1, 30), _vn(2025, 5, 2, 1, 30) + minute, tz)
    assert allows(night, _vn(2025, 5, 1, 23, 50), _vn(2025, 5, 2, 0, 20), tz)  # across midnight
    assert not allows(night, _vn(2025, 5, 2, 1, 50), _vn(2025, 5, 2, 2, 10), tz)  # runs past the end
    assert not allows(night, _vn(2025, 5, 2, 3, 0), _vn(2025, 5, 2, 3, 1), tz)
    assert not allows(night, _vn(2025, 5, 1, 20, 59), _vn(2025, 5, 1, 21, 5), tz)


def test_adjacent_windows_merge_and_equal_ends_mean_all_day_and_empty_means_never() -> None:
    tz = ZoneInfo(VN)
    split = parse_windows(["05:30-12:00", "12:00-21:30"])
    assert allows(split, _vn(2025, 5, 1, 11, 50), _vn(2025, 5, 1, 12, 10), tz)
    assert len(intervals_around(split, _vn(2025, 5, 1, 12, 0), tz, 0, 0)) == 1
    always = parse_windows(["00:00-00:00"])
    assert allows(always, _vn(2025, 5, 1, 23, 59), _vn(2025, 5, 2, 0, 5), tz)
    assert not allows((), _vn(2025, 5, 1, 12), _vn(2025, 5, 1, 12, 1), tz)


def test_next_opening() -> None:
    tz = ZoneInfo(VN)
    day = parse_windows(["05:30-21:30"])
    assert next_opening(day, _vn(2025, 5, 1, 22, 0), tz) == _vn(2025, 5, 2, 5, 30)
    assert next_opening(day, _vn(2025, 5, 1, 12, 0), tz) == _vn(2025, 5, 1, 12, 0)
    assert next_opening((), _vn(2025, 5, 1, 12, 0), tz) is None


def test_long_walks_stay_small_and_a_step_back_restarts() -> None:
    from appliance.broadcast.recurrence import _walk_for

    slot = rule("FREQ=MINUTELY;INTERVAL=30", datetime(2025, 1, 1, 7, 0))  # 00:00 UTC
    day = timedelta(days=1)
    t0 = utc(2025, 1, 1)
    for d in range(0, 300, 5):
        got = times(slot, t0 + d * day, t0 + (d + 1) * day)
        assert len(got) == 48 and got[0] == t0 + d * day
    walk, _ = _walk_for(slot, VN)
    assert walk.trimmed and len(walk.times) <= 3 * 2048
    assert times(slot, t0, t0 + day) == [t0 + timedelta(minutes=30 * i) for i in range(48)]
