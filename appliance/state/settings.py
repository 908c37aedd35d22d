"""Settings an admin changes in the panel, kept in the store as overrides of the config file.

The file under /etc stays the installer's; the panel writes ``panel_settings`` rows
(dotted key -> JSON value). ``apply(config, overrides)`` rebuilds a Config through the
same strict validation as the file, so an override can never produce a config the
daemon would refuse. The daemon applies them at start, on ``reload`` and whenever
``version(store)`` changes (checked before every plan, so a reload request lost on the way
cannot leave old windows in force); ``sources`` says where each effective value comes from
(``check-config``, ``status``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from appliance.state.config import Config, from_mapping
from appliance.state.store import Store, utc_now_iso
from protocol.errors import ConfigError, ValidationError

# Only these keys may be changed from the panel (no secrets, pins or paths).
EDITABLE = {
    "tts.voice", "tts.rate", "sync.interval_s", "report.heartbeat_interval_s", "schedule.default_windows",
    "audio.volume",
}
ZONE_WINDOWS_PREFIX = "zones."  # 'zones.<name>.windows'


def is_editable(key: str, config: Config) -> bool:
    if key in EDITABLE:
        return True
    parts = key.split(".")
    return len(parts) == 3 and parts[0] == "zones" and parts[2] == "windows" and parts[1] in config.zone_names()


def load(store: Store) -> dict[str, Any]:
    try:
        rows = store.query("SELECT key, value FROM panel_settings")
    except Exception:  # noqa: BLE001 - a store without migration 0004 simply has no overrides
        return {}
    out: dict[str, Any] = {}
    for row in rows:
        try:
            out[row["key"]] = json.loads(row["value"])
        except ValueError:
            continue
    return out


def version(store: Store) -> str:
    """A fingerprint of the stored overrides: it changes whenever the panel saves or removes one.
    One small read (a handful of rows), cheap enough to check before every plan."""
    try:
        rows = store.query("SELECT key, value, updated_at FROM panel_settings ORDER BY key")
    except Exception:  # noqa: BLE001 - a store without migration 0004 has no overrides
        return ""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(f"{row['key']}\0{row['value']}\0{row['updated_at']}\n".encode())
    return digest.hexdigest()[:16]


def _editable_keys(config: Config) -> list[str]:
    return sorted(EDITABLE) + [f"zones.{name}.windows" for name in config.zone_names()]


def value_of(config: Config, key: str) -> Any:
    parts = key.split(".")
    if parts[0] == "zones":
        return next((z.windows for z in config.zones if z.name == parts[1]), None)
    return getattr(getattr(config, parts[0]), parts[1])


def sources(file_config: Config, store: Store) -> list[dict[str, Any]]:
    """Every setting the panel may change: its effective value and where it comes from
    (``file`` or ``panel``, with who saved it and when; an invalid override says so and the
    file's value stays in force)."""
    effective = effective_config(file_config, store)
    invalid = effective is file_config and bool(load(store))
    try:
        rows = {r["key"]: r for r in store.query("SELECT key, updated_at, updated_by FROM panel_settings")}
    except Exception:  # noqa: BLE001 - no migration 0004: nothing overridden
        rows = {}
    out = []
    for key in _editable_keys(file_config):
        row = rows.get(key)
        entry: dict[str, Any] = {"key": key, "value": value_of(effective, key), "source": "file",
                                 "file_value": value_of(file_config, key)}
        if row is not None and not invalid:
            entry |= {"source": "panel", "updated_at": row["updated_at"], "updated_by": row["updated_by"]}
        elif row is not None:
            entry |= {"source": "file", "ignored_override": True}
        out.append(entry)
    return out


def apply(config: Config, overrides: Mapping[str, Any]) -> Config:
    """A new Config with ``overrides`` applied and the whole result validated again."""
    if not overrides:
        return config
    data = dataclasses.asdict(config)
    source = data.pop("source", config.source)
    for key, value in overrides.items():
        if not is_editable(key, config):
            continue
        parts = key.split(".")
        if parts[0] == "zones":
            for zone in data["zones"]:
                if zone["name"] == parts[1]:
                    zone["windows"] = value
        else:
            data[parts[0]][parts[1]] = value
    try:
        return from_mapping(data, f"{source} + panel settings", env={})
    except ConfigError as exc:
        raise ValidationError(exc.vi, exc.en, code="invalid_input.settings") from None


def effective_config(config: Config, store: Store) -> Config:
    """The config the daemon should run with: file + panel overrides (invalid overrides ignored)."""
    try:
        return apply(config, load(store))
    except ValidationError:
        return config


def save(store: Store, config: Config, changes: Mapping[str, Any], *, actor: str,
         audit: Any = None) -> Config:
    """Validate ``changes`` together with the existing overrides, then store them atomically."""
    unknown = sorted(k for k in changes if not is_editable(k, config))
    if unknown:
        raise ValidationError(f"Không thể sửa: {', '.join(unknown)}.", f"Not editable: {', '.join(unknown)}.",
                              code="invalid_input.settings")
    merged = {**load(store), **changes}
    result = apply(config, merged)  # raises before anything is written
    now = utc_now_iso()
    with store.transaction(durable=True) as tx:
        for key, value in changes.items():
            tx.execute("INSERT INTO panel_settings (key, value, updated_at, updated_by) VALUES (?, ?, ?, ?)"
                       " ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at,"
                       " updated_by = excluded.updated_by",
                       (key, json.dumps(value, ensure_ascii=False), now, actor))
        store.log_event("settings.changed", f"panel settings changed by {actor}",
                        {"actor": actor, "changes": dict(changes)}, conn=tx)
        if audit is not None:
            audit(tx)
    return result
