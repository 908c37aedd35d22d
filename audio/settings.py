"""What the audio pipeline needs from a product's configuration, as structural types.

The station passes its ``appliance.state.config.Config``; central (which renders speech for
approved items) passes its own object with the same attributes. Neither product's config
module is imported here: audio depends on the protocol package only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class TTSSettings(Protocol):
    """The ``[tts]`` section: which engine and voice, how fast, how long a chunk may take."""

    @property
    def engine(self) -> str: ...
    @property
    def voice(self) -> str: ...
    @property
    def rate(self) -> int: ...
    @property
    def volume(self) -> float: ...
    @property
    def piper_model(self) -> str: ...
    @property
    def timeout_s(self) -> float: ...
    @property
    def cache_max_bytes(self) -> int: ...


class OutputSettings(Protocol):
    """The ``[audio]`` section: loudness target, chime, output and the player's watchdogs."""

    @property
    def output(self) -> str: ...
    @property
    def target_lufs(self) -> float: ...
    @property
    def true_peak_dbfs(self) -> float: ...
    @property
    def chime(self) -> bool: ...
    @property
    def volume(self) -> int: ...
    @property
    def watchdog_margin_s(self) -> float: ...
    @property
    def stall_timeout_s(self) -> float: ...


class AudioPipelineConfig(Protocol):
    """Everything ``Synthesizer``, ``Preparer`` and ``Player.from_config`` read."""

    @property
    def tts(self) -> TTSSettings: ...
    @property
    def audio(self) -> OutputSettings: ...
    @property
    def data_path(self) -> Path: ...
    @property
    def capture_path(self) -> Path: ...
