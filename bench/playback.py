"""Playback latency: what an emergency pre-emption costs on this machine.

Measures the libVLC instance cost (cold: first in a process; warm: while another instance
lives), the time from ``Player.play()`` to ``Playback.started`` (capture: first audio bytes
in the WAV; dummy: libVLC's Playing event with an audio track), and ``Player.stop()`` time.

    .venv/bin/python bench/playback.py [--runs N]
"""

from __future__ import annotations

import argparse
import array
import math
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from audio.playback import Player  # noqa: E402

COLD_SNIPPET = """
import time, vlc
t = time.perf_counter()
instance = vlc.Instance(["--aout=dummy", "--no-video", "--quiet"])
cold = time.perf_counter() - t
t = time.perf_counter()
second = vlc.Instance(["--aout=afile", "--audiofile-file=/dev/null", "--no-video", "--quiet"])
warm = time.perf_counter() - t
second.release(); instance.release()
print(cold, warm)
"""


def make_clip(path: Path, seconds: float = 3.0, rate: int = 44100) -> Path:
    samples = array.array("h", (int(12000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(int(seconds * rate))))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return path


def instance_costs(runs: int) -> tuple[list[float], list[float]]:
    cold, warm = [], []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", COLD_SNIPPET], capture_output=True, text=True, check=True,
                             timeout=60)
        first, second = (float(x) for x in out.stdout.split())
        cold.append(first * 1000)
        warm.append(second * 1000)
    return cold, warm


def start_stop(player: Player, clip: Path, runs: int) -> tuple[list[float], list[float]]:
    starts, stops = [], []
    for i in range(runs):
        playback = player.play(clip, expected_duration_s=3.0, label=f"bench-{i}")
        if not playback.started.wait(10):
            raise SystemExit(f"playback {i} never started: {playback.wait(1)}")
        starts.append((playback.start_latency_s or 0.0) * 1000)
        began = time.perf_counter()
        result = player.stop("bench")
        stops.append((time.perf_counter() - began) * 1000)
        if result is None or result.outcome != "stopped":
            raise SystemExit(f"unexpected result {result}")
    return starts, stops


def row(name: str, values: list[float]) -> str:
    return f"{name:<34} {statistics.median(values):9.1f} {min(values):9.1f} {max(values):9.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clip = make_clip(folder / "clip.wav")
        cold, warm = instance_costs(max(3, args.runs // 2))
        with Player("capture", folder / "capture") as player:
            cap_start, cap_stop = start_stop(player, clip, args.runs)
        with Player("dummy") as player:
            dummy_start, dummy_stop = start_stop(player, clip, args.runs)

    print(f"{'measure (ms)':<34} {'median':>9} {'min':>9} {'max':>9}")
    print(row("libVLC instance, cold (1st)", cold))
    print(row("libVLC instance, warm", warm))
    print(row("play() -> started, capture", cap_start))
    print(row("play() -> started, dummy", dummy_start))
    print(row("stop(), capture (incl. finalize)", cap_stop))
    print(row("stop(), dummy", dummy_stop))
    print(f"RESULT cold_instance_ms={statistics.median(cold):.1f} warm_instance_ms={statistics.median(warm):.2f} "
          f"start_capture_ms={statistics.median(cap_start):.1f} start_dummy_ms={statistics.median(dummy_start):.1f} "
          f"stop_capture_ms={statistics.median(cap_stop):.1f} stop_dummy_ms={statistics.median(dummy_stop):.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
