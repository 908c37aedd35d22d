"""Fleet monitoring for thousands of devices over real HTTP, on both engines: the paged,
filtered, sorted fleet (JSON and page) in a fixed number of queries, counts by province, the
alerts view, per-device history with item titles and local times, bulk registration from CSV
(CLI and page) with a token file per device."""

from __future__ import annotations

import io
import json
import re
import zipfile
import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import event

from central import cli
from central.fleet import stale_versions, version_key
from tests.central.test_monitoring import heartbeat, login, play, post
from tests.conftest import CentralHandle

PROVINCES = ("Hà Nội", "Lào Cai", "Cà Mau")


def register(central: CentralHandle, count: int, *, start: int = 1) -> dict[str, str]:
    devices = [(f"{10000 + (i % 7)}-{i:04d}", ["thon-1"], PROVINCES[i % 3]) for i in range(start, start + count)]
    return central.catalog.add_devices(devices)


def beat(central: CentralHandle, device_id: str, token: str, **changes: Any) -> None:
    answer = post(central, "heartbeat", heartbeat(device_id=device_id, **changes), token=token, device_id=device_id)
    assert answer.status_code == 200, answer.text


def api(central: CentralHandle, path: str, **params: Any) -> requests.Response:
    return requests.get(f"{central.url}{path}", params=params, headers=central.admin_headers(), timeout=30)


@contextmanager
def counted_queries(central: CentralHandle) -> Iterator[list[str]]:
    engine = central.catalog.store.database.engine
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
def fleet(central: CentralHandle) -> dict[str, str]:
    """60 devices in 3 provinces: 40 heard from (some with problems, two software versions),
    10 of them then silent for an hour, 20 never seen."""
    tokens = register(central, 60)
    ids = sorted(tokens)
    for i, device_id in enumerate(ids[:40]):
        changes: dict[str, Any] = {"software_version": "0.9.0" if i % 4 == 0 else "0.10.1"}
        if i % 10 == 1:
            changes["clock"] = {"trusted": False, "offset_s": 0.0, "source": "none"}
        if i % 10 == 2:
            changes["disk"] = {"free_bytes": 1000, "total_bytes": 31_000_000_000}
        if i % 10 == 3:
            changes["problems"] = ["relay_stuck"]
        beat(central, device_id, tokens[device_id], **changes)
    central.clock.advance(3600)
    for device_id in ids[10:40]:
        beat(central, device_id, tokens[device_id], software_version="0.9.0" if ids.index(device_id) % 4 == 0
             else "0.10.1")
    return tokens


def test_fleet_pages_filters_sorts_and_counts(central: CentralHandle, fleet: dict[str, str]) -> None:
    body = api(central, "/api/monitor/devices", limit=25).json()
    assert body["total"] == 61 and body["pages"] == 3 and len(body["devices"]) == 25   # + the conftest device
    ids = [d["device_id"] for d in body["devices"]]
    assert ids == sorted(ids)
    third = api(central, "/api/monitor/devices", limit=25, page=3).json()
    assert len(third["devices"]) == 11 and third["total"] == 61
    every = ids + [d["device_id"] for d in api(central, "/api/monitor/devices", limit=25, page=2).json()["devices"]] \
        + [d["device_id"] for d in third["devices"]]
    assert len(set(every)) == 61

    by_status = {s: api(central, "/api/monitor/devices", status=s, limit=500).json() for s in
                 ("online", "problem", "offline", "never_seen")}
    assert {s: b["total"] for s, b in by_status.items()} == {"online": 30, "problem": 0, "offline": 10,
                                                            "never_seen": 21}
    assert all(d["status"] == "offline" for d in by_status["offline"]["devices"])

    hanoi = api(central, "/api/monitor/devices", province="Hà Nội", limit=500).json()
    assert hanoi["total"] == 20 and {d["province"] for d in hanoi["devices"]} == {"Hà Nội"}
    commune = api(central, "/api/monitor/devices", commune="10003", limit=500).json()
    assert commune["total"] > 0 and {d["commune"] for d in commune["devices"]} == {"10003"}
    old = api(central, "/api/monitor/devices", software_version="0.9.0", limit=500).json()
    assert old["total"] == 10 and {d["software_version"] for d in old["devices"]} == {"0.9.0"}

    newest_first = api(central, "/api/monitor/devices", sort="-last_seen_at", status="offline").json()["devices"]
    seen = [d["last_seen_at"] for d in newest_first]
    assert seen == sorted(seen, reverse=True)

    counts = {c["province"]: c for c in body["counts_by_province"]}
    assert sum(c["total"] for c in counts.values()) == 61
    assert counts["Hà Nội"]["total"] == 20
    assert sum(c["offline"] for c in counts.values()) == 10
    assert sum(c["never_seen"] for c in counts.values()) == 21


