"""Central's configuration: where its data lives, which database, how long reports are kept.

Read from a TOML file (``commune-central --config central.toml`` or ``COMMUNE_CENTRAL_CONFIG``),
then overridden by the environment (``COMMUNE_CENTRAL_DATA``, ``COMMUNE_CENTRAL_DATABASE_URL``)
and the command line (``--data``, ``--database-url``). Without any of them central keeps
everything in its data directory: SQLite at ``<data_dir>/central.db``, the signing key, media.

    data_dir = "/var/lib/commune-central"

    [database]
    url = "postgresql://central@/central?host=/run/postgresql"
    pool_size = 10            # connections per process
    max_overflow = 20

    [retention]
    play_log_days = 400       # uploaded play/rejection/relay logs (PostgreSQL: whole months dropped)
    heartbeat_history_days = 30
    heartbeat_sample_s = 900  # one heartbeat per device kept per 15 minutes
    command_days = 90         # finished commands and reported results

    [speech]                  # central renders approved text items (protocol §4.3); "" = it does not
    engine = "neural"         # "espeak" or "neural" (a voice pack installed by `voice-pack offer`)
    voice_pack = "vi-vbee-medium"
    voice = "vi"              # espeak-ng's accent when engine = "espeak"
    rate = 130
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from protocol.errors import ConfigError

DB_FILE = "central.db"
DEFAULT_DATA = "./central-data"
ENV_CONFIG = "COMMUNE_CENTRAL_CONFIG"
ENV_DATA = "COMMUNE_CENTRAL_DATA"
ENV_DATABASE_URL = "COMMUNE_CENTRAL_DATABASE_URL"


@dataclass(frozen=True)
class Retention:
    play_log_days: int = 400
    heartbeat_history_days: int = 30
    heartbeat_sample_s: int = 900
    command_days: int = 90


@dataclass(frozen=True)
class SpeechConfig:
    """How central renders the speech of approved text items; ``engine = ""`` renders nothing."""

    engine: str = ""
    voice: str = "vi"
    voice_pack: str = ""
    rate: int = 130
    chime: bool = True
    target_lufs: float = -16.0


_SPEECH_ENGINES = ("", "espeak", "neural")
_ESPEAK_VOICES = ("vi", "vi-vn-x-central", "vi-vn-x-south")


def _speech(part: Mapping[str, Any]) -> SpeechConfig:
    speech = SpeechConfig(**part)
    checks = [
        ("engine", speech.engine in _SPEECH_ENGINES, "'', 'espeak' hoặc 'neural'", "'', 'espeak' or 'neural'"),
        ("voice", speech.voice in _ESPEAK_VOICES, ", ".join(_ESPEAK_VOICES), ", ".join(_ESPEAK_VOICES)),
        ("voice_pack", isinstance(speech.voice_pack, str) and (speech.engine != "neural" or bool(speech.voice_pack)),
         "mã gói giọng đã cài (bắt buộc khi engine = 'neural')", "an installed pack id (required when engine = 'neural')"),
        ("rate", isinstance(speech.rate, int) and not isinstance(speech.rate, bool) and 80 <= speech.rate <= 300,
         "80 đến 300", "80 to 300"),
        ("chime", isinstance(speech.chime, bool), "true hoặc false", "true or false"),
        ("target_lufs", isinstance(speech.target_lufs, int | float) and -40 <= speech.target_lufs <= -5,
         "-40 đến -5", "-40 to -5"),
    ]
    for key, ok, vi, en in checks:
        if not ok:
            raise ConfigError(f"[speech] {key} phải là {vi}.", f"[speech] {key} must be {en}.")
    return speech


@dataclass(frozen=True)
class CentralConfig:
    data_dir: Path
    database_url: str = ""              # empty: SQLite in the data directory
    pool_size: int = 10
    max_overflow: int = 20
    retention: Retention = field(default_factory=Retention)
    speech: SpeechConfig = field(default_factory=SpeechConfig)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(Path(self.data_dir) / DB_FILE).resolve()}"


_LIMITS = {"play_log_days": (1, 36_500), "heartbeat_history_days": (1, 3650), "heartbeat_sample_s": (0, 86_400),
           "command_days": (1, 3650), "pool_size": (1, 1000), "max_overflow": (0, 1000)}


def _int(section: str, key: str, value: Any) -> int:
    low, high = _LIMITS[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"[{section}] {key} phải là số nguyên từ {low} đến {high}.",
                          f"[{section}] {key} must be an integer from {low} to {high}.")
    return value


def _table(doc: Mapping[str, Any], name: str, allowed: set[str]) -> dict[str, Any]:
    part = doc.get(name, {})
    if not isinstance(part, dict):
        raise ConfigError(f"[{name}] phải là một bảng.", f"[{name}] must be a table.")
    unknown = sorted(set(part) - allowed)
    if unknown:
        raise ConfigError(f"[{name}] có khoá lạ: {', '.join(unknown)}.", f"[{name}] has unknown keys: {', '.join(unknown)}.")
    return part


def parse(doc: Mapping[str, Any], *, base: Path) -> CentralConfig:
    """A configuration from a decoded TOML document (relative paths are relative to ``base``)."""
    unknown = sorted(set(doc) - {"data_dir", "database", "retention", "speech"})
    if unknown:
        raise ConfigError(f"Khoá lạ trong cấu hình trung tâm: {', '.join(unknown)}.",
                          f"Unknown keys in central's configuration: {', '.join(unknown)}.")
    data = doc.get("data_dir", DEFAULT_DATA)
    if not isinstance(data, str) or not data:
        raise ConfigError("data_dir phải là một đường dẫn.", "data_dir must be a path.")
    database = _table(doc, "database", {"url", "pool_size", "max_overflow"})
    url = database.get("url", "")
    if not isinstance(url, str):
        raise ConfigError("[database] url phải là chuỗi.", "[database] url must be a string.")
    retention_doc = _table(doc, "retention", set(Retention.__dataclass_fields__))
    retention = Retention(**{k: _int("retention", k, v) for k, v in retention_doc.items()})
    pool = {k: _int("database", k, database[k]) for k in ("pool_size", "max_overflow") if k in database}
    speech = _speech(_table(doc, "speech", set(SpeechConfig.__dataclass_fields__)))
    return CentralConfig(data_dir=(base / data), database_url=url, retention=retention, speech=speech, **pool)


def load(path: Path | str | None = None, *, data_dir: Path | str | None = None, database_url: str | None = None,
         env: Mapping[str, str] | None = None) -> CentralConfig:
    """File (if any), then environment, then explicit arguments. Raises ConfigError."""
    env = os.environ if env is None else env
    path = path or env.get(ENV_CONFIG) or None
    if path is not None:
        file = Path(path)
        try:
            doc = tomllib.loads(file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"Không đọc được cấu hình trung tâm {file}: {exc.strerror}",
                              f"Cannot read central's configuration {file}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"Cấu hình trung tâm {file} sai cú pháp TOML: {exc}",
                              f"Central's configuration {file} is not valid TOML: {exc}") from None
        config = parse(doc, base=file.resolve().parent)
    else:
        config = CentralConfig(data_dir=Path(env.get(ENV_DATA) or DEFAULT_DATA))
    overrides: dict[str, Any] = {}
    if path is not None and env.get(ENV_DATA):
        overrides["data_dir"] = Path(env[ENV_DATA])
    if env.get(ENV_DATABASE_URL):
        overrides["database_url"] = env[ENV_DATABASE_URL]
    if data_dir is not None:
        overrides["data_dir"] = Path(data_dir)
    if database_url is not None:
        overrides["database_url"] = database_url
    return CentralConfig(**{**config.__dict__, **overrides})


def from_args(args: Any) -> CentralConfig:
    """The configuration ``commune-central``'s common options (--config, --data, --database-url) name."""
    return load(args.config, data_dir=args.data, database_url=args.database_url)
