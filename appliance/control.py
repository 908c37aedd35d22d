"""The daemon's control channel: a local Unix socket speaking JSON lines.

One module a little over 400 lines: the request checks and the socket that applies them are
one contract (docs/team-contracts.md), read together.

Only the daemon touches GPIO and audio; the CLI and the panel ask it through this socket.
The socket is created under a temp name, given mode 0660 and ``control.socket_group``, and
only then renamed into place, so it is never reachable with looser permissions.

Protocol (docs/team-contracts.md): one JSON object per line each way.
Request ``{"action": ..., "params": {...}, "actor": "cli:root" | "panel:<user>" | "central:<id>"}``;
response ``{"ok": true, "result": {...}}`` or ``{"ok": false, "error": {"code", "vi", "en"}}``.

Requests are validated here (``validate_request``, pure) before the daemon sees them, so a
bad request changes nothing. Every accepted action except ``status`` (a read, polled often)
is recorded durably in the event log with its actor before it runs, and with the uid and pid
the kernel reports for the peer (``SO_PEERCRED``): the actor is only what the client claims.

Robustness: at most ``MAX_CONNECTIONS`` connections are served at once (others are answered
``control.busy`` and closed, so a flood never exhausts the daemon's threads); a request line
must arrive whole within ``REQUEST_DEADLINE_S`` of its first byte (a client trickling bytes is
cut off) and an idle connection is closed after ``IDLE_TIMEOUT_S``; lines over
``MAX_LINE_BYTES`` are refused. Each connection has its own thread, so a slow client never
delays another one.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import struct
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from appliance.control_live import LIVE_ACTIONS, UNLOGGED_LIVE_ACTIONS, validate_live
from appliance.errors import ControlError
from appliance.state.store import Store
from protocol.errors import CommuneRadioError

MAX_LINE_BYTES = 64 * 1024
MAX_CONNECTIONS = 32
REQUEST_DEADLINE_S = 10.0
IDLE_TIMEOUT_S = 30.0
MAX_TEXT_CHARS = 5000
ACTOR_RE = re.compile(r"^(cli|panel|central|demo|test|bench):[^\s]{1,100}$")
READ_ONLY_ACTIONS = {"status"} | UNLOGGED_LIVE_ACTIONS   # not written to the event log

Handler = Callable[[str, dict[str, Any], str], dict[str, Any]]


def _bad(vi: str, en: str, code: str = "control.bad_request") -> ControlError:
    return ControlError(vi, en, code=code)


def _zones(params: Mapping[str, Any], zone_names: Sequence[str]) -> list[str] | None:
    value = params.get("zones")
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(z, str) for z in value):
        raise _bad("'zones' phải là danh sách tên vùng.", "'zones' must be a list of zone names.")
    if "*" in value:
        return list(zone_names)
    unknown = sorted(set(value) - set(zone_names))
    if unknown:
        raise _bad(f"Vùng không tồn tại: {', '.join(unknown)}. Các vùng: {', '.join(zone_names)}.",
                   f"Unknown zones: {', '.join(unknown)}. Zones: {', '.join(zone_names)}.", "control.unknown_zone")
    return sorted(set(value), key=list(zone_names).index)


def _item_id(params: Mapping[str, Any]) -> str:
    value = params.get("item_id")
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise _bad("Thiếu mã bản tin (item_id).", "The item id (item_id) is missing.")
    return value.strip()


def _only(params: Mapping[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(params) - allowed)
    if extra:
        raise _bad(f"Tham số không được biết: {', '.join(extra)}.", f"Unknown parameters: {', '.join(extra)}.")


def _repeat(params: dict[str, Any], has_text: bool) -> dict[str, Any]:
    """An emergency's repeat (every N s, M airings in all or 0 for until stopped) and the operator's
    choice for the bulletin it interrupts (``resume``: play it again afterwards, or not)."""
    out: dict[str, Any] = {}
    every, times, resume = params.get("repeat_every_s"), params.get("repeat_times"), params.get("resume")
    if every is not None or times is not None:
        if not has_text:
            raise _bad("Chỉ văn bản khẩn cấp mới lặp lại được.", "Only an emergency text can be repeated.")
        if isinstance(every, bool) or not isinstance(every, int) or not 60 <= every <= 86_400:
            raise _bad("Khoảng lặp phải từ 1 phút đến 24 giờ.", "The repeat interval must be 1 minute to 24 hours.")
        if isinstance(times, bool) or not isinstance(times, int) or not (times == 0 or 2 <= times <= 100):
            raise _bad("Số lần phát phải từ 2 đến 100, hoặc 0 (đến khi dừng).",
                       "The number of airings must be 2 to 100, or 0 (until stopped).")
        out.update(repeat_every_s=every, repeat_times=times)
    if resume is not None:
        if not isinstance(resume, bool):
            raise _bad("'resume' phải là true hoặc false.", "'resume' must be true or false.")
        out["resume"] = resume
    return out


def validate_request(message: Any, zone_names: Sequence[str]) -> tuple[str, dict[str, Any], str]:
    """Check one decoded request; returns (action, normalised params, actor). Pure."""
    if not isinstance(message, dict):
        raise _bad("Yêu cầu phải là một đối tượng JSON.", "A request must be a JSON object.")
    action = message.get("action")
    params = message.get("params", {})
    actor = message.get("actor")
    if not isinstance(action, str):
        raise _bad("'action' phải là một chuỗi.", "'action' must be a string.", "control.unknown_action")
    if not isinstance(params, dict):
        raise _bad("'params' phải là một đối tượng.", "'params' must be an object.")
    if not isinstance(actor, str) or not ACTOR_RE.match(actor):
        raise _bad("Thiếu hoặc sai 'actor' (ví dụ 'cli:root', 'panel:lan').",
                   "Missing or malformed 'actor' (e.g. 'cli:root', 'panel:lan').")
    if action in LIVE_ACTIONS:
        return action, validate_live(action, params, zone_names, _zones), actor
    if action in {"status", "stop", "reload", "schedule_changed", "sync_now"}:
        _only(params, set())
        return action, {}, actor
    if action == "play":
        _only(params, {"item_id", "zones"})
        return action, {"item_id": _item_id(params), "zones": _zones(params, zone_names)}, actor
    if action == "emergency":
        _only(params, {"item_id", "text", "zones", "repeat_every_s", "repeat_times", "resume"})
        has_text, has_item = params.get("text") is not None, params.get("item_id") is not None
        if has_text == has_item:
            raise _bad("Khẩn cấp cần đúng một trong hai: 'text' (văn bản để đọc) hoặc 'item_id'.",
                       "Emergency needs exactly one of 'text' (to speak) or 'item_id'.")
        out: dict[str, Any] = {"zones": _zones(params, zone_names)}
        if has_text:
            text = params["text"]
            if not isinstance(text, str) or not text.strip():
                raise _bad("Văn bản khẩn cấp trống.", "The emergency text is empty.")
            if len(text) > MAX_TEXT_CHARS:
                raise _bad(f"Văn bản khẩn cấp dài quá {MAX_TEXT_CHARS} ký tự.",
                           f"The emergency text is longer than {MAX_TEXT_CHARS} characters.")
            out["text"] = text.strip()
        else:
            out["item_id"] = _item_id(params)
        out.update(_repeat(params, has_text))
        return action, out, actor
    if action == "say":
        _only(params, {"text", "zones"})
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise _bad("Văn bản cần đọc trống.", "The text to speak is empty.")
        if len(text) > MAX_TEXT_CHARS:
            raise _bad(f"Văn bản dài quá {MAX_TEXT_CHARS} ký tự.", f"The text is longer than {MAX_TEXT_CHARS} characters.")
        return action, {"text": text.strip(), "zones": _zones(params, zone_names)}, actor
    if action == "set_volume":
        _only(params, {"volume"})
        volume = params.get("volume")
        if isinstance(volume, bool) or not isinstance(volume, int) or not 0 <= volume <= 100:
            raise _bad("Âm lượng phải là số nguyên từ 0 đến 100.", "Volume must be an integer from 0 to 100.")
        return action, {"volume": volume}, actor
    if action == "relay_test":
        _only(params, {"zone", "seconds"})
        zones = _zones({"zones": params.get("zone")}, zone_names) if params.get("zone") != "*" else None
        if not zones or len(zones) != 1:
            raise _bad("'zone' phải là tên một vùng.", "'zone' must be one zone name.")
        seconds = params.get("seconds", 3)
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 < seconds <= 60:
            raise _bad("'seconds' phải từ 0 đến 60.", "'seconds' must be between 0 and 60.")
        return action, {"zone": zones[0], "seconds": float(seconds)}, actor
    if action == "relay_reset":
        _only(params, {"zones"})
        zones = _zones(params, zone_names) if params.get("zones") is not None else list(zone_names)
        return action, {"zones": zones}, actor
    raise _bad(f"Lệnh không được biết: {action!r}.", f"Unknown action: {action!r}.", "control.unknown_action")


def _response_error(exc: CommuneRadioError) -> dict[str, Any]:
    return {"ok": False, "error": exc.as_dict()}


class ControlServer:
    """Accepts connections on the Unix socket; each request is validated, logged, then handled."""

    def __init__(self, socket_path: Path, handler: Handler, *, zone_names: Sequence[str],
                 store: Store | None = None, group: str = "") -> None:
        self._path = Path(socket_path)
        self._handler = handler
        self._zone_names = list(zone_names)
        self._store = store
        self._group = group
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    @property
    def path(self) -> Path:
        return self._path

    def start(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_name(f".{self._path.name}.{os.getpid()}.tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(str(tmp))
            os.chmod(tmp, 0o660)
            if self._group:
                shutil.chown(tmp, group=self._group)
            os.replace(tmp, self._path)
            sock.listen(16)
        except (OSError, LookupError) as exc:
            sock.close()
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise ControlError(
                f"Không mở được kênh điều khiển {self._path}: {exc}. Kiểm tra thư mục dữ liệu và nhóm '{self._group}'.",
                f"Cannot open the control socket {self._path}: {exc}. Check the data directory and group "
                f"'{self._group}'.", code="control.socket") from None
        sock.settimeout(None)
        self._sock = sock
        self._thread = threading.Thread(target=self._accept_loop, name="control", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                self._sock.close()
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _accept_loop(self) -> None:
        assert self._sock is not None
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                if self._stopping.is_set():
                    return
                time.sleep(0.05)  # e.g. EMFILE: do not spin
                continue
            if not self._slots.acquire(blocking=False):
                conn.settimeout(1.0)
                self._send(conn, _response_error(_bad(
                    "Daemon đang bận (quá nhiều kết nối điều khiển); thử lại sau.",
                    "The daemon is busy (too many control connections); try again.", "control.busy")))
                with contextlib.suppress(OSError):
                    conn.close()
                continue
            try:
                threading.Thread(target=self._serve, args=(conn,), name="control-conn", daemon=True).start()
            except RuntimeError:  # cannot start a thread: refuse this one, keep accepting
                self._slots.release()
                with contextlib.suppress(OSError):
                    conn.close()

    def _serve(self, conn: socket.socket) -> None:
        try:
            with conn:
                self._serve_lines(conn, _peer(conn))
        except Exception:  # a connection's failure never reaches the daemon
            pass
        finally:
            self._slots.release()

    def _serve_lines(self, conn: socket.socket, peer: dict[str, int] | None) -> None:
        buffer = b""
        started: float | None = None  # when the first byte of the pending request arrived
        while not self._stopping.is_set():
            newline = buffer.find(b"\n")
            if newline > MAX_LINE_BYTES or (newline < 0 and len(buffer) > MAX_LINE_BYTES):
                self._send(conn, _response_error(_bad("Yêu cầu quá dài.", "Request too long.")))
                return
            if newline >= 0:
                line, buffer = buffer[:newline + 1], buffer[newline + 1:]
                started = time.monotonic() if buffer else None
                if line.strip():
                    self._send(conn, self.handle_line(line, peer=peer))
                continue
            if buffer:
                started = started if started is not None else time.monotonic()
                timeout = started + REQUEST_DEADLINE_S - time.monotonic()
            else:
                timeout = IDLE_TIMEOUT_S
            if timeout <= 0:
                self._send(conn, _response_error(_bad("Yêu cầu gửi quá chậm.", "The request was sent too slowly.",
                                                      "control.timeout")))
                return
            conn.settimeout(timeout)
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                if buffer:
                    continue  # the deadline check above answers and closes
                return
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk

    @staticmethod
    def _send(conn: socket.socket, response: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):
            conn.sendall(json.dumps(response, ensure_ascii=False, default=str).encode("utf-8") + b"\n")

    def handle_line(self, line: bytes, *, peer: Mapping[str, int] | None = None) -> dict[str, Any]:
        """Decode, validate, log and run one request; never raises."""
        try:
            message = json.loads(line.decode("utf-8"))
        except (ValueError, RecursionError):  # bad UTF-8/JSON, deep nesting, huge integers
            return _response_error(_bad("Yêu cầu không phải JSON hợp lệ.", "The request is not valid JSON."))
        try:
            action, params, actor = validate_request(message, self._zone_names)
        except CommuneRadioError as exc:
            return _response_error(exc)
        if action not in READ_ONLY_ACTIONS and self._store is not None:
            try:
                with self._store.transaction(durable=True) as tx:
                    self._store.log_event("control." + action, f"{actor} requested {action}",
                                          {"actor": actor, "params": params, "peer": dict(peer or {})}, conn=tx)
            except Exception:  # an unloggable emergency still plays
                pass
        try:
            result = self._handler(action, params, actor)
        except CommuneRadioError as exc:
            return _response_error(exc)
        except Exception as exc:  # the daemon never dies from a request
            if self._store is not None:
                with contextlib.suppress(Exception):
                    self._store.log_event("control.crash", f"{action} failed: {exc!r}",
                                          {"actor": actor}, level="error")
            return _response_error(ControlError(
                f"Daemon gặp lỗi khi xử lý '{action}': {exc}.", f"The daemon failed to handle '{action}': {exc}.",
                code="control.internal"))
        return {"ok": True, "result": result}


def _peer(conn: socket.socket) -> dict[str, int] | None:
    """uid, gid and pid of the connected process, as the kernel reports them (Linux)."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return None
    try:
        pid, uid, gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i")))
    except (OSError, struct.error):
        return None
    return {"uid": uid, "gid": gid, "pid": pid}


