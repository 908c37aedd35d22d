"""Configuration: ``config/appliance.toml`` loaded into frozen dataclasses, validated strictly.

An unknown key, a wrong type or an impossible value stops start-up with a message that
names the file, the key and what is expected. Secrets may come from the environment
(``COMMUNE_RADIO_DEVICE_TOKEN``, ``COMMUNE_RADIO_CENTRAL_PUBLIC_KEY``,
``COMMUNE_RADIO_API_TOKEN``) so they need not live in the file.

Why one module of this length: the schema (every section's keys, defaults and rules) and the
one loader that checks it, with the Vietnamese wording of each expectation, are one contract
with the shipped config/appliance.toml; splitting them would let the two drift apart.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import tomllib
import types
import typing
import zoneinfo
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from protocol.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("/etc/commune-radio/appliance.toml")

SECRET_ENV = {
    ("central", "token"): "COMMUNE_RADIO_DEVICE_TOKEN",
    ("central", "public_key"): "COMMUNE_RADIO_CENTRAL_PUBLIC_KEY",
    ("panel", "api_token"): "COMMUNE_RADIO_API_TOKEN",
}
SECRET_KEYS = {f"{section}.{key}" for section, key in SECRET_ENV}

DEVICE_ID_RE = re.compile(r"^[0-9]{5}-[A-Za-z0-9]{1,16}$")
WINDOW_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$")
ZONE_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
VOICE_PACK_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
ESPEAK_VARIANTS = frozenset({"", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5",
                             "klatt", "klatt2", "klatt3", "klatt4", "klatt5", "klatt6", "announcer", "Nguyen",
                             "edward", "michel", "norbert"})


def _check(rule: Callable[[Any], bool], expected: str) -> dict[str, Any]:
    return {"check": rule, "expected": expected}


def _field(default: Any, rule: Callable[[Any], bool] | None = None, expected: str = "") -> Any:
    meta = _check(rule, expected) if rule else {}
    if isinstance(default, list):
        return dataclasses.field(default_factory=lambda: list(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _positive(value: float) -> bool:
    return value > 0


def _valid_timezone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _http_url(value: str) -> bool:
    return bool(re.match(r"^https?://[^/\s]+(/[^\s]*)?$", value))


def _ip_network(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


def _windows(value: list[str]) -> bool:
    return all(WINDOW_RE.match(w) for w in value)


@dataclasses.dataclass(frozen=True)
class DeviceConfig:
    id: str = _field("00000-demo", DEVICE_ID_RE.match, "commune code (5 digits), '-', serial, e.g. '26881-0001'")
    timezone: str = _field("Asia/Ho_Chi_Minh", _valid_timezone, "an IANA zone name, e.g. 'Asia/Ho_Chi_Minh'")
    data_dir: str = _field("/var/lib/commune-radio", lambda v: v.startswith("/") or v.startswith("."),
                           "an absolute path")


@dataclasses.dataclass(frozen=True)
class CentralConfig:
    url: str = _field("http://127.0.0.1:8700", _http_url, "an http(s) URL such as 'https://central.example.vn'")
    token: str = _field("")
    public_key: str = _field("")
    connect_timeout_s: float = _field(10.0, _positive, "seconds > 0")
    read_timeout_s: float = _field(30.0, _positive, "seconds > 0")
    max_retries: int = _field(4, lambda v: 0 <= v <= 20, "0 to 20")
    clock_tolerance_s: float = _field(10.0, _positive, "seconds > 0")


@dataclasses.dataclass(frozen=True)
class SyncConfig:
    interval_s: int = _field(300, lambda v: 10 <= v <= 86400, "10 to 86400 seconds")
    max_media_bytes: int = _field(200_000_000, _positive, "bytes > 0")
    storage_quota_bytes: int = _field(4_000_000_000, _positive, "bytes > 0")
    max_items: int = _field(5000, _positive, "a count > 0")


@dataclasses.dataclass(frozen=True)
class ReportConfig:
    heartbeat_interval_s: int = _field(60, lambda v: 5 <= v <= 3600, "5 to 3600 seconds")
    outbox_max_entries: int = _field(100_000, lambda v: v >= 100, "at least 100")
    batch_size: int = _field(200, lambda v: 1 <= v <= 5000, "1 to 5000")
    backlog_batch_size: int = _field(2000, lambda v: 1 <= v <= 10000, "1 to 10000")


@dataclasses.dataclass(frozen=True)
class TTSConfig:
    engine: str = _field("espeak", lambda v: v in {"espeak", "neural", "piper"}, "'espeak', 'neural' or 'piper'")
    voice: str = _field("vi", lambda v: v in {"vi", "vi-vn-x-central", "vi-vn-x-south"},
                        "'vi' (Northern), 'vi-vn-x-central' or 'vi-vn-x-south'")
    # 130 wpm and a 40 ms gap between words: the best espeak-ng setting bench/intelligibility.py
    # found (docs/benchmarks.md); 150 wpm and no gap were the defaults before.
    rate: int = _field(130, lambda v: 80 <= v <= 300, "80 to 300 words per minute")
    volume: float = _field(1.0, lambda v: 0.0 < v <= 1.0, "a number in (0, 1]")
    # espeak-ng's voice: pitch and its range (espeak's 0-99 / 0-100 scales), the pause between
    # words (10 ms units) and the voice variant ("" for the plain voice, e.g. "m3", "f2", "klatt").
    pitch: int = _field(50, lambda v: 0 <= v <= 99, "0 to 99")
    pitch_range: int = _field(50, lambda v: 0 <= v <= 100, "0 to 100")
    word_gap: int = _field(4, lambda v: 0 <= v <= 50, "0 to 50 (tens of milliseconds)")
    variant: str = _field("", lambda v: v in ESPEAK_VARIANTS, "an espeak-ng variant such as 'm3', 'f2' or ''")
    # Silence between sentences, and commas cut into phrases in sentences longer than this (0: never).
    sentence_gap_ms: int = _field(0, lambda v: 0 <= v <= 2000, "0 to 2000 ms")
    max_phrase_words: int = _field(0, lambda v: v == 0 or 6 <= v <= 100, "0 (never) or 6 to 100 words")
    # The installed voice pack the "neural" engine speaks with (commune-radio voice-pack install).
    voice_pack: str = _field("", lambda v: v == "" or VOICE_PACK_ID_RE.match(v) is not None,
                             "a voice pack id: lower-case letters, digits, '-', '_' or '.' (max 64)")
    piper_model: str = _field("")
    timeout_s: float = _field(60.0, _positive, "seconds > 0")
    cache_max_bytes: int = _field(200_000_000, _positive, "bytes > 0")


@dataclasses.dataclass(frozen=True)
class AudioConfig:
    output: str = _field("auto", lambda v: v in {"auto", "alsa", "capture"}, "'auto', 'alsa' or 'capture'")
    capture_dir: str = _field("")
    target_lufs: float = _field(-16.0, lambda v: -40.0 <= v <= -5.0, "-40 to -5 LUFS")
    true_peak_dbfs: float = _field(-1.0, lambda v: -20.0 <= v <= 0.0, "-20 to 0 dBFS")
    chime: bool = _field(True)
    volume: int = _field(80, lambda v: 0 <= v <= 100, "0 to 100")
    watchdog_margin_s: float = _field(5.0, _positive, "seconds > 0")
    stall_timeout_s: float = _field(10.0, _positive, "seconds > 0")


@dataclasses.dataclass(frozen=True)
class ScheduleConfig:
    grace_minutes: int = _field(10, lambda v: 0 <= v <= 240, "0 to 240 minutes")
    min_interval_minutes: int = _field(30, lambda v: 1 <= v <= 1440, "1 to 1440 minutes")
    max_duration_minutes: int = _field(120, lambda v: 1 <= v <= 720, "1 to 720 minutes")
    resume_interrupted: bool = _field(True)
    prepare_ahead_minutes: int = _field(60, lambda v: 1 <= v <= 1440, "1 to 1440 minutes")
    default_windows: list[str] = _field(["05:30-21:30"], _windows, "a list of 'HH:MM-HH:MM' windows")


@dataclasses.dataclass(frozen=True)
class ZoneConfig:
    name: str = _field("", ZONE_NAME_RE.match, "lower-case letters, digits, '-' or '_' (max 32)")
    label: str = _field("")
    relay_pin: int = _field(17, lambda v: 0 <= v <= 53, "a BCM GPIO number 0-53")
    active_high: bool = _field(False)
    warmup_ms: int = _field(1500, lambda v: 0 <= v <= 30000, "0 to 30000 ms")
    cooldown_ms: int = _field(1000, lambda v: 0 <= v <= 60000, "0 to 60000 ms")
    max_on_minutes: int = _field(90, lambda v: 1 <= v <= 720, "1 to 720 minutes")
    fault_pin: int = _field(-1, lambda v: -1 <= v <= 53, "-1 (none) or a BCM GPIO number")
    windows: list[str] = _field([], _windows, "a list of 'HH:MM-HH:MM' windows (empty: schedule.default_windows)")


@dataclasses.dataclass(frozen=True)
class ControlConfig:
    socket_path: str = _field("", None, "")
    socket_group: str = _field("")


@dataclasses.dataclass(frozen=True)
class PanelConfig:
    listen: str = _field("0.0.0.0")
    port: int = _field(8080, lambda v: 1 <= v <= 65535, "a TCP port 1-65535")
    max_upload_bytes: int = _field(50_000_000, _positive, "bytes > 0")
    api_token: str = _field("")
    session_lifetime_minutes: int = _field(480, _positive, "minutes > 0")
    # Reverse proxies (TLS terminators) believed about X-Forwarded-Proto/-For/-Host/-Port.
    trusted_proxies: list[str] = _field([], lambda v: all(_ip_network(x) for x in v),
                                        "a list of IP addresses or networks, e.g. ['127.0.0.1']")


@dataclasses.dataclass(frozen=True)
class PowerConfig:
    # The mains-sense input: an opto-isolator or a relay contact on mains that pulls a GPIO
    # (BCM number, -1: none) to the level named by ``mains_present_level`` while mains is there.
    mains_pin: int = _field(-1, lambda v: -1 <= v <= 53, "-1 (none) or a BCM GPIO number")
    mains_present_level: str = _field("low", lambda v: v in {"low", "high"}, "'low' or 'high'")
    # The firmware's under-voltage and throttling flags: "auto" (the Pi kernel's
    # /sys/devices/platform/soc/soc:firmware/get_throttled, else `vcgencmd get_throttled`),
    # "vcgencmd", an absolute path to a file holding them (e.g. "throttled=0x50005"), or "off".
    throttled_source: str = _field("auto", lambda v: v in {"auto", "vcgencmd", "off"} or v.startswith("/"),
                                   "'auto', 'vcgencmd', 'off' or an absolute path")
    poll_s: float = _field(5.0, lambda v: 0.2 <= v <= 600, "0.2 to 600 seconds")
    # On battery: "keep_all" plays everything; "emergency_and_priority" skips normal scheduled
    # items to save the battery (emergencies, priority items and operator requests still air).
    battery_policy: str = _field("keep_all", lambda v: v in {"keep_all", "emergency_and_priority"},
                                 "'keep_all' or 'emergency_and_priority'")


def _default_zones() -> list[ZoneConfig]:
    return [ZoneConfig(name="trung-tam", label="Trung tâm xã", relay_pin=17),
            ZoneConfig(name="thon-dong", label="Thôn Đông", relay_pin=27)]


@dataclasses.dataclass(frozen=True)
class Config:
    language: str = _field("vi", lambda v: v in {"vi", "en"}, "'vi' or 'en'")
    device: DeviceConfig = dataclasses.field(default_factory=DeviceConfig)
    central: CentralConfig = dataclasses.field(default_factory=CentralConfig)
    sync: SyncConfig = dataclasses.field(default_factory=SyncConfig)
    report: ReportConfig = dataclasses.field(default_factory=ReportConfig)
    tts: TTSConfig = dataclasses.field(default_factory=TTSConfig)
    audio: AudioConfig = dataclasses.field(default_factory=AudioConfig)
    schedule: ScheduleConfig = dataclasses.field(default_factory=ScheduleConfig)
    zones: list[ZoneConfig] = dataclasses.field(default_factory=_default_zones)
    control: ControlConfig = dataclasses.field(default_factory=ControlConfig)
    panel: PanelConfig = dataclasses.field(default_factory=PanelConfig)
    power: PowerConfig = dataclasses.field(default_factory=PowerConfig)
    source: str = dataclasses.field(default="<defaults>", compare=False)

    @property
    def data_path(self) -> Path:
        return Path(self.device.data_dir)

    @property
    def db_path(self) -> Path:
        return self.data_path / "state.sqlite3"

    @property
    def media_dir(self) -> Path:
        return self.data_path / "media"

    @property
    def capture_path(self) -> Path:
        return Path(self.audio.capture_dir) if self.audio.capture_dir else self.data_path / "capture"

    @property
    def socket_path(self) -> Path:
        return Path(self.control.socket_path) if self.control.socket_path else self.data_path / "control.sock"

    def zone_names(self) -> list[str]:
        return [z.name for z in self.zones]


# --------------------------------------------------------------------------- loading


_VI_UNITS = [("words per minute", "từ mỗi phút"), ("seconds", "giây"), ("minutes", "phút"),
             ("bytes", "byte"), ("a count", "số lượng"), (" ms", " mili giây")]
_VI_EXPECTED = {
    "an absolute path": "một đường dẫn tuyệt đối",
    "seconds > 0": "số giây lớn hơn 0",
    "minutes > 0": "số phút lớn hơn 0",
    "bytes > 0": "số byte lớn hơn 0",
    "a count > 0": "một số lượng lớn hơn 0",
    "at least 100": "ít nhất 100",
    "a number in (0, 1]": "một số trong khoảng (0, 1]",
    "a TCP port 1-65535": "một cổng TCP từ 1 đến 65535",
    "a BCM GPIO number 0-53": "một số chân GPIO (BCM) từ 0 đến 53",
    "-1 (none) or a BCM GPIO number": "-1 (không dùng) hoặc một số chân GPIO (BCM)",
    "'vi' or 'en'": "'vi' hoặc 'en'",
    "'espeak', 'neural' or 'piper'": "'espeak', 'neural' hoặc 'piper'",
    "0 to 50 (tens of milliseconds)": "từ 0 đến 50 (đơn vị 10 mili giây)",
    "an espeak-ng variant such as 'm3', 'f2' or ''": "một biến thể giọng espeak-ng như 'm3', 'f2' hoặc ''",
    "0 (never) or 6 to 100 words": "0 (không cắt) hoặc từ 6 đến 100 từ",
    "a voice pack id: lower-case letters, digits, '-', '_' or '.' (max 64)":
        "mã gói giọng đọc: chữ thường, chữ số, '-', '_' hoặc '.' (tối đa 64 ký tự)",
    "'auto', 'alsa' or 'capture'": "'auto', 'alsa' hoặc 'capture'",
    "'vi' (Northern), 'vi-vn-x-central' or 'vi-vn-x-south'":
        "'vi' (giọng Bắc), 'vi-vn-x-central' (giọng Trung) hoặc 'vi-vn-x-south' (giọng Nam)",
    "a list of 'HH:MM-HH:MM' windows": "một danh sách khung giờ 'HH:MM-HH:MM'",
    "a list of 'HH:MM-HH:MM' windows (empty: schedule.default_windows)":
        "một danh sách khung giờ 'HH:MM-HH:MM' (để trống: dùng schedule.default_windows)",
    "lower-case letters, digits, '-' or '_' (max 32)": "chữ thường, chữ số, '-' hoặc '_' (tối đa 32 ký tự)",
    "commune code (5 digits), '-', serial, e.g. '26881-0001'": "mã xã (5 chữ số), '-', số sê-ri, ví dụ '26881-0001'",
    "an http(s) URL such as 'https://central.example.vn'": "một địa chỉ http(s) như 'https://central.example.vn'",
    "an IANA zone name, e.g. 'Asia/Ho_Chi_Minh'": "tên múi giờ IANA, ví dụ 'Asia/Ho_Chi_Minh'",
    "a table": "một bảng",
    "an integer": "một số nguyên",
    "a number": "một số",
    "a string": "một chuỗi ký tự",
    "true or false": "true hoặc false",
    "zones with distinct names": "các vùng có tên khác nhau",
    "distinct relay and fault pins": "các chân rơ-le và chân báo lỗi khác nhau",
    "at least one [[zones]] table": "ít nhất một bảng [[zones]]",
    "'low' or 'high'": "'low' (mức thấp) hoặc 'high' (mức cao)",
    "'auto', 'vcgencmd', 'off' or an absolute path": "'auto', 'vcgencmd', 'off' hoặc một đường dẫn tuyệt đối",
    "'keep_all' or 'emergency_and_priority'": "'keep_all' (phát tất cả) hoặc 'emergency_and_priority' "
                                              "(chỉ khẩn cấp và ưu tiên)",
    "a mains-sense pin distinct from the relay and fault pins":
        "chân báo điện lưới khác các chân rơ-le và chân báo lỗi",
    "a list of IP addresses or networks, e.g. ['127.0.0.1']":
        "một danh sách địa chỉ IP hoặc dải mạng, ví dụ ['127.0.0.1']",
}


def expected_vi(expected: str) -> str:
    """Vietnamese wording of a validation expectation (operators read Vietnamese first)."""
    if expected in _VI_EXPECTED:
        return _VI_EXPECTED[expected]
    if expected.startswith("a list of "):
        return "một danh sách " + expected_vi(expected[len("a list of "):])
    match = re.match(r"^(-?[\d.]+) to (-?[\d.]+)(.*)$", expected)
    text = f"từ {match.group(1)} đến {match.group(2)}{match.group(3)}" if match else expected
    for en, vi in _VI_UNITS:
        text = text.replace(en, vi)
    return text.replace(" > 0", " lớn hơn 0")


def _type_name(tp: Any) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}.get(tp, str(tp))


def _coerce(value: Any, tp: Any, where: str, source: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise _error(source, where, "a table", value)
        return _build(tp, value, where, source)
    if origin is list:
        (inner,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise _error(source, where, f"a list of {_type_name(inner)}", value)
        return [_coerce(v, inner, f"{where}[{i}]", source) for i, v in enumerate(value)]
    if tp is bool:
        if not isinstance(value, bool):
            raise _error(source, where, "true or false", value)
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _error(source, where, "an integer", value)
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _error(source, where, "a number", value)
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise _error(source, where, "a string", value)
        return value
    if isinstance(tp, types.UnionType):  # pragma: no cover - not used by the schema today
        return value
    return value


def _error(source: str, where: str, expected: str, got: Any) -> ConfigError:
    shown = repr(got)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return ConfigError(
        f"Cấu hình sai trong {source}: khoá '{where}' phải là {expected_vi(expected)} (đang là {shown}). "
        "Hãy sửa tệp rồi khởi động lại.",
        f"Invalid configuration in {source}: key '{where}' must be {expected} (got {shown}). "
        "Fix the file and restart.",
    )


def _build(cls: type, data: Mapping[str, Any], prefix: str, source: str) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "source"}
    for key in data:
        if key not in fields:
            where = f"{prefix}.{key}" if prefix else key
            known = ", ".join(sorted(fields))
            raise ConfigError(
                f"Cấu hình sai trong {source}: khoá không được biết '{where}'. Các khoá hợp lệ: {known}.",
                f"Invalid configuration in {source}: unknown key '{where}'. Known keys: {known}.",
            )
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        if name not in data:
            continue
        where = f"{prefix}.{name}" if prefix else name
        value = _coerce(data[name], hints[name], where, source)
        check = f.metadata.get("check")
        if check is not None and not check(value):
            raise _error(source, where, f.metadata["expected"], value)
        kwargs[name] = value
    return cls(**kwargs)


def _validate_whole(config: Config) -> None:
    names = config.zone_names()
    if len(set(names)) != len(names):
        raise _error(config.source, "zones", "zones with distinct names", names)
    pins = [z.relay_pin for z in config.zones] + [z.fault_pin for z in config.zones if z.fault_pin >= 0]
    if len(set(pins)) != len(pins):
        raise _error(config.source, "zones", "distinct relay and fault pins", pins)
    if not config.zones:
        raise _error(config.source, "zones", "at least one [[zones]] table", [])
    if config.power.mains_pin >= 0 and config.power.mains_pin in pins:
        raise _error(config.source, "power.mains_pin", "a mains-sense pin distinct from the relay and fault pins",
                     config.power.mains_pin)


def from_mapping(data: Mapping[str, Any], source: str = "<mapping>", env: Mapping[str, str] | None = None) -> Config:
    """Build a validated Config from parsed TOML data, then apply secret overrides from ``env``."""
    env = os.environ if env is None else env
    merged: dict[str, Any] = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in data.items()}
    for (section, key), var in SECRET_ENV.items():
        if env.get(var):
            merged.setdefault(section, {})
            if isinstance(merged[section], dict):
                merged[section][key] = env[var]
    config = _build(Config, merged, "", source)
    config = dataclasses.replace(config, source=source)
    _validate_whole(config)
    return config


def load(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Load the configuration file (``COMMUNE_RADIO_CONFIG`` or /etc/commune-radio/appliance.toml)."""
    env = os.environ if env is None else env
    if path is None:
        path = env.get("COMMUNE_RADIO_CONFIG") or DEFAULT_CONFIG_PATH
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"Không tìm thấy tệp cấu hình {path}. Hãy chạy bộ cài đặt hoặc đặt COMMUNE_RADIO_CONFIG.",
            f"Configuration file {path} not found. Run the installer or set COMMUNE_RADIO_CONFIG.",
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"Không đọc được tệp cấu hình {path}: {exc.strerror}.",
            f"Cannot read configuration file {path}: {exc.strerror}.",
        ) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"Tệp cấu hình {path} không đúng cú pháp TOML: {exc}.",
            f"Configuration file {path} is not valid TOML: {exc}.",
        ) from None
    return from_mapping(data, str(path), env)


def as_display_dict(config: Config) -> dict[str, Any]:
    """The effective configuration as plain data with secrets masked (for check-config, status)."""
    data = dataclasses.asdict(config)
    data.pop("source", None)
    for section, key in SECRET_ENV:
        value = data.get(section, {}).get(key)
        if value:
            data[section][key] = "****" + (value[-4:] if section == "central" and key == "public_key" else "")
    return data
