"""Planner rules with a fake clock: priorities, emergency, windows, grace, clock trust, relays."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from appliance.broadcast.planner import (
    OnAir,
    PlannableItem,
    PlanState,
    Record,
    Request,
    Settings,
    Slot,
    ZoneRule,
    expand,
    occurrence_key,
    plan,
    settings_from_config,
    validate_slot,
    zone_rules_from_config,
)
from appliance.broadcast.windows import parse_windows
from appliance.state.config import from_mapping
from tests.appliance.broadcast.test_planner_sim import TZ, Station, local

DAY = parse_windows(["05:30-21:30"])
ZONES = (ZoneRule("a", DAY, warmup_s=2.0, cooldown_s=1.0), ZoneRule("b", DAY, warmup_s=1.0, cooldown_s=1.0))
SETTINGS = Settings(tz=TZ)


def once(item: str, *at: datetime, **kw: object) -> Slot:
    return Slot(f"s-{item}", item, "once", starts=at, **kw)  # type: ignore[arg-type]


def station(items: list[PlannableItem], slots: list[Slot], now: datetime, **kw: object) -> Station:
    return Station(now=now, items={i.id: i for i in items}, slots=slots, zones=kw.pop("zones", ZONES),  # type: ignore[arg-type]
                   settings=kw.pop("settings", SETTINGS), **kw)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- ordering


def test_priority_before_normal_in_the_same_slot_with_visible_reason() -> None:
    t = local(2025, 5, 1, 6, 0)
    st = station([PlannableItem("n", duration_s=60), PlannableItem("p", priority="priority", duration_s=60)],
                 [once("n", t), once("p", t)], t)
    p = st.step()
    assert p.start is not None and p.start.occurrence.item_id == "p"
    assert p.start.reason.code == "rank"
    assert "Priority before normal" in p.start.reason.en and "ưu tiên" in p.start.reason.vi
    assert [w.occurrence.item_id for w in p.waiting] == ["n"]
    st.advance(t + timedelta(minutes=5))
    assert [k.split("@")[0] for k in st.played_keys()] == ["p", "n"]


def test_tie_is_broken_by_item_id_and_said_so() -> None:
    t = local(2025, 5, 1, 6, 0)
    st = station([PlannableItem("zeta", duration_s=30), PlannableItem("alpha", duration_s=30)],
                 [once("zeta", t), once("alpha", t)], t)
    p = st.step()
    assert p.start is not None and p.start.occurrence.item_id == "alpha"
    assert p.start.reason.code == "tie" and "alpha before zeta" in p.start.reason.en


def test_overlapping_slots_queue_instead_of_being_missed() -> None:
    t = local(2025, 5, 1, 6, 0)
    long_item = PlannableItem("long", duration_s=1800)  # 30 min, longer than the 10 min grace
    st = station([long_item, PlannableItem("short", duration_s=60)],
                 [once("long", t), once("short", t + timedelta(minutes=5))], t)
    st.advance(t + timedelta(minutes=40))
    starts = {k.split("@")[0]: at for at, k, _ in st.starts}
    assert set(starts) == {"long", "short"}
    assert starts["short"] == t + timedelta(seconds=1800 + 2)  # after long ends (+ warm-up wait)
    assert not st.skips


def test_a_second_slot_of_the_same_item_at_the_same_instant_plays_once_in_both_zones() -> None:
    t = local(2025, 5, 1, 6, 0)
    st = station([PlannableItem("x", duration_s=60, zones=("a",))],
                 [once("x", t), Slot("other", "x", "once", starts=(t,), zones=("b",))], t)
    p = st.step()
    assert p.start is not None and p.start.zones == ("a", "b")
    st.advance(t + timedelta(minutes=5))
    assert len(st.played_keys()) == 1


# --------------------------------------------------------------------------- emergency


def _emergency(st: Station, request_id: str = "e1", zones: tuple[str, ...] | None = None) -> None:
    req = Request(request_id, "siren", "emergency", st.now, zones)
    st.state = dataclasses.replace(st.state, requests=(*st.state.requests, req))


def test_emergency_preempts_a_normal_item_which_is_resumed_afterwards() -> None:
    t = local(2025, 5, 1, 6, 0)
    st = station([PlannableItem("news", duration_s=600), PlannableItem("siren", priority="emergency", duration_s=60)],
                 [once("news", t)], t)
    st.step()
    st.now = t + timedelta(minutes=3)
    _emergency(st)
    p = st.step()
    assert p.preempt is not None and p.preempt.occurrence.item_id == "news" and p.preempt.resume
    assert p.start is not None and p.start.occurrence.key == "siren@request:e1"
    assert st.state.records[occurrence_key("news", t)].outcome == "interrupted"
    st.advance(t + timedelta(minutes=30))
    assert [(k.split("@")[0], r) for _, k, r in st.starts] == [("news", False), ("siren", False), ("news", True)]
    assert st.state.records[occurrence_key("news", t)].outcome == "completed"


def test_emergency_with_resume_disabled_drops_the_interrupted_item() -> None:
    t = local(2025, 5, 1, 6, 0)
    st = station([PlannableItem("news", duration_s=600), PlannableItem("siren", priority="emergency", duration_s=60)],
                 [once("news", t)], t, settings=dataclasses.replace(SETTINGS, resume_interrupted=False))
    st.step()
    st.now += timedelta(minutes=1)
    _emergency(st)
    p = st.step()
    assert p.preempt is not None and not p.preempt.resume
    st.advance(t + timedelta(minutes=30))
    assert [k.split("@")[0] for _, k, _ in st.starts] == ["news", "siren"]
    assert st.state.records[occurrence_key("news", t)].outcome == "interrupted"


def test_emergency_preempts_an_item_in_warm_up() -> None:
    t = local(2025, 5, 1, 6, 0)
    st = station([PlannableItem("news", duration_s=600), PlannableItem("siren", priority="emergency", duration_s=60)],
                 [once("news", t)], t)  # relays are off: audio must wait for the warm-up
    p = st.step()
    assert p.start is not None and p.start.audio_at == t + timedelta(seconds=2)
    assert st.state.on_air is not None and st.state.on_air.phase == "warmup"
    st.now += timedelta(seconds=0.5)
    _emergency(st, zones=("b",))
    p = st.step()
    assert p.preempt is not None and p.preempt.occurrence.item_id == "news"
    assert p.start is not None and p.start.zones == ("b",)
    # Zone b has been warming up for 0.5 s of its 1 s.
    assert p.start.audio_at == st.now + timedelta(seconds=0.5)
    relays = {r.zone: r.on for r in p.relays}
    assert relays == {"a": False, "b": True}


def test_emergency_ignores_windows_and_does_not_preempt_another_emergency() -> None:
    night = local(2025, 5, 1, 23, 30)
    st = station([PlannableItem("siren", priority="emergency", duration_s=120)], [], night)
    _emergency(st, "e1")
    p = st.step()
    assert p.start is not None and p.start.zones == ("a", "b")
    st.now += timedelta(seconds=10)
    _emergency(st, "e2")
    p = st.step()
    assert p.preempt is None and p.start is None
    assert [w.occurrence.key for w in p.waiting] == ["siren@request:e2"]
    st.advance(night + timedelta(minutes=10))
    assert st.played_keys() == ["siren@request:e1", "siren@request:e2"]


def test_scheduled_emergency_item_preempts_too() -> None:
    t = local(2025, 5, 1, 6, 0)
    st = station([PlannableItem("news", duration_s=600), PlannableItem("flood", priority="emergency", duration_s=60)],
                 [once("news", t), once("flood", t + timedelta(minutes=2))], t)
    st.advance(t + timedelta(minutes=3))
    assert [(k.split("@")[0], r) for _, k, r in st.starts] == [("news", False), ("flood", False), ("news", True)]


# --------------------------------------------------------------------------- windows


def test_broadcast_windows_refuse_normal_and_priority_outside() -> None:
    late = local(2025, 5, 1, 21, 45)
    st = station([PlannableItem("n", duration_s=60), PlannableItem("p", priority="priority", duration_s=60)],
                 [once("n", late), once("p", late)], late)
    p = st.step()
    assert p.start is None
    assert {s.occurrence.item_id: s.reason.code for s in p.skip} == {"n": "outside_window", "p": "outside_window"}
    assert "05:30-21:30" in p.skip[0].reason.en and "khung giờ" in p.skip[0].reason.vi


def test_item_that_would_run_past_the_window_end_is_refused() -> None:
    t = local(2025, 5, 1, 21, 25)
    st = station([PlannableItem("n", duration_s=600)], [once("n", t)], t)
    p = st.step()
    assert p.start is None and p.skip[0].reason.code == "outside_window"


def test_window_per_zone_plays_only_where_allowed_and_overnight_windows_work() -> None:
    zones = (ZoneRule("a", DAY), ZoneRule("night", parse_windows(["20:00-02:00"])))
    for at, expected in [(local(2025, 5, 1, 21, 0), ("a", "night")),
                         (local(2025, 5, 2, 1, 30), ("night",)),   # after midnight, inside 20:00-02:00
                         (local(2025, 5, 2, 10, 0), ("a",))]:
        st = station([PlannableItem("x", duration_s=60)], [once("x", at)], at, zones=zones)
        p = st.step()
        assert p.start is not None and p.start.zones == expected, at
        if len(expected) == 1:
            assert "Outside the broadcast window" in p.start.reason.en
    at = local(2025, 5, 2, 3, 0)
    st = station([PlannableItem("x", duration_s=60)], [once("x", at)], at, zones=zones)
    assert st.step().skip[0].reason.code == "outside_window"


def test_operator_play_now_respects_windows_but_runs_before_scheduled_items() -> None:
    t = local(2025, 5, 1, 7, 0)
    st = station([PlannableItem("sched", priority="priority", duration_s=60), PlannableItem("adhoc", duration_s=60)],
                 [once("sched", t)], t)
    st.state = dataclasses.replace(st.state, requests=(Request("r1", "adhoc", "operator", t),))
    p = st.step()
    assert p.start is not None and p.start.occurrence.key == "adhoc@request:r1"
    night = local(2025, 5, 1, 23, 0)
    st = station([PlannableItem("adhoc", duration_s=60)], [], night)
    st.state = dataclasses.replace(st.state, requests=(Request("r2", "adhoc", "operator", night),
                                                       Request("r3", "ghost", "operator", night)))
    p = st.step()
    assert {s.occurrence.key: s.reason.code for s in p.skip} == {
        "adhoc@request:r2": "outside_window", "ghost@request:r3": "unknown_item"}
    assert st.step().skip == ()  # recorded once, never again


def test_a_request_airs_an_item_only_in_its_own_zones() -> None:
    t = local(2025, 5, 1, 7, 0)
    st = station([PlannableItem("for-a", duration_s=60, zones=("a",))], [], t)
    st.state = dataclasses.replace(st.state, requests=(Request("r1", "for-a", "operator", t, ("a", "b")),))
    p = st.step()
    assert p.start is not None and p.start.occurrence.zones == ("a",)
    st = station([PlannableItem("for-a", duration_s=60, zones=("a",))], [], t)
    st.state = dataclasses.replace(st.state, requests=(Request("r2", "for-a", "emergency", t, ("b",)),))
    p = st.step()
    assert p.start is None and [s.reason.code for s in p.skip] == ["no_zones"]


def test_no_skip_row_for_occurrences_seen_only_under_an_untrusted_or_jumped_clock() -> None:
    """The wall clock leapt (a jump, or trust came only now): occurrences due before that instant
    were never due on a trusted, steady clock, so a missed one gets no 'skipped' row (a day in
    2099 that never happened must not reach central). Later occurrences are judged as always."""
    steady = local(2099, 5, 1, 9, 0)
    missed, fresh = local(2099, 5, 1, 7, 0), local(2099, 5, 1, 9, 30)
    slots = [once("x", missed), Slot("s-y", "y", "once", starts=(fresh,))]
    items = [PlannableItem("x", duration_s=60), PlannableItem("y", duration_s=60)]
    st = station(items, slots, steady, state=PlanState(steady_clock_since=steady))
    p = st.step()
    assert p.skip == () and p.start is None
    st.now = local(2099, 5, 1, 10, 0)  # y came due on the steady clock and was missed: recorded
    assert [s.occurrence.item_id for s in st.step().skip] == ["y"]
    # Without the bound (the clock was steady all along) the early one is a real miss.
    st = station(items, slots, steady)
    assert [s.occurrence.item_id for s in st.step().skip] == ["x"]


# --------------------------------------------------------------------------- validity


def test_item_expired_or_revoked_at_slot_time_is_skipped() -> None:
    t = local(2025, 5, 1, 6, 0)
    items = [PlannableItem("old", duration_s=60, valid_until=t - timedelta(seconds=1)),
             PlannableItem("gone", duration_s=60, revoked=True),
             PlannableItem("early", duration_s=60, valid_from=t + timedelta(hours=1)),
             PlannableItem("ok", duration_s=60, valid_until=t + timedelta(seconds=1))]
    st = station(items, [once(i.id, t) for i in items], t)
    p = st.step()
    assert {s.occurrence.item_id: s.reason.code for s in p.skip} == {
        "old": "expired", "gone": "revoked", "early": "not_yet_valid"}
    assert p.start is not None and p.start.occurrence.item_id == "ok"


def test_item_revoked_while_on_air_is_stopped_and_not_resumed() -> None:
    t = local(2025, 5, 1, 6, 0)
    st = station([PlannableItem("x", duration_s=600)], [once("x", t)], t)
    st.step()
    st.items["x"] = dataclasses.replace(st.items["x"], revoked=True)
    st.now += timedelta(minutes=1)
    p = st.step()
    assert p.preempt is not None and not p.preempt.resume and p.preempt.reason.code == "revoked"
    assert p.start is None


def test_media_not_ready_waits_within_grace_then_is_skipped() -> None:
    t = local(2025, 5, 1, 6, 0)
    st = station([PlannableItem("x", duration_s=60, ready=False)], [once("x", t)], t - timedelta(hours=2))
    p = st.step()
    assert p.prepare == () and p.next_wakeup == t - timedelta(hours=1)  # preparation deadline
    st.now = p.next_wakeup
    p = st.step()
    assert [(x.item_id, x.needed_by) for x in p.prepare] == [("x", t)]
    st.now = t
    p = st.step()
    assert p.start is None and p.waiting[0].reason.code == "waiting_media"
    assert p.next_wakeup == t + timedelta(minutes=10, microseconds=1)
    st.now = p.next_wakeup
    p = st.step()
    assert p.skip[0].reason.code == "not_ready"
    # Ready within grace: it plays late.
    st = station([PlannableItem("x", duration_s=60, ready=False)], [once("x", t)], t)
    st.step()
    st.items["x"] = dataclasses.replace(st.items["x"], ready=True)
    st.now = t + timedelta(minutes=4)
    assert st.step().start is not None


# --------------------------------------------------------------------------- grace, clock


def test_power_cut_inside_grace_plays_late_and_outside_grace_is_skipped() -> None:
    t = local(2025, 5, 1, 6, 0)
    inside = station([PlannableItem("x", duration_s=60)], [once("x", t)], t + timedelta(minutes=9, seconds=59))
    p = inside.step()
    assert p.start is not None and p.start.occurrence.scheduled_at == t
    outside = station([PlannableItem("x", duration_s=60)], [once("x", t)], t + timedelta(minutes=10, seconds=1))
    p = outside.step()
    assert p.start is None and p.skip[0].reason.code == "missed"
    assert "grace" in p.skip[0].reason.en and "phút" in p.skip[0].reason.vi


def test_missed_while_the_station_was_off_says_so_even_when_audio_was_not_ready() -> None:
    """Issue 16, fault 7: missed because the station was off, not "not ready within the grace period"."""
    t = local(2025, 5, 1, 6, 0)
    back = t + timedelta(minutes=40)
    items = [PlannableItem("x", duration_s=60, ready=False), PlannableItem("y", duration_s=60)]
    slots = [once("x", t), once("y", t)]
    p = plan(back, items, slots, ZONES, SETTINGS, PlanState(running_since=back))
    assert {s.occurrence.item_id: s.reason.code for s in p.skip} == {"x": "station_off", "y": "station_off"}
    reason = p.skip[0].reason
    assert "station was off" in reason.en and "06:40" in reason.en and "trạm tắt" in reason.vi
    # Running (clock held, busy, …) when the grace ran out: the usual reasons.
    p = plan(back, items, slots, ZONES, SETTINGS, PlanState(running_since=t + timedelta(minutes=5)))
    assert {s.occurrence.item_id: s.reason.code for s in p.skip} == {"x": "not_ready", "y": "missed"}


def test_a_start_says_when_audio_must_stop_at_the_slot_length_and_the_window_end() -> None:
    """Issue 16, fault 2: a 15 s slot at 23:58:35 played its 34 s clip to 23:59:08, past the window."""
    late = (ZoneRule("a", parse_windows(["05:00-23:59"]), warmup_s=0.0, cooldown_s=1.0),)
    t = local(2025, 5, 1, 23, 58, 35)
    p = plan(t, [PlannableItem("x", duration_s=34)], [once("x", t, duration_s=15)], late, SETTINGS, PlanState())
    assert p.start is not None and p.start.end_by == t + timedelta(seconds=15)
    assert p.start.end_reason is not None and p.start.end_reason.code == "slot_length"
    assert "15 s" in p.start.end_reason.en and "15 giây" in p.start.end_reason.vi
    # Without a slot length the window's end is the limit (a backstop for late or long audio).
    t2 = local(2025, 5, 1, 23, 58, 20)
    p = plan(t2, [PlannableItem("y", duration_s=30)], [once("y", t2)], late, SETTINGS, PlanState())
    assert p.start is not None and p.start.end_by == local(2025, 5, 1, 23, 59)
    assert p.start.end_reason.code == "window_end" and "23:59" in p.start.end_reason.en
    # Emergencies ignore windows and slot lengths.
    p = plan(t, [PlannableItem("e", priority="emergency", duration_s=34)], [once("e", t, duration_s=15)], late,
             SETTINGS, PlanState())
    assert p.start is not None and p.start.end_by is None
    # An item expiring on air stops there (protocol §7), an emergency too.
    until = t + timedelta(seconds=10)
    for priority in ("normal", "emergency"):
        p = plan(t, [PlannableItem("v", priority=priority, duration_s=34, valid_until=until)],
                 [once("v", t, duration_s=15)], late, SETTINGS, PlanState())
        assert p.start is not None and p.start.end_by == until and p.start.end_reason.code == "expired"


def test_the_window_check_covers_the_audio_after_the_warm_up() -> None:
    """A play-now 5 s before the window closes, with a 2 s warm-up and a 4 s clip, would end outside it."""
    zones = (ZoneRule("a", parse_windows(["05:00-21:30"]), warmup_s=2.0, cooldown_s=1.0),)
    now = local(2025, 5, 1, 21, 29, 55)
    request = Request("r1", "x", "operator", now)
    p = plan(now, [PlannableItem("x", duration_s=4)], [], zones, SETTINGS, PlanState(requests=(request,)))
    assert p.start is None and p.skip[0].reason.code == "outside_window"
    earlier = now - timedelta(seconds=3)
    p = plan(earlier, [PlannableItem("x", duration_s=4)], [], zones, SETTINGS,
             PlanState(requests=(Request("r2", "x", "operator", earlier),)))
    assert p.start is not None and p.start.audio_at == earlier + timedelta(seconds=2)


def test_crash_during_playback_never_replays_the_occurrence() -> None:
    t = local(2025, 5, 1, 6, 0)
    st = station([PlannableItem("x", duration_s=600)], [once("x", t)], t)
    st.step()
    st.crash(timedelta(seconds=20))
    p = st.step()
    assert p.start is None and all(not r.on for r in p.relays)
    assert st.state.records[occurrence_key("x", t)].outcome == "interrupted"


def test_untrusted_clock_holds_schedule_but_not_emergency_or_play_now() -> None:
    t = local(2025, 5, 1, 6, 0)
    st = station([PlannableItem("x", duration_s=60), PlannableItem("siren", priority="emergency", duration_s=30)],
                 [once("x", t)], t - timedelta(seconds=5), state=PlanState(clock_trusted=False))
    p = st.step()
    assert all(not r.on for r in p.relays), "no warm-up for a held schedule"
    st.now = t + timedelta(minutes=2)
    p = st.step()
    assert p.start is None and p.skip == () and p.held is not None and p.held.code == "clock_untrusted"
    _emergency(st)
    p = st.step()
    assert p.start is not None and p.start.occurrence.item_id == "siren"
    st.advance(st.now + timedelta(minutes=1))
    st.state = dataclasses.replace(st.state, clock_trusted=True)
    p = st.step()
    assert p.start is not None and p.start.occurrence.item_id == "x"  # within grace once trusted


def test_untrusted_too_long_then_skipped_as_missed() -> None:
    t = local(2025, 5, 1, 6, 0)
    st = station([PlannableItem("x", duration_s=60)], [once("x", t)], t + timedelta(minutes=30),
                 state=PlanState(clock_trusted=False))
    assert st.step().skip == ()
    st.state = dataclasses.replace(st.state, clock_trusted=True)
    assert st.step().skip[0].reason.code == "missed"


def test_clock_jump_backward_does_not_replay_and_forward_plays_within_grace() -> None:
    t = local(2025, 5, 1, 6, 0)
    slots = [Slot("daily", "x", "rrule", dtstart=datetime(2025, 5, 1, 6, 0), rrule="FREQ=DAILY"),
             once("y", t + timedelta(hours=1)), once("z", t + timedelta(hours=3))]
    items = [PlannableItem(i, duration_s=60) for i in "xyz"]
    st = station(items, slots, t)
    st.advance(t + timedelta(minutes=5))
    st.now = t - timedelta(hours=1)  # NTP steps the clock back an hour
    st.advance(t + timedelta(minutes=20))
    assert st.played_keys() == [occurrence_key("x", t)]
    st.now = t + timedelta(hours=3, minutes=5)  # and forward past y (missed) to within z's grace
    p = st.step()
    assert {s.occurrence.item_id: s.reason.code for s in p.skip} == {"y": "missed"}
    assert p.start is not None and p.start.occurrence.item_id == "z"


# --------------------------------------------------------------------------- relays, wake-ups


def test_relays_warm_up_before_the_slot_and_audio_starts_on_time() -> None:
    t = local(2025, 5, 1, 6, 0)
    st = station([PlannableItem("x", duration_s=60)], [once("x", t)], t - timedelta(minutes=1))
    p = st.step()
    assert p.next_wakeup == t - timedelta(seconds=2)  # zone a warms up 2 s, zone b 1 s
    assert {r.zone: r.next_on_at for r in p.relays} == {"a": t - timedelta(seconds=2), "b": t - timedelta(seconds=1)}
    st.now = p.next_wakeup
    p = st.step()
    assert {r.zone: r.on for r in p.relays} == {"a": True, "b": False}
    assert p.next_wakeup == t - timedelta(seconds=1)
    st.now = p.next_wakeup
    assert {r.zone: r.on for r in st.step().relays} == {"a": True, "b": True}
    st.now = t
    p = st.step()
    assert p.start is not None and p.start.audio_at == t


def test_adjacent_items_keep_the_zone_on_and_cool_down_is_respected() -> None:
    t = local(2025, 5, 1, 6, 0)
    items = [PlannableItem("x", duration_s=60), PlannableItem("y", duration_s=60, zones=("a",))]
    st = station(items, [once("x", t), once("y", t + timedelta(seconds=62))], t - timedelta(seconds=5))
    st.advance(t + timedelta(minutes=5))
    offs = [(at, z) for at, z, on in st.relay_log if not on]
    # b goes off after its 1 s cool-down; a stays on across the 2 s gap and goes off after y.
    assert offs == [(t + timedelta(seconds=61), "b"), (t + timedelta(seconds=123), "a")]


def test_next_wakeup_is_the_exact_next_deadline_and_horizon_bounded() -> None:
    t = local(2025, 5, 1, 6, 0)
    st = station([PlannableItem("x", duration_s=60)], [], t)
    assert st.step().next_wakeup == t + timedelta(seconds=SETTINGS.horizon_s)
    st = station([PlannableItem("x", duration_s=60)], [once("x", t + timedelta(days=5))], t)
    assert st.step().next_wakeup == t + timedelta(seconds=SETTINGS.horizon_s)


# --------------------------------------------------------------------------- refusals, adapters


def test_refused_recurrences_are_reported_and_never_play() -> None:
    t = local(2025, 5, 1, 6, 0)
    slots = [Slot("typo", "x", "rrule", dtstart=datetime(2025, 5, 1, 6, 0), rrule="FREQ=MINUTELY"),
             Slot("huge", "x", "once", starts=(t,), duration_s=5 * 3600)]
    st = station([PlannableItem("x", duration_s=60)], slots, t)
    p = st.step()
    assert {r.slot_id: r.error.code for r in p.refused} == {
        "typo": "schedule_invalid.too_frequent", "huge": "schedule_invalid.too_long"}
    assert p.start is None
    typo = next(r for r in p.refused if r.slot_id == "typo")
    assert "1 min apart" in typo.error.en and "1 phút" in typo.reason.vi


def test_record_outcomes_block_any_restart() -> None:
    t = local(2025, 5, 1, 6, 0)
    for outcome in ("started", "completed", "interrupted", "failed", "skipped"):
        st = station([PlannableItem("x", duration_s=60)], [once("x", t)], t + timedelta(minutes=1),
                     state=PlanState(records={occurrence_key("x", t): Record(outcome)}))  # type: ignore[arg-type]
        p = st.step()
        assert p.start is None and p.skip == (), outcome


def test_on_air_item_blocks_others_until_it_ends() -> None:
    t = local(2025, 5, 1, 6, 0)
    items = [PlannableItem("x", duration_s=600), PlannableItem("y", duration_s=60)]
    x_occ = expand([once("x", t)], t, t + timedelta(seconds=1), TZ, items={i.id: i for i in items}, zones=["a", "b"])[0]
    st = station(items, [once("x", t), once("y", t + timedelta(minutes=1))], t + timedelta(minutes=1),
                 state=PlanState(records={x_occ.key: Record("started", t)}, on_air=OnAir(x_occ, ("a", "b"), t),
                                 relays_on_since={"a": t, "b": t}))
    p = st.step()
    assert p.start is None and p.waiting[0].reason.code == "queued"
    assert {r.zone: r.on for r in p.relays} == {"a": True, "b": True}


def test_settings_and_zones_from_config() -> None:
    cfg = from_mapping({"schedule": {"grace_minutes": 5, "default_windows": ["06:00-20:00"]},
                        "zones": [{"name": "z1", "relay_pin": 5, "warmup_ms": 500},
                                  {"name": "z2", "relay_pin": 6, "windows": ["22:00-02:00"]}]}, env={})
    s = settings_from_config(cfg)
    assert s.grace_s == 300 and s.tz == "Asia/Ho_Chi_Minh" and s.min_interval_s == 1800
    z1, z2 = zone_rules_from_config(cfg)
    assert (z1.name, str(z1.windows[0]), z1.warmup_s) == ("z1", "06:00-20:00", 0.5)
    assert str(z2.windows[0]) == "22:00-02:00" and z2.windows[0].crosses_midnight
    validate_slot(once("x", local(2025, 1, 1, 6, 0)), s)


def test_plan_is_pure_and_deterministic() -> None:
    t = local(2025, 5, 1, 6, 0)
    items = [PlannableItem(i, duration_s=60) for i in "abc"]
    slots = [once(i.id, t) for i in items]
    first = plan(t, items, slots, ZONES, SETTINGS, PlanState())
    second = plan(t, list(reversed(items)), list(reversed(slots)), ZONES, SETTINGS, PlanState())
    assert first == second
    assert first.now.tzinfo is UTC


# --------------------------------------------------------------------------- live voice (issue 15)


LIVE = PlannableItem("live-x", kind="live", priority="priority", live=True)
URGENT = PlannableItem("live-u", kind="live", priority="priority", live=True, urgent=True)


def test_a_live_voice_pre_empts_a_normal_item_stops_at_the_window_end_and_an_emergency_pre_empts_it() -> None:
    t = local(2025, 5, 1, 6, 0)
    st = station([PlannableItem("news", duration_s=600), LIVE, PlannableItem("siren", priority="emergency",
                                                                              duration_s=60)], [once("news", t)], t)
    st.step()
    st.now = t + timedelta(minutes=2)
    st.state = dataclasses.replace(st.state, requests=(Request("l1", "live-x", "operator", st.now, ("a",)),))
    p = st.step()
    assert p.preempt is not None and p.preempt.occurrence.item_id == "news" and p.preempt.resume
    assert p.preempt.reason.code == "live"
    assert p.start is not None and p.start.occurrence.live and p.start.zones == ("a",)
    assert p.start.end_reason is not None and p.start.end_reason.code == "window_end"
    assert p.start.end_by == local(2025, 5, 1, 21, 30)
    st.now += timedelta(minutes=1)
    _emergency(st)
    p = st.step()
    assert p.preempt is not None and p.preempt.occurrence.item_id == "live-x"
    assert not p.preempt.resume                       # a voice is never replayed
    assert p.start is not None and p.start.occurrence.item_id == "siren"


def test_a_live_voice_needs_a_window_unless_urgent_and_is_not_held_by_an_untrusted_clock() -> None:
    night = local(2025, 5, 1, 23, 0)
    st = station([LIVE, URGENT], [], night)
    st.state = dataclasses.replace(st.state, clock_trusted=False,
                                   requests=(Request("l1", "live-x", "operator", night),))
    p = st.step()
    assert p.start is None and [s.reason.code for s in p.skip] == ["outside_window"]
    st.state = dataclasses.replace(st.state, requests=(Request("l2", "live-u", "operator", night),))
    p = st.step()
    assert p.start is not None and p.start.occurrence.urgent and p.start.end_by is None
