"""Proof-of-play reports for a commune or a province: a printable page and an .xlsx workbook.

The period is given in local dates (Asia/Ho_Chi_Minh, both days included); central reads the
play log in UTC and shows local times. Rows: one per commune, item and outcome (how many plays,
how many devices, first and last); a total per commune. Headings are Vietnamese first, English
after, as on every operator page; numbers use Vietnamese formats on the page (decimal comma,
dot between thousands).
"""

from __future__ import annotations

import io
import re
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from central.store import Store
from protocol.errors import ValidationError

LOCAL = zoneinfo.ZoneInfo("Asia/Ho_Chi_Minh")
MAX_DAYS = 400
OUTCOMES_VI = {"completed": "phát trọn", "cut": "bị ngắt", "stopped": "dừng tay", "error": "lỗi",
               "stalled": "treo", "overrun": "quá giờ", "skipped": "bỏ qua"}
HEADINGS = ("Xã / Commune", "Tỉnh / Province", "Bản tin / Item", "Mã bản tin / Item id", "Kết quả / Outcome",
            "Lượt phát / Plays", "Số cụm / Devices", "Lần đầu / First (giờ VN)", "Lần cuối / Last (giờ VN)")
_COMMUNE_RE = re.compile(r"^[0-9]{5}$")


def vi_number(value: int | float, decimals: int = 0) -> str:
    """1234567.5 → '1.234.567,5' (Vietnamese: dot between thousands, decimal comma)."""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def local_text(moment: datetime | None) -> str:
    return moment.astimezone(LOCAL).strftime("%d/%m/%Y %H:%M:%S") if moment else "—"


@dataclass(frozen=True)
class ReportQuery:
    commune: str | None
    province: str | None
    first_day: date
    last_day: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time(0), LOCAL)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last_day + timedelta(days=1), time(0), LOCAL)

    @property
    def scope(self) -> str:
        return f"Xã / Commune {self.commune}" if self.commune else f"Tỉnh / Province {self.province}"


def parse_report_query(args: Mapping[str, str], today: date) -> ReportQuery:
    """commune=NNNNN or province=…, from=YYYY-MM-DD, to=YYYY-MM-DD (local days; default the last 7)."""
    commune = (args.get("commune") or "").strip() or None
    province = (args.get("province") or "").strip() or None
    if (commune is None) == (province is None):
        raise ValidationError("Chọn một xã (mã 5 chữ số) hoặc một tỉnh.", "Choose one commune (5-digit code) or one province.")
    if commune is not None and not _COMMUNE_RE.match(commune):
        raise ValidationError("Mã xã gồm 5 chữ số.", "commune must be a 5-digit commune code.")
    try:
        last = date.fromisoformat(args["to"]) if args.get("to") else today
        first = date.fromisoformat(args["from"]) if args.get("from") else last - timedelta(days=6)
    except ValueError:
        raise ValidationError("Ngày phải có dạng YYYY-MM-DD.", "Dates must be YYYY-MM-DD.") from None
    if first > last or (last - first).days >= MAX_DAYS:
        raise ValidationError(f"Khoảng ngày phải từ 1 đến {MAX_DAYS} ngày.", f"The period must be 1 to {MAX_DAYS} days.")
    return ReportQuery(commune, province, first, last)


@dataclass(frozen=True)
class PlayReport:
    query: ReportQuery
    rows: list[dict[str, Any]]
    totals: list[dict[str, Any]]       # per commune
    generated_at: datetime


def build(store: Store, query: ReportQuery, clock: Callable[[], datetime]) -> PlayReport:
    with store.read() as tx:
        raw = tx.reports.play_summary(start=query.start, end=query.end, commune=query.commune,
                                      province=query.province)
        titles = tx.items.titles([r["item_id"] for r in raw if r["item_id"]])
    grouped: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for r in raw:
        key = (r["commune"], r["province"], r["item_id"] or "", r["outcome"] or "")
        row = grouped.setdefault(key, {"commune": r["commune"], "province": r["province"], "item_id": r["item_id"],
                                       "title": titles.get(r["item_id"] or "", ""), "outcome": r["outcome"],
                                       "outcome_vi": OUTCOMES_VI.get(r["outcome"] or "", r["outcome"] or "—"),
                                       "plays": 0, "devices": set(), "first_at": r["first_at"],
                                       "last_at": r["last_at"]})
        row["plays"] += r["plays"]
        row["devices"].add(r["device_id"])
        row["first_at"] = min(row["first_at"], r["first_at"])
        row["last_at"] = max(row["last_at"], r["last_at"])
    rows = [row | {"devices": len(row["devices"])} for row in grouped.values()]
    totals: dict[str, dict[str, Any]] = {}
    for row in rows:
        total = totals.setdefault(row["commune"], {"commune": row["commune"], "province": row["province"],
                                                   "plays": 0, "completed": 0})
        total["plays"] += row["plays"]
        total["completed"] += row["plays"] if row["outcome"] == "completed" else 0
    return PlayReport(query, rows, list(totals.values()), clock())


def xlsx(report: PlayReport) -> bytes:
    """The report as an Excel workbook: one sheet of rows, one of totals per commune."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = "Chi tiết"
    q = report.query
    sheet.append([f"Báo cáo phát thanh / Proof of play — {q.scope}"])
    sheet.append([f"Từ {q.first_day:%d/%m/%Y} đến {q.last_day:%d/%m/%Y} (giờ Việt Nam) · lập lúc "
                  f"{local_text(report.generated_at)}"])
    sheet.append([])
    sheet.append(list(HEADINGS))
    for cell in sheet[4]:
        cell.font = Font(bold=True)
    for row in report.rows:
        sheet.append([row["commune"], row["province"], row["title"], row["item_id"], row["outcome_vi"], row["plays"],
                      row["devices"], row["first_at"].astimezone(LOCAL).replace(tzinfo=None),
                      row["last_at"].astimezone(LOCAL).replace(tzinfo=None)])
    for column in ("H", "I"):
        for cell in sheet[column][4:]:
            cell.number_format = "dd/mm/yyyy hh:mm:ss"
    for column, width in zip("ABCDEFGHI", (10, 16, 40, 22, 14, 10, 10, 20, 20), strict=True):
        sheet.column_dimensions[column].width = width
    totals = book.create_sheet("Tổng theo xã")
    totals.append(["Xã / Commune", "Tỉnh / Province", "Lượt phát / Plays", "Phát trọn / Completed",
                   "Tỉ lệ phát trọn / Completed share"])
    for cell in totals[1]:
        cell.font = Font(bold=True)
    for total in report.totals:
        share = total["completed"] / total["plays"] if total["plays"] else 0
        totals.append([total["commune"], total["province"], total["plays"], total["completed"], share])
        totals.cell(row=totals.max_row, column=5).number_format = "0.0%"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
