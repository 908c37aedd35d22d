"""Central's signed remote commands: verify, execute at most once, queue the result for a heartbeat.

Commands arrive in heartbeat answers (protocol §10). Each is verified like an item (signature
over the command domain, exact shape, addressee, expiry) with ``protocol.validate_command``;
``now`` is the device clock when it is trusted, else central's ``server_time`` from the same
answer. An accepted id is written to ``commands_seen`` durably BEFORE it runs, so a crash
mid-execution can never run it a second time; a second delivery of a known id is refused as
``replay`` (the first result still travels). Every refusal is logged and reported as
``rejected`` with its reason; a command list that is not a list, or is oversized, is refused
whole and nothing runs. Commands act through the daemon's control actions with the actor
``central:<command id>``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

import protocol
from appliance.state.store import Store, to_utc_iso
from protocol.errors import CommuneRadioError, RejectedItem

log = logging.getLogger(__name__)

# Central sends at most 20 per answer; far more is a broken or hostile central.
MAX_COMMANDS_PER_ANSWER = 50
MAX_COMMAND_BYTES = 8 * 1024
# Executed ids are remembered this long after they expire (they cannot verify after expiry anyway).
KEEP_AFTER_EXPIRY = timedelta(days=1)

# (action, params, actor) -> result; raises CommuneRadioError when the action fails.
Executor = Callable[[str, dict[str, Any], str], dict[str, Any]]


@dataclass(frozen=True)
class CommandOutcome:
    id: str | None
    status: str            # 'done' | 'failed' | 'rejected' | 'ignored'
    error: str | None      # stable code: a reject reason, or the action's error code


def _code(text: str) -> str:
    """An error code safe for the heartbeat (lower case, no spaces, <= 64 chars)."""
    cleaned = "".join(c if c.isalnum() or c in "_.:-" else "_" for c in text.lower())[:64]
    return cleaned if cleaned and cleaned[0].isalnum() else "error"


class RemoteCommands:
    def __init__(self, store: Store, device_id: str,
                 public_keys: Ed25519PublicKey | Mapping[str, Ed25519PublicKey] | list[Ed25519PublicKey],
                 executor: Executor, *, now: Callable[[], datetime]) -> None:
        self._store = store
        self._device_id = device_id
        self._keys = public_keys
        self._executor = executor
        self._now = now
        self._recover()

    def _recover(self) -> None:
        """Commands left 'running' by a crash are not run again: they are reported failed."""
        rows = self._store.query("SELECT id FROM commands_seen WHERE result = 'running'")
        for row in rows:
            self._finish(row["id"], "failed", "command.interrupted")

    # ------------------------------------------------------------------ intake

    def handle(self, commands: Any, *, server_time: datetime | None, clock_trusted: bool) -> list[CommandOutcome]:
        """Process the ``commands`` member of a heartbeat answer. Never raises for bad input."""
        if commands is None:
            return []
        if not isinstance(commands, list):
            self._event("command.bad_list", "central sent a command list that is not a list",
                        "central_bad_commands")
            return [CommandOutcome(None, "ignored", "central_bad_commands")]
        if len(commands) > MAX_COMMANDS_PER_ANSWER:
            self._event("command.bad_list", f"central sent {len(commands)} commands in one answer "
                        f"(more than {MAX_COMMANDS_PER_ANSWER}); none was run", "central_too_many_commands")
            return [CommandOutcome(None, "ignored", "central_too_many_commands")]
        now = self._now() if clock_trusted or server_time is None else server_time
        return [self._one(doc, now) for doc in commands]

    def _one(self, doc: Any, now: datetime) -> CommandOutcome:
        ident = doc.get("id") if isinstance(doc, dict) else None
        ident = ident if isinstance(ident, str) and protocol.ID_RE.match(ident) else None
        try:
            size = len(json.dumps(doc, ensure_ascii=False))
        except (TypeError, ValueError, RecursionError):
            size = MAX_COMMAND_BYTES + 1
        try:
            if size > MAX_COMMAND_BYTES:
                raise protocol.reject("malformed", "lệnh quá lớn", f"the command is {size} bytes", ident)
            command = protocol.validate_command(doc, self._device_id, now, self._keys)
        except RejectedItem as exc:
            return self._refuse(ident, exc.reason, exc.en)
        except Exception as exc:  # a validator bug must not stop the heartbeat loop
            return self._refuse(ident, "malformed", repr(exc)[:200])
        digest = protocol.content_digest(command.document)
        with self._store.transaction(durable=True) as tx:
            seen = tx.execute("SELECT digest FROM commands_seen WHERE id = ?", (command.id,)).fetchone()
            if seen is None:
                tx.execute("INSERT INTO commands_seen (id, type, digest, received_at, expires_at, result)"
                           " VALUES (?, ?, ?, ?, ?, 'running')",
                           (command.id, command.type, digest, to_utc_iso(self._now()),
                            to_utc_iso(protocol.parse_utc(command.expires_at))))
        if seen is not None:
            return self._replay(command.id)
        return self._execute(command)

    def _replay(self, command_id: str) -> CommandOutcome:
        self._event("command.replay", f"command {command_id} was already received; it is not run again",
                    "command_rejected.replay", {"id": command_id})
        waiting = self._store.query_one("SELECT 1 FROM command_results WHERE command_id = ?", (command_id,))
        if waiting is None:
            self._queue_result(command_id, "rejected", "replay")
        return CommandOutcome(command_id, "rejected", "replay")

    def _refuse(self, ident: str | None, reason: str, detail: str) -> CommandOutcome:
        self._event("command.rejected", f"command {ident or '?'} refused ({reason}): {detail}"[:500],
                    f"command_rejected.{reason}", {"id": ident, "reason": reason})
        if ident is not None:
            dup = self._store.query_one("SELECT 1 FROM command_results WHERE command_id = ? AND status = 'rejected'"
                                        " AND error = ?", (ident, reason))
            if dup is None:
                self._queue_result(ident, "rejected", reason)
        return CommandOutcome(ident, "rejected", reason)

    def _execute(self, command: protocol.Command) -> CommandOutcome:
        actor = f"central:{command.id}"
        try:
            self._executor(command.type, dict(command.params), actor)
        except CommuneRadioError as exc:
            self._event("command.failed", f"command {command.id} ({command.type}) failed: {exc.en}"[:500],
                        _code(exc.code), {"id": command.id})
            return self._finish(command.id, "failed", _code(exc.code))
        except Exception as exc:  # the daemon must survive whatever an action raises
            log.exception("remote command %s crashed", command.id)
            self._event("command.failed", f"command {command.id} crashed: {exc!r}"[:500], "command.internal",
                        {"id": command.id})
            return self._finish(command.id, "failed", "command.internal")
        with self._store.transaction() as tx:
            tx.execute("INSERT INTO events (at, level, kind, message, data) VALUES (?, 'info', ?, ?, ?)",
                       (to_utc_iso(self._now()), "command." + command.type, f"{actor} ran {command.type}",
                        json.dumps({"id": command.id, "params": command.params}, ensure_ascii=False)))
        return self._finish(command.id, "done", None)

    def _finish(self, command_id: str, status: str, error: str | None) -> CommandOutcome:
        at = to_utc_iso(self._now())
        with self._store.transaction(durable=True) as tx:
            tx.execute("UPDATE commands_seen SET result = ?, error = ?, finished_at = ? WHERE id = ?",
                       ("done" if status == "done" else "failed", error, at, command_id))
            tx.execute("INSERT INTO command_results (command_id, status, error, at) VALUES (?, ?, ?, ?)",
                       (command_id, status, error, protocol.format_utc(self._now())))
        return CommandOutcome(command_id, status, error)

    def _queue_result(self, command_id: str, status: str, error: str | None) -> None:
        with self._store.transaction(durable=True) as tx:
            tx.execute("INSERT INTO command_results (command_id, status, error, at) VALUES (?, ?, ?, ?)",
                       (command_id, status, error, protocol.format_utc(self._now())))

    def _event(self, kind: str, message: str, code: str, data: dict[str, Any] | None = None) -> None:
        log.warning("%s", message)
        try:
            self._store.log_event(kind, message, {"code": code, **(data or {})}, level="warning")
        except Exception:  # a full disk must not turn a refusal into a crash
            log.exception("cannot log %s", kind)

    # ------------------------------------------------------------------ results for heartbeats

    def pending_results(self, limit: int = 10) -> list[dict[str, Any]]:
        """Oldest results not yet carried by an acknowledged heartbeat (with their queue ``seq``)."""
        rows = self._store.query("SELECT seq, command_id, status, error, at FROM command_results ORDER BY seq LIMIT ?",
                                 (limit,))
        return [{"seq": r["seq"], "id": r["command_id"], "status": r["status"], "error": r["error"], "at": r["at"]}
                for r in rows]

    def acknowledge(self, seqs: list[int]) -> None:
        if not seqs:
            return
        with self._store.transaction(durable=True) as tx:
            tx.executemany("DELETE FROM command_results WHERE seq = ?", [(s,) for s in seqs])

    def prune(self) -> int:
        """Forget executed ids long after they expired (they could not verify any more)."""
        cutoff = to_utc_iso(self._now() - KEEP_AFTER_EXPIRY)
        with self._store.transaction() as tx:
            return tx.execute("DELETE FROM commands_seen WHERE expires_at < ? AND result != 'running'",
                              (cutoff,)).rowcount

    def seen(self, command_id: str) -> dict[str, Any] | None:
        row = self._store.query_one("SELECT * FROM commands_seen WHERE id = ?", (command_id,))
        return dict(row) if row is not None else None
