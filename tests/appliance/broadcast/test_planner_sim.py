"""A fake-clock station that obeys the planner, and a 30-day compressed run with faults.

``Station`` plays the daemon's part exactly as docs/team-contracts.md (Planner) describes:
it applies pre-emptions, skips, starts and relay changes to a PlanState, and advances a
fake clock from deadline to deadline. The 30-day run adds power cuts, clock jumps, clock
distrust and emergencies at random, and checks that nothing ever plays twice and that
nothing was reported missed while the station could have played it.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta

import pytest

from appliance.broadcast.planner import (
    Interrupted,
    OnAir,
    Plan,
    PlannableItem,
    PlanState,
    Record,
    Request,
    Settings,
    Slot,
    ZoneRule,
    expand,
    plan,
)
from appliance.broadcast.windows import parse_windows

TZ = "Asia/Ho_Chi_Minh"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(*args: int) -> datetime:
    """A Vietnam wall time as an aware UTC instant (UTC+7, no DST)."""
    return datetime(*args, tzinfo=UTC) - timedelta(hours=7)


@dataclasses.dataclass
class Station:
    now: datetime
    items: dict[str, PlannableItem]
    slots: list[Slot]
    zones: tuple[ZoneRule, ...]
    settings: Settings = dataclasses.field(default_factory=Settings)
    state: PlanState = dataclasses.field(default_factory=PlanState)
    starts: list[tuple[datetime, str, bool]] = dataclasses.field(default_factory=list)  # (at, key, resume)
    skips: list[tuple[datetime, str, str]] = dataclasses.field(default_factory=list)  # (at, key, code)
    relay_log: list[tuple[datetime, str, bool]] = dataclasses.field(default_factory=list)
    idle_calls: list[datetime] = dataclasses.field(default_factory=list)  # trusted, nothing on air after plan
    plans: int = 0

    def plan(self) -> Plan:
        return plan(self.now, self.items, self.slots, self.zones, self.settings, self.state)

    def step(self) -> Plan:
        p = self.plan()
        self.apply(p)
        return p

    def apply(self, p: Plan) -> None:
        self.plans += 1
        s = self.state
        records = dict(s.records)
        interrupted = list(s.interrupted)
        requests = list(s.requests)
        on_air = s.on_air
        ended = dict(s.audio_ended_at)
        if p.preempt is not None:
            assert on_air is not None and p.preempt.occurrence.key == on_air.occurrence.key
            records[on_air.occurrence.key] = Record("interrupted", on_air.started_at, self.now)
            if p.preempt.resume:
                interrupted.append(Interrupted(on_air.occurrence, self.now))
            for z in on_air.zones:
                ended[z] = self.now
            on_air = None
        for skip in p.skip:
            key = skip.occurrence.key
            if skip.reason.code == "resume_expired":
                interrupted = [i for i in interrupted if i.occurrence.key != key]
                continue
            assert key not in records, f"skip of a key already recorded: {key} {skip.reason}"
            records[key] = Record("skipped")
            self.skips.append((self.now, key, skip.reason.code))
        if p.start is not None:
            assert on_air is None, "planner started something while an item is on air"
            occ = p.start.occurrence
            if p.start.resume:
                assert records[occ.key].outcome == "interrupted"
                interrupted = [i for i in interrupted if i.occurrence.key != occ.key]
            else:
                assert occ.key not in records, f"double play of {occ.key}"
            assert p.start.audio_at >= self.now
            records[occ.key] = Record("started", self.now)
            on_air = OnAir(occ, p.start.zones, self.now, "warmup" if p.start.audio_at > self.now else "playing",
                           p.start.audio_at)
            requests = [r for r in requests if f"{r.item_id}@request:{r.request_id}" != occ.key]
            self.starts.append((self.now, occ.key, p.start.resume))
        relays = dict(s.relays_on_since)
        for r in p.relays:
            if r.on and r.zone not in relays:
                relays[r.zone] = self.now
                self.relay_log.append((self.now, r.zone, True))
            elif not r.on and r.zone in relays:
                del relays[r.zone]
                self.relay_log.append((self.now, r.zone, False))
        if on_air is None and s.clock_trusted:
            self.idle_calls.append(self.now)
        assert p.next_wakeup > self.now
        self.state = dataclasses.replace(s, records=records, interrupted=tuple(interrupted), requests=tuple(requests),
                                         on_air=on_air, relays_on_since=relays, audio_ended_at=ended)

    def finish_on_air(self, outcome: str = "completed") -> None:
        s = self.state
        assert s.on_air is not None
        records = dict(s.records)
        records[s.on_air.occurrence.key] = Record(outcome, s.on_air.started_at, self.now)  # type: ignore[arg-type]
        ended = dict(s.audio_ended_at)
        for z in s.on_air.zones:
            ended[z] = self.now
        self.state = dataclasses.replace(s, records=records, on_air=None, audio_ended_at=ended)

    def advance(self, until: datetime) -> None:
        """Run deadline to deadline (and playback ends) until ``until``."""
        while self.now < until:
            p = self.step()
            nxt = min(p.next_wakeup, until)
            on_air = self.state.on_air
            if on_air is not None and on_air.expected_end <= nxt:
                self.now = max(self.now, on_air.expected_end)
                self.finish_on_air()
            else:
                self.now = nxt
        self.step()

    def crash(self, down_for: timedelta) -> None:
        """Power cut: playback is lost (logged interrupted, never resumed), relays fall off."""
        s = self.state
        records = dict(s.records)
        if s.on_air is not None:
            records[s.on_air.occurrence.key] = Record("interrupted", s.on_air.started_at, self.now)
        self.state = dataclasses.replace(s, records=records, on_air=None, relays_on_since={})
        self.now += down_for

    def played_keys(self) -> list[str]:
        return [k for _, k, resume in self.starts if not resume]


# --------------------------------------------------------------------------- 30-day run


def _month_station(seed: int) -> Station:
    start = local(2025, 3, 1, 0, 0)
    windows = parse_windows(["05:30-21:30"])
    zones = (
        ZoneRule("trung-tam", windows, warmup_s=1.5, cooldown_s=1.0),
        ZoneRule("thon-dong", windows, warmup_s=2.0, cooldown_s=1.0),
        ZoneRule("cho-dem", parse_windows(["19:00-01:00"]), warmup_s=1.0, cooldown_s=0.5),
    )
    items = {
        "morning": PlannableItem("morning", duration_s=900),
        "weather": PlannableItem("weather", priority="priority", duration_s=120),
        "notice": PlannableItem("notice", duration_s=300, zones=("thon-dong",),
                                valid_until=start + timedelta(days=20)),
        "market": PlannableItem("market", duration_s=600, zones=("cho-dem",)),
        "evening": PlannableItem("evening", duration_s=1200),
        "sunday": PlannableItem("sunday", priority="priority", duration_s=600),
        "campaign": PlannableItem("campaign", duration_s=60),
        "late-night": PlannableItem("late-night", duration_s=60),
        "siren": PlannableItem("siren", priority="emergency", duration_s=90),
        "broken": PlannableItem("broken", duration_s=60),
    }
    slots = [
        Slot("s-morning", "morning", "rrule", dtstart=datetime(2025, 3, 1, 6, 0), rrule="FREQ=DAILY"),
        # Same instant as "morning": priority goes first, morning queues behind it.
        Slot("s-weather", "weather", "rrule", dtstart=datetime(2025, 3, 1, 6, 0), rrule="FREQ=DAILY",
             exdates=(datetime(2025, 3, 9, 6, 0),)),
        Slot("s-notice", "notice", "rrule", dtstart=datetime(2025, 3, 1, 6, 10), rrule="FREQ=DAILY;INTERVAL=2"),
        Slot("s-market", "market", "rrule", dtstart=datetime(2025, 3, 1, 23, 30),
             rrule="FREQ=WEEKLY;BYDAY=FR,SA"),
        Slot("s-evening", "evening", "rrule", dtstart=datetime(2025, 3, 1, 17, 0), rrule="FREQ=DAILY;UNTIL=20250325"),
        # Overlaps the evening bulletin every Sunday.
        Slot("s-sunday", "sunday", "rrule", dtstart=datetime(2025, 3, 2, 17, 5), rrule="FREQ=WEEKLY;BYDAY=SU;COUNT=3"),
        Slot("s-campaign", "campaign", "once",
             starts=tuple(local(2025, 3, d, 11, 0) for d in range(3, 30, 4))),
        # Outside every window of its zones: always skipped, never played.
        Slot("s-late", "late-night", "rrule", dtstart=datetime(2025, 3, 1, 23, 0), rrule="FREQ=DAILY",
             zones=("trung-tam",)),
        # A typo: every 5 minutes. Refused, never played.
        Slot("s-broken", "broken", "rrule", dtstart=datetime(2025, 3, 1, 8, 0), rrule="FREQ=MINUTELY;INTERVAL=5"),
    ]
    return Station(now=start, items=items, slots=slots, zones=zones,
                   settings=Settings(tz=TZ, horizon_s=86400.0), state=PlanState(since=start))


def _run_month(seed: int, faults: bool) -> Station:
    rng = random.Random(seed)
    st = _month_station(seed)
    end = st.now + timedelta(days=30)
    emergency_count = 0
    while st.now < end:
        p = st.step()
        assert not [r for r in p.refused if r.slot_id != "s-broken"], p.refused
        nxt = p.next_wakeup
        on_air = st.state.on_air
        if on_air is not None and on_air.expected_end <= nxt:
            st.now = max(st.now, on_air.expected_end)
            st.finish_on_air()
        else:
            st.now = nxt
        if not faults:
            continue
        roll = rng.random()
        if roll < 0.01:
            st.crash(timedelta(minutes=rng.choice([1, 5, 9, 15, 45, 240])))
        elif roll < 0.015:
            # NTP step: the device clock jumps (state untouched; the planner only sees `now`).
            st.now += timedelta(minutes=rng.choice([-120, -30, -3, 3, 30, 120]))
        elif roll < 0.02:
            st.state = dataclasses.replace(st.state, clock_trusted=False)
            until = st.now + timedelta(minutes=rng.choice([2, 8, 30]))
            while st.now < until:
                p = st.step()
                assert p.start is None or p.start.occurrence.trigger != "schedule"
                nxt = min(p.next_wakeup, until)
                on_air = st.state.on_air
                if on_air is not None and on_air.expected_end <= nxt:
                    st.now = max(st.now, on_air.expected_end)
                    st.finish_on_air()
                else:
                    st.now = nxt
            st.state = dataclasses.replace(st.state, clock_trusted=True)
        elif roll < 0.025:
            emergency_count += 1
            req = Request(f"e{emergency_count}", "siren", "emergency", st.now)
            st.state = dataclasses.replace(st.state, requests=(*st.state.requests, req))
    return st


def _check_month(st: Station, grace_s: float) -> None:
    played = st.played_keys()
    assert len(played) == len(set(played)), "an occurrence played twice"
    # Every resume follows an interruption of that key.
    resumed = [k for _, k, r in st.starts if r]
    assert all(k in played for k in resumed)
    assert not any(k.startswith("broken@") for k in played), "a refused slot played"
    assert not any(k.startswith("late-night@") for k in played), "played outside the broadcast window"
    # "Missed" only when the station had no chance to play it within grace: no idle,
    # trusted planning moment fell inside [scheduled, scheduled + grace].
    # Nothing falls through the cracks: every occurrence of a valid slot got an outcome.
    begin = local(2025, 3, 1, 0, 0)
    expected = {o.key for o in expand(st.slots, begin, begin + timedelta(days=29), TZ, items=st.items,
                                      zones=[z.name for z in st.zones])}
    unresolved = sorted(k for k in expected if k not in st.state.records)
    assert not unresolved, unresolved[:5]
    idle = sorted(st.idle_calls)
    for at, key, code in st.skips:
        if code != "missed":
            continue
        scheduled = datetime.strptime(key.split("@", 1)[1], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        chances = [t for t in idle if scheduled <= t <= scheduled + timedelta(seconds=grace_s)
                   and t < at]
        assert not chances, f"{key} reported missed at {at} but the station was idle at {chances[0]}"


def test_month_without_faults_plays_everything_once_and_misses_nothing() -> None:
    st = _run_month(0, faults=False)
    _check_month(st, st.settings.grace_s)
    played = st.played_keys()
    codes = [c for _, _, c in st.skips]
    assert "missed" not in codes and "delayed_too_long" not in codes
    assert sum(k.startswith("morning@") for k in played) == 30
    assert sum(k.startswith("weather@") for k in played) == 29  # one EXDATE
    assert sum(k.startswith("sunday@") for k in played) == 3  # COUNT=3
    assert sum(k.startswith("evening@") for k in played) == 25  # UNTIL 25 March, inclusive
    assert sum(k.startswith("notice@") for k in played) == 10  # every 2 days, expired on day 20
    assert sum(k.startswith("campaign@") for k in played) == 7
    assert codes.count("outside_window") == 30  # late-night, every day
    assert sum(k.startswith("market@") for k in played) == 9  # Fri+Sat 23:30 in March 2025 (1st is a Saturday)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_month_with_power_cuts_clock_jumps_and_emergencies(seed: int) -> None:
    st = _run_month(seed, faults=True)
    _check_month(st, st.settings.grace_s)
    assert len(st.played_keys()) > 90
