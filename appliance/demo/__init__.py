"""``commune-radio demo``: the whole system on one machine, on embedded defaults.

A reference central on loopback is seeded with realistic approved bulletins (text and one
audio clip) and a registered device; the appliance's daemon syncs from it, plans, switches
(mock) relays and broadcasts into WAV files when there is no sound card; the operator panel
and central's monitoring page are served on loopback. Everything lives in one folder that
the demo prints, so each piece can be inspected afterwards.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from appliance.demo.folder import DemoFolderRefused, claim
from appliance.state import config as config_module
from appliance.state.config import Config

DEMO_DEVICE_ID = "00000-demo"
DEMO_ZONES = ["trung-tam", "thon-dong"]
BULLETINS_FILE = Path(__file__).resolve().parent / "bulletins.toml"

Printer = Callable[[str], None]


@dataclass
class DemoEnvironment:
    """What the demo set up, for printing and for tests."""

    base: Path
    central_url: str
    config_path: Path
    config: Config
    central_server: Any
    catalog: Any
    token: str
    admin_token: str = ""
    people: dict[str, str] = field(default_factory=dict)  # central accounts made for the demo: name -> password


def _iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def load_bulletins(path: Path = BULLETINS_FILE) -> list[dict[str, Any]]:
    with path.open("rb") as handle:
        return list(tomllib.load(handle)["bulletin"])


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def write_config_toml(data: dict[str, Any], path: Path) -> None:
    """Write the small subset of TOML the demo's configuration needs (tables and arrays of tables)."""
    lines: list[str] = ["# Written by `commune-radio demo`; use it with --config or COMMUNE_RADIO_CONFIG."]
    for key, value in data.items():
        if not isinstance(value, dict | list) or (isinstance(value, list) and not value
                                                  or isinstance(value, list) and not isinstance(value[0], dict)):
            lines.append(f"{key} = {_toml_value(value)}")
    for key, value in data.items():
        if isinstance(value, dict):
            lines.append(f"\n[{key}]")
            lines.extend(f"{k} = {_toml_value(v)}" for k, v in value.items())
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for entry in value:
                lines.append(f"\n[[{key}]]")
                lines.extend(f"{k} = {_toml_value(v)}" for k, v in entry.items())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _make_audio_clip(text: str, work: Path, config: Config) -> Path:
    """A recorded-programme stand-in made by the project: speech between chimes, encoded as MP3."""
    from audio.prepare import Preparer

    prepared = Preparer(config, work / "prepare").prepare_text(text)
    mp3 = work / "thoi-su.mp3"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(prepared.path),
                    "-codec:a", "libmp3lame", "-b:a", "64k", str(mp3)], check=True)
    return mp3


def seed_central(catalog: Any, bulletins: list[dict[str, Any]], *, now: datetime, work: Path,
                 config: Config) -> list[str]:
    """Create and approve the demo bulletins; returns their ids in schedule order."""
    ids = []
    for entry in bulletins:
        schedule = None
        if "start_after_s" in entry:
            start = now + timedelta(seconds=int(entry["start_after_s"]))
            schedule = {"type": "once", "starts": [_iso_z(start)], "duration_s": int(entry["duration_s"])}
        text = " ".join(entry["text"].split())
        media = None
        if entry["kind"] == "audio":
            media = catalog.add_media(_make_audio_clip(text, work, config), mime="audio/mpeg")
        catalog.add_item(item_id=entry["id"], kind=entry["kind"], title=entry["title"],
                         text=text if entry["kind"] == "text" else "", priority=entry["priority"],
                         zones=entry["zones"], media=media, schedule=schedule,
                         valid_from=_iso_z(now - timedelta(minutes=5)),
                         valid_until=_iso_z(now + timedelta(days=7)))
        catalog.approve_item(entry["id"], by="Biên tập viên Trung tâm (demo)")
        ids.append(entry["id"])
    return ids


def appliance_settings(base: Path, central_url: str, token: str, public_key: str) -> dict[str, Any]:
    return {
        "language": "vi",
        "device": {"id": DEMO_DEVICE_ID, "timezone": "Asia/Ho_Chi_Minh", "data_dir": str(base / "appliance")},
        "central": {"url": central_url, "token": token, "public_key": public_key},
        "sync": {"interval_s": 15},
        "report": {"heartbeat_interval_s": 10},
        "audio": {"output": "auto", "capture_dir": str(base / "capture")},
        # The demo may run at any hour: its broadcast window covers the whole day.
        # A real station keeps the default 05:30-21:30.
        "schedule": {"default_windows": ["00:00-00:00"]},  # equal ends: all day
        "zones": [
            {"name": "trung-tam", "label": "Trung tâm xã", "relay_pin": 17, "warmup_ms": 1000, "cooldown_ms": 1000},
            {"name": "thon-dong", "label": "Thôn Đông", "relay_pin": 27, "warmup_ms": 1000, "cooldown_ms": 1000},
        ],
        "panel": {"listen": "127.0.0.1", "port": 8080},
    }


