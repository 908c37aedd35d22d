"""Clock trust (pure rules and the stateful shell with real files) and jump detection, on a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from appliance.state.store import Store
from appliance.system.clock import (
    ClockTrust,
    JumpDetector,
    ManualClock,
    TrustSignals,
    evaluate_trust,
)

NOW = datetime(2025, 9, 2, 5, 30, tzinfo=UTC)


@pytest.mark.parametrize(("signals", "trusted", "source"), [
    (TrustSignals(now=NOW), False, "none"),
    (TrustSignals(now=NOW, timesync_synchronized=True), True, "timesync"),
    (TrustSignals(now=NOW, central_offset_s=3.0), True, "central"),
    (TrustSignals(now=NOW, central_offset_s=-30.0), False, "none"),
    (TrustSignals(now=NOW, rtc_time=NOW + timedelta(seconds=1)), True, "rtc"),
    # An RTC that lost its battery reads 1970/2000: not a trust source.
    (TrustSignals(now=NOW, rtc_time=datetime(2000, 1, 1, tzinfo=UTC)), False, "none"),
    # Booted behind the last trusted time: even a matching RTC does not help.
    (TrustSignals(now=NOW, rtc_time=NOW, last_trusted=NOW + timedelta(days=30)), False, "none"),
    (TrustSignals(now=datetime(2016, 1, 1, tzinfo=UTC)), False, "none"),
    # Central agreeing wins over a stale last-trusted record (central is authoritative).
    (TrustSignals(now=NOW, central_offset_s=1.0, last_trusted=NOW + timedelta(days=1)), True, "central"),
])
def test_evaluate_trust(signals: TrustSignals, trusted: bool, source: str) -> None:
    verdict = evaluate_trust(signals, tolerance_s=10)
    assert (verdict.trusted, verdict.source) == (trusted, source)
    assert verdict.reason_vi and verdict.reason_en


def test_trust_shell_files_central_and_persisted_last_trusted(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    flag = tmp_path / "synchronized"
    store = Store.open(tmp_path / "s.db")
    trust = ClockTrust(store, clock=clock, tolerance_s=10, timesync_flag=flag, rtc_device=tmp_path / "rtc0",
                       rtc_epoch_file=tmp_path / "since_epoch")
    assert trust.check().trusted is False
    flag.write_text("")
    assert trust.check().source == "timesync"
    assert trust.status()["last_trusted_at"].startswith("2025-09-02T05:30")
    store.close()

    # Reboot without RTC or network: the clock is back in 2025-01 (fake-hwclock gone wrong).
    flag.unlink()
    store = Store.open(tmp_path / "s.db")
    clock2 = ManualClock(datetime(2025, 3, 1, tzinfo=UTC))
    (tmp_path / "rtc0").write_text("")
    (tmp_path / "since_epoch").write_text(str(int(clock2.time())))
    trust2 = ClockTrust(store, clock=clock2, tolerance_s=10, timesync_flag=flag, rtc_device=tmp_path / "rtc0",
                        rtc_epoch_file=tmp_path / "since_epoch")
    verdict = trust2.check()
    assert verdict.trusted is False and "behind" in verdict.reason_en
    # Central's time (its Date header) says it is really September: still untrusted, offset visible.
    trust2.note_central_time(NOW + timedelta(minutes=1))
    assert trust2.check().trusted is False
    assert trust2.status()["central_offset_s"] > 1e6
    # NTP steps the clock to the right time: central's extrapolated time now agrees.
    clock2.jump((NOW + timedelta(minutes=1) - clock2.now()).total_seconds())
    assert trust2.check().source == "central"
    kinds = [e["kind"] for e in store.recent_events()]
    assert "clock.trust" in kinds
    store.close()


def test_jump_detector_sees_steps_not_drift() -> None:
    clock = ManualClock(NOW)
    detector = JumpDetector(clock)
    clock.advance(100)
    assert detector.check() == 0.0
    clock.jump(0.5)
    assert detector.check() == 0.0
    clock.jump(-3600)
    assert detector.check() == pytest.approx(-3599.5)
    assert detector.check() == 0.0
    clock.jump(7200)
    assert detector.check() == pytest.approx(7200)
