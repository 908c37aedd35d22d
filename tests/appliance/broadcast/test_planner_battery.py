"""The battery policy in the pure planner: on battery with "emergency_and_priority", normal
scheduled items are skipped (reason ``on_battery``, in Vietnamese too) and their amplifiers stay
off; emergencies, priority items and operator requests still air. "keep_all" changes nothing."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from appliance.broadcast.planner import (
    ON_BATTERY_REASON,
    PlannableItem,
    Request,
    Settings,
    plan,
    settings_from_config,
)
from appliance.state.config import from_mapping
from tests.appliance.broadcast.test_planner import ZONES, once, station
from tests.appliance.broadcast.test_planner_sim import TZ, local

SAVING = Settings(tz=TZ, battery_policy="emergency_and_priority")
KEEP = Settings(tz=TZ, battery_policy="keep_all")


def items() -> list[PlannableItem]:
    return [PlannableItem("normal", duration_s=60), PlannableItem("prio", priority="priority", duration_s=60),
            PlannableItem("alert", priority="emergency", duration_s=60)]


def test_on_battery_saving_skips_normal_items_with_the_reason_and_airs_priority_and_emergency() -> None:
    t = local(2025, 5, 1, 6, 0)
    st = station(items(), [once("normal", t), once("prio", t + timedelta(minutes=5)),
                           once("alert", t + timedelta(minutes=10))], t - timedelta(minutes=1), settings=SAVING)
    st.state = dataclasses.replace(st.state, on_battery=True)
    st.advance(t + timedelta(minutes=20))
    played = [key.split("@")[0] for _, key, _ in st.starts]
    assert played == ["prio", "alert"]
    assert [(key.split("@")[0], code) for _, key, code in st.skips] == [("normal", "on_battery")]
    assert ON_BATTERY_REASON.code == "on_battery"
    assert "tiết kiệm ắc quy" in ON_BATTERY_REASON.vi and "save the battery" in ON_BATTERY_REASON.en


def test_the_skip_carries_the_vietnamese_reason() -> None:
    t = local(2025, 5, 1, 6, 0)
    st = station(items(), [once("normal", t)], t, settings=SAVING)
    st.state = dataclasses.replace(st.state, on_battery=True)
    p = st.plan()
    assert p.start is None
    [skip] = p.skip
    assert skip.occurrence.item_id == "normal" and skip.reason == ON_BATTERY_REASON


def test_keep_all_plays_everything_on_battery() -> None:
    t = local(2025, 5, 1, 6, 0)
    st = station(items(), [once("normal", t), once("prio", t + timedelta(minutes=5))], t - timedelta(minutes=1),
                 settings=KEEP)
    st.state = dataclasses.replace(st.state, on_battery=True)
    st.advance(t + timedelta(minutes=20))
    assert [key.split("@")[0] for _, key, _ in st.starts] == ["normal", "prio"]
    assert not st.skips


def test_on_mains_the_saving_policy_changes_nothing() -> None:
    t = local(2025, 5, 1, 6, 0)
    st = station(items(), [once("normal", t)], t - timedelta(minutes=1), settings=SAVING)
    st.advance(t + timedelta(minutes=5))
    assert [key.split("@")[0] for _, key, _ in st.starts] == ["normal"] and not st.skips


def test_no_amplifier_warms_up_for_a_normal_item_that_will_be_skipped() -> None:
    t = local(2025, 5, 1, 6, 0)
    for on_battery, policy, warmed in ((True, SAVING, False), (True, KEEP, True), (False, SAVING, True)):
        st = station(items(), [once("normal", t)], t - timedelta(seconds=1), settings=policy)
        st.state = dataclasses.replace(st.state, on_battery=on_battery)
        p = st.plan()   # one second before: zone a's 2 s warm-up must already be on
        assert {r.zone: r.on for r in p.relays}["a"] is warmed, (on_battery, policy.battery_policy)


def test_a_priority_item_still_warms_up_on_battery() -> None:
    t = local(2025, 5, 1, 6, 0)
    st = station(items(), [once("prio", t)], t - timedelta(seconds=1), settings=SAVING)
    st.state = dataclasses.replace(st.state, on_battery=True)
    assert {r.zone: r.on for r in st.plan().relays}["a"] is True


def test_operator_requests_and_emergencies_still_play_on_battery() -> None:
    t = local(2025, 5, 1, 6, 0)
    for trigger, item in (("operator", "normal"), ("emergency", "normal"), ("central", "normal")):
        state = dataclasses.replace(station(items(), [], t).state, on_battery=True,
                                    requests=(Request("r1", item, trigger, t),))  # type: ignore[arg-type]
        p = plan(t, {i.id: i for i in items()}, [], ZONES, SAVING, state)
        assert p.start is not None and p.start.occurrence.item_id == item, trigger
        assert not p.skip


def test_a_late_normal_item_is_missed_for_its_own_reason_not_the_battery() -> None:
    t = local(2025, 5, 1, 6, 0)
    st = station(items(), [once("normal", t)], t + timedelta(minutes=30), settings=SAVING)
    st.state = dataclasses.replace(st.state, on_battery=True)
    [skip] = st.plan().skip
    assert skip.reason.code == "missed"


def test_the_policy_comes_from_the_power_section_of_the_config() -> None:
    config = from_mapping({"power": {"battery_policy": "emergency_and_priority"}}, "<test>", env={})
    assert settings_from_config(config).battery_policy == "emergency_and_priority"
    assert settings_from_config(from_mapping({}, "<test>", env={})).battery_policy == "keep_all"