class ControlClient:
    """Used by the CLI and the panel: ``request(action, actor=..., **params) -> result``."""

    def __init__(self, socket_path: str | os.PathLike[str], *, timeout: float = 15.0) -> None:
        self.socket_path = Path(socket_path)
        self.timeout = timeout

    def request(self, action: str, *, actor: str = "cli:root", **params: Any) -> dict[str, Any]:
        message = {"action": action, "params": {k: v for k, v in params.items() if v is not None}, "actor": actor}
        payload = json.dumps(message, ensure_ascii=False).encode("utf-8") + b"\n"
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(self.timeout)
                sock.connect(str(self.socket_path))
                # A daemon at its connection limit answers "busy" and closes before reading:
                # its answer may be waiting even though our request could not be written.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    sock.sendall(payload)
                with sock.makefile("rb") as reader:
                    line = reader.readline(16 * 1024 * 1024)
        except (FileNotFoundError, ConnectionRefusedError):
            raise ControlError(
                f"Daemon không chạy (không có {self.socket_path}). Khởi động: systemctl start commune-radio.",
                f"The daemon is not running (no {self.socket_path}). Start it: systemctl start commune-radio.",
                code="control.not_running") from None
        except PermissionError:
            raise ControlError(
                f"Không có quyền dùng {self.socket_path}: hãy chạy với nhóm của thiết bị.",
                f"No permission to use {self.socket_path}: run as a member of the appliance's group.",
                code="control.permission") from None
        except OSError as exc:
            raise ControlError(f"Lỗi kênh điều khiển: {exc}.", f"Control channel error: {exc}.",
                               code="control.io") from None
        if not line:
            raise ControlError("Daemon đóng kết nối không trả lời.", "The daemon closed the connection without an answer.",
                               code="control.io")
        try:
            response = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ControlError("Daemon trả lời không hợp lệ.", "The daemon sent an invalid answer.",
                               code="control.io") from None
        if response.get("ok"):
            return dict(response.get("result") or {})
        error = response.get("error") or {}
        raise ControlError(str(error.get("vi", "Lỗi không rõ.")), str(error.get("en", "Unknown error.")),
                           code=str(error.get("code", "control")))
