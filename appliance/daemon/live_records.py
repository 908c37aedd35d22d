"""Live sessions' records on the card: closing what a crash left open, pruning old recordings.

``recover`` runs at start-up: a session still 'live' was cut by a crash or power cut; it is
closed as interrupted, and what its encoder had written (the ``.part-`` file) is kept as its
recording: accountability first. ``prune`` deletes recordings older than ``live.recording_days``
(daily housekeeping); the rows stay, without a file.
"""

from __future__ import annotations

from pathlib import Path

from appliance.daemon.housekeeping import prune_captures
from appliance.state.store import Store
from protocol.durable import TEMP_PREFIX


def recover(store: Store, directory: Path, *, now: str) -> int:
    rows = store.query("SELECT id FROM live_sessions WHERE outcome = 'live'")
    for leftover in directory.glob(".live-*.pcm") if directory.exists() else []:
        leftover.unlink(missing_ok=True)     # the FIFOs of sessions that were on air
    for row in rows:
        part = directory / f"{TEMP_PREFIX}{row['id']}.ogg"
        final = directory / f"{row['id']}.ogg"
        name, size = None, None
        if part.is_file() and part.stat().st_size > 0:
            part.replace(final)
            name, size = final.name, final.stat().st_size
        else:
            part.unlink(missing_ok=True)
        with store.transaction(durable=True) as tx:
            tx.execute("UPDATE live_sessions SET outcome = 'interrupted', ended_at = COALESCE(ended_at, ?),"
                       " reason = ?, recording = COALESCE(recording, ?), recording_bytes = COALESCE(recording_bytes, ?)"
                       " WHERE id = ?", (now, "daemon restarted during the session (crash or power cut)",
                                         name, size, row["id"]))
    return len(rows)


def prune(store: Store, directory: Path, *, days: int) -> tuple[int, int]:
    if not directory.exists():
        return 0, 0
    before = {p.name for p in directory.glob("*.ogg")}
    removed, freed = prune_captures(directory, keep_s=days * 86400.0, max_bytes=1 << 62, pattern="*.ogg")
    gone = before - {p.name for p in directory.glob("*.ogg")}
    if gone:
        with store.transaction(durable=True) as tx:
            for name in gone:
                tx.execute("UPDATE live_sessions SET recording = NULL WHERE recording = ?", (name,))
    return removed, freed
