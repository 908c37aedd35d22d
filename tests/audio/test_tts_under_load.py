"""espeak-ng through pyttsx3 under CPU load must never write an empty WAV (issue 16, fault 8).

What happened: pyttsx3's ``runAndWait`` ends by calling its driver's ``stop()``, which asks
``espeak_IsPlaying()``. Our rate and volume (set right before each synthesis) are commands in
espeak's asynchronous queue; while its thread has not yet applied them, espeak "is playing",
so pyttsx3 calls ``espeak_Cancel()`` and flags the utterance stopped, and its loop then cancels
the synthesis it has just queued: an empty WAV (and parameters reset to the previous ones).
The window is a few microseconds on an idle machine and grows under load; measured here with
four busy processes on two cores: 39 empty WAVs in 1,000 syntheses before, none after.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from appliance.state import config as config_module
from audio.tts import Synthesizer

SYNTHESES = 200
BURNERS = 4


def _burn(stop: multiprocessing.synchronize.Event) -> None:
    x = 0
    while not stop.is_set():
        x += 1


@pytest.mark.slow
def test_no_empty_audio_under_cpu_load(tmp_path: Path) -> None:
    config = config_module.from_mapping({"device": {"data_dir": str(tmp_path / "data")}}, env={})
    stop = multiprocessing.Event()
    burners = [multiprocessing.Process(target=_burn, args=(stop,), daemon=True) for _ in range(BURNERS)]
    for burner in burners:
        burner.start()
    failures: list[str] = []
    try:
        with Synthesizer(config, normalizer=lambda text: text) as synth:
            for i in range(SYNTHESES):
                try:
                    result = synth.synthesize(f"Xin chào bà con, đây là thông báo số {i} của xã.")
                except Exception as exc:  # noqa: BLE001 - every failure is what this test counts
                    failures.append(f"{i}: {getattr(exc, 'code', type(exc).__name__)}")
                    continue
                if result.duration_s < 1.0:
                    failures.append(f"{i}: {result.duration_s:.2f} s")
    finally:
        stop.set()
        for burner in burners:
            burner.join(5)
    assert failures == [], f"{len(failures)} of {SYNTHESES} syntheses produced no (or truncated) audio: {failures[:5]}"
