"""A TTS engine in a child process the caller can kill.

espeak-ng keeps process-global state, can hang, and pyttsx3 prints "Audio saved to …" on
stdout. So the engine lives alone in a persistent child process (``python -m
audio.tts_worker``): it is reused between syntheses (no start-up cost each time), killed when a
request outlives its timeout, and started again for the next request.

Protocol: one JSON object per line. The child's real stdout (fd 1) is pointed at /dev/null
before any engine loads, so nothing an engine prints can reach the caller's output or corrupt
the protocol, which runs on a private duplicate of the original stdout.

    -> {"op": "open", "engine": "module:Class", "params": {...}}   <- {"ok": true, "info": {...}}
    -> {"op": "synth", "text": "...", "out": "/path.wav"}           <- {"ok": true}
    <- {"ok": false, "error": {"code": "...", "vi": "...", "en": "..."}}
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import select
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from audio.errors import TTSError
from protocol.errors import CommuneRadioError

PARENT_PID_ENV = "COMMUNE_RADIO_TTS_PARENT"
PARENT_POLL_S = 0.5


class WorkerHandle:
    """The caller's side: start the child lazily, send a request, kill it on timeout."""

    def __init__(self, engine_path: str, params: dict[str, Any]) -> None:
        self._engine_path = engine_path
        self._params = params
        self._proc: subprocess.Popen[bytes] | None = None
        self._buffer = b""
        self.info: dict[str, Any] | None = None
        self.spawned = 0  # how many children were started (tests and diagnostics)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def ensure_open(self, timeout_s: float) -> dict[str, Any]:
        if self._proc is None or self._proc.poll() is not None:
            self._spawn()
            reply = self._exchange({"op": "open", "engine": self._engine_path, "params": self._params},
                                   timeout_s, "open")
            self.info = dict(reply.get("info") or {})
        assert self.info is not None
        return self.info

    def synthesize(self, text: str, out_path: Path, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        self.ensure_open(timeout_s)
        self._exchange({"op": "synth", "text": text, "out": str(out_path)},
                       max(0.1, deadline - time.monotonic()), "synth")

    def close(self) -> None:
        proc, self._proc = self._proc, None
        self.info = None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(OSError):
                assert proc.stdin is not None
                proc.stdin.close()  # EOF: the child exits on its own
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._close_pipes(proc)

    def kill(self) -> None:
        proc, self._proc = self._proc, None
        self.info = None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()
        self._close_pipes(proc)

    # ------------------------------------------------------------------ internals

    def _spawn(self) -> None:
        self.kill()
        env = dict(os.environ)
        # The child must import exactly what we can (an engine class may live outside the package).
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        env["PYTHONIOENCODING"] = "utf-8"
        env[PARENT_PID_ENV] = str(os.getpid())
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "audio.tts_worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=env, close_fds=True,
        )
        self._buffer = b""
        self.spawned += 1

    def _exchange(self, message: dict[str, Any], timeout_s: float, what: str) -> dict[str, Any]:
        proc = self._proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(json.dumps(message, ensure_ascii=False).encode("utf-8") + b"\n")
            proc.stdin.flush()
            line = self._read_line(proc, time.monotonic() + timeout_s)
        except TimeoutError:
            self.kill()
            raise TTSError(
                f"Bộ đọc văn bản không phản hồi sau {timeout_s:.0f} giây nên đã bị dừng. "
                "Lần đọc sau sẽ khởi động lại bộ đọc.",
                f"The speech engine did not answer within {timeout_s:.0f} s and was killed. "
                "The next synthesis starts a fresh engine.",
                code="tts.timeout",
            ) from None
        except (BrokenPipeError, ConnectionError, EOFError):
            try:
                code: int | None = proc.wait(timeout=2)  # EOF comes a moment before the exit status
            except subprocess.TimeoutExpired:
                code = None
            self.kill()
            raise TTSError(
                f"Bộ đọc văn bản bị dừng đột ngột (mã {code}). Lần đọc sau sẽ khởi động lại.",
                f"The speech engine process died (exit status {code}) during '{what}'. "
                "The next synthesis starts a fresh engine.",
                code="tts.engine_died",
            ) from None
        try:
            reply = json.loads(line)
        except ValueError:
            self.kill()
            raise TTSError(
                "Bộ đọc văn bản trả lời không hợp lệ; đã khởi động lại.",
                "The speech engine sent a malformed reply; it was restarted.",
                code="tts.protocol",
            ) from None
        if not reply.get("ok"):
            error = reply.get("error") or {}
            if what == "open":
                self.kill()  # an engine that cannot open is useless; try afresh next time
            raise TTSError(str(error.get("vi", "Lỗi bộ đọc văn bản.")), str(error.get("en", "Speech engine error.")),
                           code=str(error.get("code", "tts.engine")))
        return reply

    def _read_line(self, proc: subprocess.Popen[bytes], deadline: float) -> bytes:
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                raise EOFError
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    @staticmethod
    def _close_pipes(proc: subprocess.Popen[bytes]) -> None:
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()


# ---------------------------------------------------------------------- the child


def _load_engine(path: str, params: dict[str, Any]) -> Any:
    module_name, _, class_name = path.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(**params)


def _error_reply(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, CommuneRadioError):
        return {"ok": False, "error": exc.as_dict()}
    detail = f"{type(exc).__name__}: {exc}"[:500]
    return {"ok": False, "error": {"code": "tts.engine", "vi": f"Bộ đọc văn bản gặp lỗi: {detail}",
                                   "en": f"The speech engine failed: {detail}"}}


def _die_with_parent(parent_pid: int) -> None:
    """Exit as soon as the caller is gone (kill -9 included), even while the engine hangs.

    A thread polling the parent id rather than prctl(PR_SET_PDEATHSIG): that signal fires when
    the *thread* that started us ends, and callers may prepare audio from short-lived threads.
    The engine's C calls release the GIL (ctypes), so this thread runs while they hang.
    """

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_POLL_S)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main() -> int:
    parent = int(os.environ.get(PARENT_PID_ENV, "0") or 0)
    if parent:
        _die_with_parent(parent)
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives as long as the process
    requests = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8")
    engine: Any = None
    for line in requests:
        reply: dict[str, Any]
        try:
            message = json.loads(line)
            op = message.get("op")
            if op == "open":
                engine = _load_engine(message["engine"], message.get("params") or {})
                reply = {"ok": True, "info": engine.open()}
            elif op == "synth":
                if engine is None:
                    raise RuntimeError("no engine opened")
                engine.synthesize(message["text"], Path(message["out"]))
                reply = {"ok": True}
            else:
                raise RuntimeError(f"unknown op {op!r}")
        except Exception as exc:  # every failure goes back to the caller as a bilingual error
            reply = _error_reply(exc)
        protocol.write(json.dumps(reply, ensure_ascii=False) + "\n")
        protocol.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