def test_problem_filter_and_problem_status(central: CentralHandle) -> None:
    tokens = register(central, 6)
    ids = sorted(tokens)
    beat(central, ids[0], tokens[ids[0]], clock={"trusted": False, "offset_s": 0.0, "source": "none"})
    beat(central, ids[1], tokens[ids[1]], disk={"free_bytes": 1000, "total_bytes": 31_000_000_000})
    beat(central, ids[2], tokens[ids[2]], problems=["relay_stuck"])
    beat(central, ids[3], tokens[ids[3]])
    problem = api(central, "/api/monitor/devices", status="problem").json()
    assert {d["device_id"] for d in problem["devices"]} == set(ids[:3])
    disk = api(central, "/api/monitor/devices", problem="disk_low").json()
    assert [d["device_id"] for d in disk["devices"]] == [ids[1]] and disk["devices"][0]["status"] == "disk_low"
    assert api(central, "/api/monitor/devices", problem="any").json()["total"] == 3
    # A label is matched whole: "disk" is not "disk_low".
    assert api(central, "/api/monitor/devices", problem="disk").json()["total"] == 0


@pytest.mark.parametrize("params", [{"status": "asleep"}, {"sort": "token_hash"}, {"limit": "100000"},
                                    {"page": "0"}, {"commune": "12"}, {"seen_before": "yesterday"},
                                    {"problem": "a'; drop table devices"}])
def test_bad_fleet_queries_are_refused_with_a_reason(central: CentralHandle, params: dict[str, str]) -> None:
    answer = api(central, "/api/monitor/devices", **params)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "bad_request"
    page = requests.get(f"{central.url}/monitor", params=params, headers=central.admin_headers(), timeout=30)
    assert page.status_code == 400 and 'id="error"' in page.text


