"""Proof-of-play reports per commune and per province, on both engines: the printable page and
the .xlsx workbook (read back with openpyxl) agree with the uploaded plays, in local time, with
Vietnamese headings and number formats; a bad request says why."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
import requests
from openpyxl import load_workbook

from central.play_reports import vi_number
from tests.central.test_monitoring import play, post
from tests.conftest import CentralHandle


@pytest.fixture
def plays(central: CentralHandle) -> str:
    item_id = central.text_item("Lịch tiêm chủng tháng 6")
    tokens = central.catalog.add_devices([("26881-0101", ["thon-1"], "Hà Nội"), ("26881-0102", ["thon-1"], "Hà Nội"),
                                          ("27001-0001", ["thon-1"], "Lào Cai")])
    for device_id, entries in (("26881-0101", [play("a", item_id, "2025-06-01T23:30:00Z"),      # 06:30 on 2 June
                                               play("b", item_id, "2025-06-02T10:00:00Z")]),
                               ("26881-0102", [play("c", item_id, "2025-06-02T10:00:05Z")]),
                               ("27001-0001", [play("d", item_id, "2025-06-02T10:00:00Z")])):
        answer = post(central, "logs", {"entries": entries}, token=tokens[device_id], device_id=device_id)
        assert answer.status_code == 200
    skipped = play("e", item_id, "2025-06-02T11:00:00Z")
    skipped["data"]["outcome"] = "skipped"
    post(central, "logs", {"entries": [skipped, play("f", item_id, "2025-05-31T10:00:00Z")]},
         token=tokens["26881-0102"], device_id="26881-0102")
    return item_id


def get(central: CentralHandle, path: str, **params: str) -> requests.Response:
    return requests.get(f"{central.url}{path}", params=params, headers=central.admin_headers(), timeout=30)


def test_commune_report_page_counts_plays_in_local_days(central: CentralHandle, plays: str) -> None:
    page = get(central, "/monitor/reports", commune="26881", **{"from": "2025-06-02", "to": "2025-06-02"})
    assert page.status_code == 200
    assert "Lịch tiêm chủng tháng 6" in page.text and "Xã / Commune 26881" in page.text
    # 2 June local: the 06:30 play of 26881-0101 (23:30Z the day before) counts; 31 May does not.
    assert "phát trọn" in page.text and "bỏ qua" in page.text
    assert "02/06/2025 06:30:00" in page.text and "02/06/2025 17:00:05" in page.text
    assert "27001" not in page.text.split('id="report"')[1]
    totals = page.text.split('id="totals"')[1]
    assert "<td>4</td><td>3</td>" in totals and "75,0 %" in totals


def test_province_workbook_matches_the_plays(central: CentralHandle, plays: str) -> None:
    answer = get(central, "/monitor/reports.xlsx", province="Hà Nội", **{"from": "2025-05-25", "to": "2025-06-05"})
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(answer.content))
    detail, totals = book["Chi tiết"], book["Tổng theo xã"]
    assert "Tỉnh / Province Hà Nội" in detail["A1"].value
    header = [c.value for c in detail[4]]
    assert header[0] == "Xã / Commune" and header[5] == "Lượt phát / Plays"
    rows = [[c.value for c in row] for row in detail.iter_rows(min_row=5)]
    completed = next(r for r in rows if r[4] == "phát trọn")
    assert completed[:7] == ["26881", "Hà Nội", "Lịch tiêm chủng tháng 6", plays, "phát trọn", 4, 2]
    assert completed[7] == datetime(2025, 5, 31, 17, 0, 0)                 # local time, in Excel's own format
    assert [r[4] for r in rows] == ["phát trọn", "bỏ qua"]
    (total,) = [[c.value for c in row] for row in totals.iter_rows(min_row=2)]
    assert total[:4] == ["26881", "Hà Nội", 5, 4] and total[4] == pytest.approx(0.8)


@pytest.mark.parametrize("params", [{}, {"commune": "26881", "province": "Hà Nội"}, {"commune": "268"},
                                    {"province": "Hà Nội", "from": "2025-06-05", "to": "2025-06-01"},
                                    {"province": "Hà Nội", "from": "hôm qua"}])
def test_bad_report_requests_say_why(central: CentralHandle, params: dict[str, str]) -> None:
    answer = get(central, "/monitor/reports.xlsx", **params)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "bad_request"
    if params:
        page = get(central, "/monitor/reports", **params)
        assert page.status_code == 400 and 'id="error"' in page.text


def test_vietnamese_numbers() -> None:
    assert vi_number(1234567) == "1.234.567" and vi_number(75, 1) == "75,0" and vi_number(0.5, 2) == "0,50"