def prepare_environment(base: Path, out: Printer) -> DemoEnvironment:
    """Fresh demo folder, seeded central running on loopback, appliance configuration written."""
    from central.admin import AdminAuth
    from central.app import create_app
    from central.catalog import Catalog
    from central.loopback import serve_in_thread

    kept = claim(base)   # refuses a folder the demo did not create; removes only its own entries
    if kept:
        out(f"• Giữ nguyên / left alone: {', '.join(kept)}")
    now = datetime.now(UTC)
    catalog = Catalog(base / "central")
    token = catalog.add_device(DEMO_DEVICE_ID, DEMO_ZONES)
    admin_token = AdminAuth(catalog.store, clock=catalog.clock).create_token()  # the JSON API (demo_lines)
    people = demo_people(catalog)
    server = serve_in_thread(create_app(base / "central"), host="127.0.0.1", port=0)
    settings = appliance_settings(base, server.url, token, catalog.public_key_b64)
    config_path = base / "appliance.toml"
    write_config_toml(settings, config_path)
    config = config_module.load(config_path, env={})
    out(f"• Trung tâm (central) chạy tại / running at {server.url}  —  khoá công khai / public key "
        f"{catalog.public_key_b64[:16]}…")
    out(f"• Thiết bị / device {DEMO_DEVICE_ID} đã đăng ký / registered, vùng loa / zones: {', '.join(DEMO_ZONES)}")
    bulletins = load_bulletins()
    ids = seed_central(catalog, bulletins, now=now, work=base / "seed", config=config)
    for entry in bulletins:
        when = (f"phát sau {entry['start_after_s']} s / plays in {entry['start_after_s']} s"
                if "start_after_s" in entry else "chưa xếp lịch / not scheduled")
        out(f"  - [{entry['priority']:8}] {entry['id']}: {entry['title']} ({entry['kind']}; {when})")
    out(f"• {len(ids)} bản tin đã duyệt và ký / bulletins approved and signed")
    from appliance.demo.intake import take_feed_article  # a feed article through intake and approval

    take_feed_article(catalog, now=now, out=out)
    return DemoEnvironment(base=base, central_url=server.url, config_path=config_path, config=config,
                           central_server=server, catalog=catalog, token=token, admin_token=admin_token,
                           people=people)


def demo_people(catalog: Any) -> dict[str, str]:
    """An admin, an editor and an approver at the demo's central, each with a random password
    (central has no default password; a real central makes its first admin with the CLI)."""
    from central.editorial.accounts import Accounts
    from central.login_throttle import LoginThrottle

    accounts = Accounts(catalog.store, clock=catalog.clock, throttle=LoginThrottle(catalog.clock))
    people = {}
    for name, roles, shown in (("quantri", ["admin"], "Quản trị viên"), ("bientap", ["editor"], "Biên tập viên"),
                               ("pheduyet", ["approver"], "Người duyệt")):
        password = secrets.token_urlsafe(9)
        accounts.add_person(name, password, roles=roles, display_name=shown, by="demo")
        people[name] = password
    return people


def describe_event(event: dict[str, Any]) -> str | None:
    """One line per daemon event worth showing in the demo's output (None to stay quiet)."""
    kind = event.get("type")
    at = str(event.get("at", ""))[11:19]
    if kind == "ready":
        return f"{at} ✔ daemon sẵn sàng / ready in {event.get('ready_s')} s"
    if kind == "relay":
        state = "BẬT / ON " if event.get("on") else "TẮT / OFF"
        return f"{at} ⚡ rơ-le / relay {event.get('zone')}: {state} ({event.get('reason')})"
    if kind == "warmup":
        return f"{at} … khởi động loa / warm-up: {event.get('title') or event.get('item_id')}"
    if kind == "play_start":
        return f"{at} ▶ đang phát / playing: {event.get('title') or event.get('item_id')}"
    if kind == "play_end":
        outcome = event.get("outcome")
        extra = f" → {event['capture']}" if event.get("capture") else ""
        reason = f" ({event['reason']})" if event.get("reason") else ""
        return f"{at} ■ kết thúc / ended: {event.get('item_id')} [{outcome}]{reason}{extra}"
    if kind == "skipped":
        return f"{at} ⤼ bỏ qua / skipped: {event.get('item_id')} ({event.get('reason')})"
    if kind == "sync":
        return f"{at} ⇅ đồng bộ / sync: {event.get('summary', '')}"
    if kind == "prepared":
        return f"{at} ♪ đã chuẩn bị âm thanh / audio prepared: {event.get('item_id')} v{event.get('version')}"
    if kind == "relay_watchdog":
        return f"{at} ⚠ rơ-le bật quá lâu, đã tắt / relay on too long, switched off: {event.get('zone')}"
    if kind == "clock_jump":
        return f"{at} ⚠ đồng hồ nhảy / clock jumped {event.get('step_s')} s"
    return None


