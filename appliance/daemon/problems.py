"""Problems happening now (a stalled relay, a recovered store, a card filling up), for the
status report, ``commune-radio health``, the panel and the heartbeat (protocol §10 ``problems``).

An event in the log says that something happened; a problem says that it is still going on
and disappears when it is over. Each has a stable code and an operator message in Vietnamese
and English.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

MAX_PROBLEMS = 10   # what a heartbeat carries


@dataclasses.dataclass(frozen=True)
class Problem:
    code: str
    vi: str
    en: str
    since: str
    data: dict[str, Any] = dataclasses.field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "vi": self.vi, "en": self.en, "since": self.since, **self.data}


class Problems:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: dict[str, Problem] = {}

    def raise_(self, code: str, vi: str, en: str, *, at: str, **data: Any) -> bool:
        """Record ``code`` as going on (its message refreshed); True if it was not already."""
        with self._lock:
            previous = self._active.get(code)
            self._active[code] = Problem(code, vi, en, previous.since if previous else at, data)
            return previous is None

    def clear(self, code: str) -> bool:
        """``code`` is over; True if it was going on."""
        with self._lock:
            return self._active.pop(code, None) is not None

    def active(self) -> list[Problem]:
        with self._lock:
            return sorted(self._active.values(), key=lambda p: (p.since, p.code))[:MAX_PROBLEMS]

    def codes(self) -> list[str]:
        return [p.code for p in self.active()]
