"""The live relay loop with a scripted player: amplifiers off while the source is silent, on again
when audio flows, given up after a bounded silence (issue 16, fault 1)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from appliance.daemon.stream_relay import relay_stream


@dataclass
class FakeSession:
    cancel: threading.Event = field(default_factory=threading.Event)
    cancel_reason: str = ""
    cancel_outcome: str = "interrupted"


@dataclass
class Hooks:
    calls: list[str] = field(default_factory=list)

    def silent(self, reason: str) -> None:
        self.calls.append("silent")

    def flowing(self) -> None:
        self.calls.append("flowing")


def scripted(*attempts: tuple[str, bool]) -> Callable[..., Any]:
    """Each attempt: (outcome, audio flowed first)."""
    queue = list(attempts)

    def play_once(session: Any, url: Any, expected: Any, max_s: Any, on_started: Any) -> Any:
        outcome, flowed = queue.pop(0) if queue else ("failed", False)
        if flowed and on_started is not None:
            on_started()
        return outcome, "" if outcome == "completed" else "stalled: no audio", 1.0 if flowed else 0.0

    return play_once


def test_silence_switches_off_and_audio_switches_back_on() -> None:
    hooks = Hooks()
    outcome, reason, played = relay_stream(
        FakeSession(), "http://x/live", 30.0,
        scripted(("failed", True), ("failed", False), ("failed", False), ("completed", True)),
        hooks, retry_pause_s=0.01)
    assert outcome == "completed" and "attempt 1" in reason and "attempt 3" in reason
    assert hooks.calls == ["silent", "flowing"]


def test_a_source_silent_too_long_is_given_up_for_the_slot() -> None:
    hooks = Hooks()
    outcome, reason, _ = relay_stream(FakeSession(), "http://x/live", 30.0, scripted(), hooks,
                                      give_up_after_s=0.2, retry_pause_s=0.02)
    assert outcome == "failed" and "gave up" in reason
    assert hooks.calls == ["silent"]