def run(base: Path, *, duration_s: float | None, out: Printer = print) -> int:
    """Run the demo until ``duration_s`` elapses (or Ctrl-C)."""
    from appliance.daemon import Daemon

    out("=== commune-radio demo ===")
    base = base.resolve()
    out(f"Thư mục demo / demo folder: {base}")
    env = prepare_environment(base, out)
    output_lock = threading.Lock()

    def show_monitoring() -> None:
        from central.monitoring_cli import demo_lines

        try:
            lines = demo_lines(env.central_url, DEMO_DEVICE_ID, admin_token=env.admin_token)
        except Exception as exc:  # monitoring output is informative; the demo goes on
            lines = [f"⚠ giám sát không trả lời / monitoring did not answer: {exc}"]
        with output_lock:
            for line in lines:
                out(f"   {line}")

    def listener(event: dict[str, Any]) -> None:
        line = describe_event(event)
        if line:
            with output_lock:
                out(line)
        if event.get("type") == "play_end" and event.get("outcome") == "completed":
            # Heartbeat and play-log upload run every report.heartbeat_interval_s in the demo.
            timer = threading.Timer(env.config.report.heartbeat_interval_s + 3, show_monitoring)
            timer.daemon = True
            timer.start()

    daemon = Daemon(env.config, listener=listener)
    extras = _start_extras(env, out)
    started = time.monotonic()
    try:
        daemon.start()
        _print_where_to_look(env, extras, out)
        while duration_s is None or time.monotonic() - started < duration_s:
            time.sleep(0.5)
    except KeyboardInterrupt:
        out("\nDừng demo / stopping the demo…")
    finally:
        daemon.stop("demo finished")
        _print_summary(env, out)
        for stop in extras.get("stops", []):
            stop()
        env.central_server.stop()
    return 0


def _start_extras(env: DemoEnvironment, out: Printer) -> dict[str, Any]:
    """Start the operator panel if it is available (it is a separate process on a real Pi)."""
    extras: dict[str, Any] = {"stops": []}
    try:
        from appliance.panel.serve import serve_in_thread as serve_panel  # type: ignore[import-not-found]
    except ImportError:
        return extras
    running = None
    for port in (env.config.panel.port, 0):  # the configured port, else any free one
        try:
            running = serve_panel(env.config, host="127.0.0.1", port=port)
            break
        except OSError:
            continue
        except Exception as exc:  # the demo goes on without the panel, and says why
            out(f"⚠ không mở được bảng điều khiển / panel not started: {exc}")
            return extras
    if running is None:
        return extras
    extras["panel_url"] = running.url
    extras["stops"].append(running.stop)
    return extras


def _print_where_to_look(env: DemoEnvironment, extras: dict[str, Any], out: Printer) -> None:
    out("")
    out("Xem ở đâu / where to look:")
    out(f"  • âm thanh đã phát / captured audio: {env.config.capture_path}  (hoặc loa / or the sound card)")
    out(f"  • cơ sở dữ liệu / state database: {env.config.db_path}")
    out(f"  • lệnh / commands: COMMUNE_RADIO_CONFIG={env.config_path} commune-radio status | items")
    if "panel_url" in extras:
        out(f"  • bảng điều khiển / operator panel: {extras['panel_url']}")
        out(f"    lần đầu: mở {extras['panel_url']}setup để đặt mật khẩu quản trị (không có mật khẩu mặc định)")
        out(f"    first run: open {extras['panel_url']}setup to set the admin password (there is no default)")
    out(f"  • trung tâm: biên tập, duyệt, giám sát / central: editing, approval, monitoring: {env.central_url}/login")
    for (name, password), role in zip(env.people.items(), ("quản trị / admin", "biên tập / editor",
                                                            "duyệt / approver"), strict=False):
        out(f"    {role}: {name} / {password}  (chỉ cho bản demo / demo only)")
    out("Nhấn Ctrl-C để dừng / press Ctrl-C to stop.")
    out("")


def _print_summary(env: DemoEnvironment, out: Printer) -> None:
    from appliance.state.store import Store

    with Store.open(env.config.db_path) as store:
        items = store.query("SELECT id, version, state, title FROM items ORDER BY id")
        plays = store.query("SELECT item_id, outcome, trigger, actual_start, actual_end, played_s, reason "
                            "FROM play_log ORDER BY COALESCE(actual_start, scheduled_start)")
    out("")
    out("Bản tin trên thiết bị / items on the device:")
    for row in items:
        out(f"  {row['id']:22} v{row['version']}  {row['state']:14} {row['title']}")
    out("Nhật ký phát / play log:")
    if not plays:
        out("  (chưa có / none yet)")
    for row in plays:
        played = f"{row['played_s']:.1f} s" if row["played_s"] is not None else "-"
        out(f"  {row['item_id']:22} {row['outcome']:11} {row['trigger']:9} {row['actual_start'] or '-'}  {played}"
            + (f"  ({row['reason']})" if row["reason"] else ""))
    captures = sorted(env.config.capture_path.glob("*.wav")) if env.config.capture_path.exists() else []
    if captures:
        out(f"Tệp âm thanh đã ghi / captured WAV files ({len(captures)}):")
        for path in captures:
            out(f"  {path}")


def main_cli(base: Path, duration_s: float | None) -> int:
    try:
        return run(base, duration_s=duration_s)
    except DemoFolderRefused as exc:
        print(exc.vi, file=sys.stderr)
        print(exc.en, file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    finally:
        sys.stdout.flush()
