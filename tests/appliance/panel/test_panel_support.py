"""Shared set-up for the panel tests (no tests here): a panel app on a temp data dir, logged-in
test clients with real CSRF tokens, and small real audio files."""

from __future__ import annotations

import io
import json
import math
import re
import struct
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from appliance.panel import create_app
from appliance.panel.accounts import Accounts
from appliance.state import config as config_module
from appliance.state.config import Config
from appliance.state.store import Store, utc_now_iso

ADMIN = ("admin", "mật khẩu rất dài 1")
OPERATOR = ("operator1", "operator password 2")
_CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def panel_config(data_dir: Path, **overrides: Any) -> Config:
    data: dict[str, Any] = {
        "device": {"data_dir": str(data_dir)},
        "zones": [{"name": "trung-tam", "label": "Trung tâm xã", "relay_pin": 17},
                  {"name": "thon-dong", "label": "Thôn Đông", "relay_pin": 27}],
    }
    for section, values in overrides.items():
        data.setdefault(section, {}).update(values)
    return config_module.from_mapping(data, "<panel test>", env={})


@dataclass
class Rig:
    app: Flask
    store: Store
    config: Config
    data_dir: Path

    def client(self) -> FlaskClient:
        return self.app.test_client()

    def login(self, who: tuple[str, str] = ADMIN) -> FlaskClient:
        client = self.client()
        token = csrf_of(client, "/login")
        response = client.post("/login", data={"csrf_token": token, "username": who[0], "password": who[1]})
        assert response.status_code == 302, response.text[:500]
        return client

    def count(self, table: str) -> int:
        return int(self.store.query_one(f"SELECT COUNT(*) FROM {table}")[0])  # type: ignore[index]


def csrf_of(client: FlaskClient, path: str = "/") -> str:
    page = client.get(path)
    match = _CSRF_RE.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {path} ({page.status_code})"
    return match.group(1)


def make_rig(tmp_path: Path, *, users: bool = True, **overrides: Any) -> Rig:
    config = panel_config(tmp_path / "data", **overrides)
    store = Store.open(config.db_path)
    app = create_app(config, store=store, testing=True)
    if users:
        accounts = Accounts(store)
        accounts.create_first_admin(ADMIN[0], ADMIN[1], ADMIN[1])
        accounts.create_user(OPERATOR[0], OPERATOR[1], "operator")
    return Rig(app, store, config, tmp_path / "data")


def add_item(store: Store, item_id: str, *, title: str = "Bản tin", text: str = "Xin chào bà con.",
             source: str = "central", state: str = "ready", priority: str = "normal") -> None:
    now = utc_now_iso()
    with store.transaction() as tx:
        tx.execute(
            "INSERT INTO items (id, version, kind, title, text, priority, zones, state, source, received_at, updated_at)"
            " VALUES (?, 1, 'text', ?, ?, ?, '[\"*\"]', ?, ?, ?, ?)",
            (item_id, title, text, priority, state, source, now, now))


def wav_bytes(seconds: float = 1.0, rate: int = 16000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        frames = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
                          for i in range(int(seconds * rate)))
        out.writeframes(frames)
    return buffer.getvalue()


def audit_actions(store: Store) -> list[str]:
    return [r["action"] for r in store.query("SELECT action FROM panel_audit_log ORDER BY id")]


def json_body(response: Any) -> dict[str, Any]:
    return json.loads(response.get_data(as_text=True))