def test_a_fleet_page_costs_the_same_queries_whatever_the_fleet_size(central: CentralHandle,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    views = central.server.app.extensions["central.fleet"]
    register(central, 20)
    views._counts.clear()   # count every time, in the request (a stale count is redone in the background)
    with counted_queries(central) as small:
        assert api(central, "/api/monitor/devices", limit=3, province="Lào Cai").status_code == 200
    register(central, 400, start=100)
    views._counts.clear()
    with counted_queries(central) as large:
        answer = api(central, "/api/monitor/devices", limit=100, province="Lào Cai")
    assert answer.status_code == 200 and len(answer.json()["devices"]) == 100
    device_queries = [s for s in large if "device" in s]
    assert len(device_queries) == len([s for s in small if "device" in s]) <= 4, large


def test_fleet_page_shows_filters_pages_and_counts(central: CentralHandle, fleet: dict[str, str]) -> None:
    page = requests.get(f"{central.url}/monitor", params={"province": "Lào Cai", "limit": "8"},
                        headers=central.admin_headers(), timeout=30)
    assert page.status_code == 200
    rows = re.findall(r'<tr data-device="([^"]+)"', page.text)
    assert len(rows) == 8
    assert "trang / page 1 / 3" in page.text
    assert 'rel="next"' in page.text and "province=L%C3%A0o+Cai" in page.text
    assert re.search(r'<tr data-province="Hà Nội"><td>.*?</td><td>20</td>', page.text)
    assert "Content-Security-Policy" in page.headers and "'unsafe-inline'" not in \
        page.headers["Content-Security-Policy"].split("script-src")[1].split(";")[0]


def test_alerts_name_each_reason(central: CentralHandle) -> None:
    tokens = register(central, 8)
    ids = sorted(tokens)
    beat(central, ids[0], tokens[ids[0]])                                              # goes silent
    central.clock.advance(3600)
    beat(central, ids[1], tokens[ids[1]], clock={"trusted": False, "offset_s": 0.0, "source": "none"})
    beat(central, ids[2], tokens[ids[2]], disk={"free_bytes": 1000, "total_bytes": 31_000_000_000})
    beat(central, ids[3], tokens[ids[3]], amp_faults=["thon-1"])
    beat(central, ids[4], tokens[ids[4]], software_version="0.0.9")
    beat(central, ids[5], tokens[ids[5]], software_version="0.10.0")
    beat(central, ids[6], tokens[ids[6]], software_version="0.10.0")
    skipped = play("p-1", at="2025-06-01T06:35:01Z")
    skipped["data"]["outcome"] = "skipped"
    logs_at = central.clock().strftime("%Y-%m-%dT%H:%M:%SZ")
    skipped["at"] = skipped["data"]["ended_at"] = logs_at
    answer = post(central, "logs", {"entries": [skipped]}, token=tokens[ids[6]], device_id=ids[6])
    assert answer.status_code == 200 and answer.json()["acknowledged"] == ["p-1"]

    body = api(central, "/api/monitor/alerts", offline_minutes=30).json()
    reasons = {a["device_id"]: a["alerts"] for a in body["alerts"]}
    assert body["newest_software"] == "0.10.0"
    assert reasons[ids[0]] == ["offline", "stale_software"]   # 0.1.0 from the helper's heartbeat
    assert "clock_untrusted" in reasons[ids[1]] and "disk_low" in reasons[ids[2]]
    assert "amplifier_fault" in reasons[ids[3]]
    assert reasons[ids[4]] == ["stale_software"]
    assert reasons[ids[6]] == ["failed_play"]
    assert ids[5] not in reasons and ids[7] not in reasons      # fine / never seen
    # Offline for less than N minutes is not an alert yet.
    assert ids[0] not in {a["device_id"] for a in api(central, "/api/monitor/alerts",
                                                       offline_minutes=120).json()["alerts"]
                          if "offline" in a["alerts"]}
    page = requests.get(f"{central.url}/monitor/alerts", headers=central.admin_headers(), timeout=30)
    assert page.status_code == 200 and f'data-device="{ids[6]}"' in page.text
    assert '<script src="/monitor/static/alerts.js"' in page.text and "<script>" not in page.text
    script = requests.get(f"{central.url}/monitor/static/alerts.js", headers=central.admin_headers(), timeout=30)
    assert script.status_code == 200 and "fetch(" in script.text and "innerHTML" not in script.text


def test_device_history_shows_titles_and_local_times(central: CentralHandle) -> None:
    item_id = central.text_item("Lịch tiêm chủng tháng 6")
    assert post(central, "heartbeat", heartbeat()).status_code == 200
    answer = post(central, "logs", {"entries": [play("p-1", item_id=item_id, at="2025-06-01T06:35:01Z")]})
    assert answer.status_code == 200
    page = requests.get(f"{central.url}/monitor/devices/{central.device_id}", headers=central.admin_headers(),
                        timeout=30)
    assert "Lịch tiêm chủng tháng 6" in page.text
    assert "2025-06-01 13:35:01" in page.text                  # 06:35:01Z in Asia/Ho_Chi_Minh
    history = re.search(r'<table id="history">.*?</table>', page.text, re.S)
    local_day = central.clock().astimezone(zoneinfo.ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%Y-%m-%d")
    assert history and local_day in history.group(0)
    detail = api(central, f"/api/monitor/devices/{central.device_id}").json()
    assert detail["plays"][0]["title"] == "Lịch tiêm chủng tháng 6" and len(detail["history"]) == 1


CSV = "device_id,zones,province\n26881-0101,thon-1 thon-2,Hà Nội\n26881-0102,thon-3,Hà Nội\n\n27001-0001,xom-a;xom-b,Lào Cai\n"


def test_bulk_registration_from_csv_on_the_command_line(central: CentralHandle, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "devices.csv"
    source.write_text("\ufeff" + CSV, encoding="utf-8")
    tokens_dir = tmp_path / "tokens"
    code = cli.main(["device", "import", str(source), "--tokens-dir", str(tokens_dir), *central.cli_args()])
    assert code == 0, capsys.readouterr().err
    files = sorted(p.name for p in tokens_dir.iterdir())
    assert files == ["26881-0101.token", "26881-0102.token", "27001-0001.token"]
    for path in tokens_dir.iterdir():
        assert path.stat().st_mode & 0o777 == 0o600
        token = path.read_text().split("COMMUNE_RADIO_DEVICE_TOKEN=")[1].strip()
        device = central.catalog.authenticate(token)
        assert device is not None and f"{device.id}.token" == path.name
    assert central.catalog.get_device("27001-0001").zones == ("xom-a", "xom-b")
    lao_cai = api(central, "/api/monitor/devices", province="Lào Cai").json()["devices"]
    assert [d["device_id"] for d in lao_cai] == ["27001-0001"]
    # Again: every device exists (or its token file does): nothing registered, nothing overwritten.
    before = {p.name: p.read_text() for p in tokens_dir.iterdir()}
    assert cli.main(["device", "import", str(source), "--tokens-dir", str(tokens_dir), *central.cli_args()]) == 2
    assert cli.main(["device", "import", str(source), "--tokens-dir", str(tmp_path / "t2"), *central.cli_args()]) == 2
    assert {p.name: p.read_text() for p in tokens_dir.iterdir()} == before and not (tmp_path / "t2").exists()


@pytest.mark.parametrize("bad", ["id,zones\n26881-0101,thon-1\n", "device_id,zones\n26881-0101,\n",
                                 "device_id,zones\n26881-0101,thon-1\nnot-a-device,thon-1\n",
                                 "device_id,zones\n26881-0101,thon-1\n26881-0101,thon-2\n",
                                 "device_id,zones\n26881-0101,Thôn 1\n"])
def test_a_bad_csv_registers_nothing(central: CentralHandle, tmp_path: Path, bad: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "devices.csv"
    source.write_text(bad, encoding="utf-8")
    code = cli.main(["device", "import", str(source), "--tokens-dir", str(tmp_path / "t"), *central.cli_args()])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("Lỗi: ") and "Error: " in err
    assert central.catalog.get_device("26881-0101") is None and not (tmp_path / "t").exists()


def test_bulk_registration_page_returns_the_token_files(central: CentralHandle) -> None:
    browser = login(central)
    form = browser.get(f"{central.url}/monitor/devices/import", timeout=30)
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    files = {"file": ("devices.csv", CSV.encode(), "text/csv")}
    refused = browser.post(f"{central.url}/monitor/devices/import", files=files, timeout=30)
    assert refused.status_code == 403 and central.catalog.get_device("26881-0101") is None   # no CSRF token
    answer = browser.post(f"{central.url}/monitor/devices/import", files=files, data={"csrf": csrf}, timeout=30)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    assert sorted(archive.namelist()) == ["26881-0101.token", "26881-0102.token", "27001-0001.token"]
    token = archive.read("26881-0102.token").decode().split("=")[1].strip()
    assert central.catalog.authenticate(token).id == "26881-0102"
    again = browser.post(f"{central.url}/monitor/devices/import", files=files, data={"csrf": csrf}, timeout=30)
    assert again.status_code == 400 and "26881-0101" in again.text and 'id="error"' in again.text


def test_bulk_registration_needs_the_admin_role_and_a_monitor_token_reads_the_fleet(central: CentralHandle) -> None:
    editor = login(central, ("editor", "approver"))
    monitor_token = central.server.app.extensions["central.admin"].create_token("grafana", ("monitor",))
    bearer = {"Authorization": f"Bearer {monitor_token}"}
    files = {"file": ("devices.csv", CSV.encode(), "text/csv")}
    url = f"{central.url}/monitor/devices/import"
    assert editor.get(url, timeout=30).status_code == 403
    assert editor.post(url, files=files, data={"csrf": editor.csrf}, timeout=30).status_code == 403
    assert requests.get(url, headers=bearer, timeout=30).status_code == 403
    assert requests.post(url, files=files, headers=bearer, timeout=30).status_code == 403
    assert central.catalog.get_device("26881-0101") is None
    for path in ("/monitor", "/monitor/alerts", "/monitor/reports", "/monitor/reports?province=H%C3%A0+N%E1%BB%99i",
                 "/api/monitor/devices", "/api/monitor/alerts"):
        assert requests.get(central.url + path, headers=bearer, timeout=30).status_code == 200, path
        assert editor.get(central.url + path, timeout=30).status_code == 200, path
        assert requests.get(central.url + path, timeout=30, allow_redirects=False).status_code in (303, 401), path


def test_version_order() -> None:
    assert version_key("0.10.0") > version_key("0.9.9") > version_key("0.9")
    assert stale_versions([("0.9.0", 3), ("0.10.1", 5), ("0.10.0", 1)]) == ("0.10.1", ["0.9.0", "0.10.0"])
    assert stale_versions([]) == (None, [])
    assert json.dumps(stale_versions([("1.0", 1)])) == '["1.0", []]'


def test_counts_are_kept_for_a_while_and_say_when(central: CentralHandle) -> None:
    tokens = register(central, 30)
    first = api(central, "/api/monitor/devices", limit=5).json()
    device_id = sorted(tokens)[0]
    beat(central, device_id, tokens[device_id])
    central.server.app.extensions["central.monitor"].flush_heartbeats()
    with counted_queries(central) as queries:
        again = api(central, "/api/monitor/devices", limit=5).json()
    assert again["counts_as_of"] == first["counts_as_of"] and again["counts_by_province"] == first["counts_by_province"]
    assert len([q for q in queries if "device" in q]) == 1            # the page itself, read fresh
    views = central.server.app.extensions["central.fleet"]
    views._counts.clear()   # as when 30 s have passed
    fresh = api(central, "/api/monitor/devices", limit=5).json()
    assert sum(c["online"] for c in fresh["counts_by_province"]) == 1


def page_plan(central: CentralHandle, query: dict[str, str], *, pg_settings: tuple[str, ...] = ()) -> str:
    """The database's plan for the fleet page ``query`` (literal values, as the page sends them)."""
    from datetime import UTC, datetime

    from sqlalchemy import text

    from central.fleet import parse_query

    store = central.server.app.extensions["central.store"]
    with store.read() as tx:
        statement = tx.fleet.page_statement(parse_query(query), datetime.now(UTC))
        sql = str(statement.compile(dialect=tx.conn.dialect, compile_kwargs={"literal_binds": True}))
        for setting in pg_settings:
            tx.conn.exec_driver_sql(setting)
        prefix = "EXPLAIN " if store.is_postgresql else "EXPLAIN QUERY PLAN "
        return "\n".join(str(row[-1]) for row in tx.conn.execute(text(prefix + sql)))


def test_fleet_pages_are_index_walks_not_sorts(central: CentralHandle) -> None:
    """A page of a broad status filter walks the devices in id order (SQLite cannot tell a broad
    status from a narrow one); a page sorted by last seen, either way, walks
    device_presence_last_seen_id (never-seen devices first going up, last going down)."""
    register(central, 5)
    store = central.server.app.extensions["central.store"]
    if store.is_postgresql:
        # Tiny tables make any plan cheap: forbid sorting and sequential scans, so the plan shows
        # whether an index CAN give the page's order (it could not with "last_seen_at IS NULL").
        settings = ("SET LOCAL enable_sort = off", "SET LOCAL enable_seqscan = off")
        for sort in ("last_seen_at", "-last_seen_at"):
            plan = page_plan(central, {"sort": sort, "software_version": "0.10.1"}, pg_settings=settings)
            assert "device_presence_last_seen_id" in plan and "Sort" not in plan, plan
    else:
        plan = page_plan(central, {"status": "offline"})
        assert "TEMP B-TREE" not in plan and "device_presence_offline_at" not in plan, plan
        for sort in ("last_seen_at", "-last_seen_at"):
            plan = page_plan(central, {"sort": sort})
            assert "device_presence_last_seen_id" in plan and "TEMP B-TREE" not in plan, plan


def test_an_old_count_is_shown_while_it_is_counted_again(central: CentralHandle) -> None:
    """Past its time a count is redone in the background; the page does not wait for it."""
    import time

    tokens = register(central, 30)
    views = central.server.app.extensions["central.fleet"]
    first = api(central, "/api/monitor/devices", limit=5).json()
    assert sum(c["online"] for c in first["counts_by_province"]) == 0
    device_id = sorted(tokens)[0]
    beat(central, device_id, tokens[device_id])
    central.server.app.extensions["central.monitor"].flush_heartbeats()
    views._counts = {key: (0.0, at, value) for key, (_, at, value) in views._counts.items()}   # all past due
    again = api(central, "/api/monitor/devices", limit=5).json()
    assert again["counts_as_of"] == first["counts_as_of"]          # the old count, at once
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        latest = api(central, "/api/monitor/devices", limit=5).json()
        if latest["counts_as_of"] != first["counts_as_of"]:
            break
        time.sleep(0.05)
    assert sum(c["online"] for c in latest["counts_by_province"]) == 1
    # A total by status and province is read off those counts (no count query of its own).
    assert api(central, "/api/monitor/devices", limit=1, status="never_seen").json()["total"] == 30   # 30 + the fixture's, one seen


def test_warm_counts_ahead_of_the_first_page(central: CentralHandle) -> None:
    register(central, 3)
    views = central.server.app.extensions["central.fleet"]
    views._counts.clear()
    views.warm()
    with counted_queries(central) as queries:
        answer = api(central, "/api/monitor/devices", limit=1).json()
    assert answer["total"] == 4 and sum(c["total"] for c in answer["counts_by_province"]) == 4   # and the fixture's
    assert len([q for q in queries if "device" in q]) == 1     # the page only
