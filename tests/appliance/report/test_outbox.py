"""Outbox: entries queued by the database in the same transaction as their source rows, bound,
acknowledgement rules and batch shaping."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from appliance.broadcast.playlog import PlayLog, PlayStart
from appliance.report.outbox import MAX_BATCH_BYTES, Entry, Outbox, encoded_size, entry_document, take_batch
from appliance.state.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "state.sqlite3")
    yield s
    s.close()


def _relay(store: Store, zone: str = "thon-1", state: int = 1, reason: str = "schedule") -> None:
    with store.transaction() as tx:
        tx.execute("INSERT INTO relay_log (zone, state, at, reason) VALUES (?, ?, '2025-06-01T00:00:00.000000Z', ?)",
                   (zone, state, reason))


def test_play_is_queued_once_when_final_with_protocol_values(store: Store) -> None:
    playlog = PlayLog(store)
    outbox = Outbox(store)
    play_id = playlog.begin(PlayStart("bt-1", 3, ["thon-1", "thon-2"], "operator", actor="panel:lan"))
    assert outbox.depth() == 0, "a play still on air is not proof of play yet"
    playlog.finish(play_id, "completed", played_s=12.5)
    playlog.finish(play_id, "failed", "later call is a no-op")  # idempotent finish: no second entry
    [entry] = outbox.peek(10)
    assert entry.id == "p." + play_id and entry.type == "play"
    row = playlog.get(play_id)
    assert entry.at == row["actual_end"]
    assert entry.data == {"item_id": "bt-1", "version": 3, "zones": ["thon-1", "thon-2"],
                          "started_at": row["actual_start"], "ended_at": row["actual_end"], "scheduled_at": None,
                          "outcome": "completed", "played_s": 12.5, "trigger": "manual", "reason": "",
                          "title": None, "text": None, "actor": "panel:lan", "reason_vi": None}


def test_proof_of_play_keeps_what_was_said_who_asked_and_why_in_vietnamese(store: Store) -> None:
    """Issue 11 fix 3: the log had only an id and an English reason."""
    from protocol.reports import validate_entry
    from protocol.spec import PLAY_TEXT_MAX_BYTES

    playlog = PlayLog(store)
    text = "Khẩn cấp: bão số 5 đổ bộ lúc 21 giờ, bà con sơ tán ngay. " * 200   # far over the limit
    play_id = playlog.begin(PlayStart("emergency-ab12", 1, ["thon-1"], "emergency", actor="panel:lan",
                                      title="Bão số 5", text=text))
    playlog.finish(play_id, "interrupted", "stopped by panel:lan", played_s=3.0)
    row = playlog.get(play_id)
    assert row["title"] == "Bão số 5" and row["actor"] == "panel:lan"
    assert row["reason_vi"] == "Dừng bởi bảng điều khiển (lan)"
    assert len(row["text"].encode("utf-8")) <= PLAY_TEXT_MAX_BYTES and text.startswith(row["text"])
    [entry] = Outbox(store).peek(1)
    assert entry.data["text"] == row["text"] and entry.data["title"] == "Bão số 5"
    assert entry.data["reason_vi"] == "Dừng bởi bảng điều khiển (lan)" and entry.data["actor"] == "panel:lan"
    validate_entry({"id": entry.id, "type": "play", "at": entry.at, "data": entry.data})   # central accepts it
    skipped = playlog.skip(PlayStart("bt-9", 1, ["thon-1"], "schedule", occurrence_key="bt-9@x", title="Tin chiều"),
                           "Outside the broadcast window.", "Ngoài khung giờ phát.")
    assert skipped is not None and skipped["reason_vi"] == "Ngoài khung giờ phát."


@pytest.mark.parametrize(("outcome", "reason", "expected"), [
    ("interrupted", "stopped by cli:root", "stopped"),
    ("failed", "stalled: no audio for 10 s", "stalled"),
    ("failed", "overrun: played past the slot", "overrun"),
    ("failed", "error: cannot open file", "error"),
])
def test_outcome_mapping(store: Store, outcome: str, reason: str, expected: str) -> None:
    playlog = PlayLog(store)
    play_id = playlog.begin(PlayStart("bt-1", 1, ["thon-1"], "central"))
    playlog.finish(play_id, outcome, reason)
    [entry] = Outbox(store).peek(1)
    assert entry.data["outcome"] == expected and entry.data["trigger"] == "command"


def test_recovered_and_skipped_plays_rejections_and_relays_are_queued(store: Store) -> None:
    playlog = PlayLog(store)
    crashed = playlog.begin(PlayStart("bt-1", 1, ["thon-1"], "schedule", occurrence_key="bt-1@x"))
    PlayLog(store).recover("power cut")  # a new daemon run: a fresh PlayLog instance
    skipped = playlog.skip(PlayStart("bt-2", 1, ["thon-1"], "schedule", occurrence_key="bt-2@y"), "too late")
    store.record_rejection(reason="bad_signature", vi="chữ ký sai", en="signature does not verify",
                           item_id="bt-9", version=4)
    _relay(store, state=1)
    _relay(store, state=0, reason="cool-down over")
    entries = Outbox(store).peek(10)
    assert [e.type for e in entries] == ["play", "play", "rejected", "relay", "relay"]
    assert entries[0].id == "p." + crashed and entries[0].data["outcome"] == "stopped"
    assert entries[1].id == "p." + skipped["id"] and entries[1].data["outcome"] == "skipped"
    assert entries[2].data == {"item_id": "bt-9", "version": 4, "reason": "bad_signature",
                               "detail": "signature does not verify"}
    assert [e.data["state"] for e in entries[3:]] == ["on", "off"]
    assert entries[4].data["cause"] == "cool-down over"
    assert len({e.id for e in entries}) == 5


def test_rolled_back_source_row_queues_nothing(store: Store) -> None:
    playlog = PlayLog(store)
    play_id = playlog.begin(PlayStart("bt-1", 1, ["thon-1"], "schedule"))
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.execute("UPDATE play_log SET outcome = 'completed' WHERE id = ?", (play_id,))
        assert tx.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 1  # same transaction
        raise RuntimeError("crash before commit")
    assert Outbox(store).depth() == 0
    assert playlog.get(play_id)["outcome"] == "playing"


def test_bound_drops_oldest_non_play_first_and_counts(store: Store) -> None:
    outbox = Outbox(store)
    outbox.configure(4)
    playlog = PlayLog(store)
    _relay(store)                                                      # z.1 (oldest)
    first = playlog.begin(PlayStart("bt-1", 1, ["thon-1"], "schedule"))
    playlog.finish(first, "completed")
    _relay(store, state=0)                                             # z.2
    store.record_rejection(reason="replay", vi="x", en="x", item_id="bt-2", version=1)  # r.1
    _relay(store, state=1)                                             # z.3: over the bound
    ids = [e.id for e in outbox.peek(10)]
    assert ids == ["p." + first, "z.2", "r.1", "z.3"]
    assert outbox.dropped() == {"relay": 1}
    assert outbox.depth() == 4
    # Only plays left to drop: the oldest play goes, and it is counted.
    outbox.configure(2)
    assert [e.type for e in outbox.peek(10)] == ["play", "relay"]
    assert outbox.dropped() == {"relay": 2, "rejected": 1}
    outbox.configure(1)
    assert [e.id for e in outbox.peek(10)] == ["p." + first]
    assert outbox.dropped() == {"relay": 3, "rejected": 1}
    second = playlog.begin(PlayStart("bt-1", 1, ["thon-1"], "schedule"))
    playlog.finish(second, "completed")
    assert [e.id for e in outbox.peek(10)] == ["p." + second]
    assert outbox.dropped() == {"relay": 3, "rejected": 1, "play": 1}
    assert outbox.depth() == 1 == len(outbox.peek(10))


def test_settle_ignores_ids_that_were_never_sent(store: Store) -> None:
    outbox = Outbox(store)
    for _ in range(3):
        _relay(store)
    sent = outbox.peek(2)
    removed, ignored = outbox.settle(sent, acknowledged=[sent[0].id, "z.3", "p.bogus"], refused=[])
    assert (removed, ignored) == (1, 2)
    assert [e.id for e in outbox.peek(10)] == ["z.2", "z.3"]
    assert outbox.peek(1)[0].attempts == 1, "the unacknowledged entry counts an attempt"


def test_enqueue_by_hand_is_idempotent(store: Store) -> None:
    outbox = Outbox(store)
    assert outbox.enqueue("x.1", "relay", "2025-06-01T00:00:00Z", {"zone": "thon-1", "state": "on"})
    assert not outbox.enqueue("x.1", "relay", "2025-06-01T00:00:00Z", {"zone": "thon-1", "state": "on"})
    assert outbox.depth() == 1


def test_take_batch_keeps_order_and_fits_one_request() -> None:
    big = "x" * 3000
    entries = [Entry(seq=i, id=f"z.{i}", type="relay", at="2025-06-01T00:00:00Z",
                     data={"zone": "thon-1", "state": "on", "cause": big}, attempts=0) for i in range(1000)]
    batch = take_batch(entries, max_entries=2000)
    assert batch == entries[:len(batch)]
    body = json.dumps({"entries": [entry_document(e) for e in batch]}, separators=(",", ":"))
    assert len(body.encode()) <= MAX_BATCH_BYTES
    assert len(batch) < 1000 and len(batch) > 300
    assert take_batch(entries, max_entries=5) == entries[:5]
    huge = Entry(seq=1, id="z.1", type="relay", at="2025-06-01T00:00:00Z", data={"cause": "y" * 2_000_000},
                 attempts=0)
    assert take_batch([huge]) == [huge], "an entry too big for any request still goes (central refuses it)"
    assert encoded_size(entry_document(huge)) > MAX_BATCH_BYTES


def test_migration_refuses_bad_types(store: Store) -> None:
    with pytest.raises(sqlite3.IntegrityError), store.transaction() as tx:
        tx.execute("INSERT INTO outbox (id, type, at, payload, created_at) VALUES ('a', 'nope', 'x', '{}', 'x')")
