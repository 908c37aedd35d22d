"""A push button wired to a GPIO input (to ground) that toggles the station microphone on air.

Pressed with nothing live: the station microphone goes on air in every zone (the same checks as
from the panel: windows, an emergency, someone else live). Pressed while the station microphone
is live: it stops. A refused press is logged (``live.button_refused``), never raised.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from appliance.daemon.live import LiveSessions


class LiveButton:
    def __init__(self, sessions: LiveSessions, pin: int, pin_factory: Any) -> None:
        from gpiozero import Button

        self.sessions = sessions
        self.actor = f"button:gpio{pin}"
        self.button = Button(pin, pull_up=True, bounce_time=0.05, pin_factory=pin_factory)
        self.button.when_pressed = self.pressed

    def pressed(self) -> None:
        sessions = self.sessions
        live = sessions.current
        try:
            if live is not None and not live.done.is_set():
                if live.source_kind == "station":
                    sessions.stop(live.id, actor=self.actor)
                return
            sessions.start(source="station", mode="broadcast", zones=None, urgent=False, chime=None, actor=self.actor)
        except Exception as exc:  # noqa: BLE001 - a button press never takes the daemon down
            with contextlib.suppress(Exception):
                sessions.store.log_event("live.button_refused", str(exc)[:500], {"actor": self.actor},
                                         level="warning")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.button.close()
