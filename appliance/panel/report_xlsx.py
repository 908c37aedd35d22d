"""The district report as an .xlsx workbook (openpyxl, MIT; the optional ``reports`` extra, so a
station that never exports spends nothing on it): a summary sheet, then per bulletin, per zone,
emergencies with their texts, plays that did not happen with the reason, and every play. Vietnamese
headers by default, local times, numbers as numbers (the spreadsheet shows the decimal comma)."""

from __future__ import annotations

import io
from typing import Any

from appliance.panel.reports import Report
from protocol.errors import CommuneRadioError

HEADERS = {
    "vi": {
        "summary": "Tổng hợp", "bulletins": "Theo bản tin", "zones": "Theo vùng", "emergencies": "Khẩn cấp",
        "problems": "Không phát được", "log": "Nhật ký phát",
        "title": "Báo cáo phát thanh", "station": "Trạm", "from": "Từ ngày", "to": "Đến ngày",
        "played": "Lượt đã phát", "minutes": "Số phút", "not_played": "Lượt không phát được",
        "emergency_count": "Lượt khẩn cấp",
        "b": ("Bản tin", "Mã", "Khẩn cấp", "Đã phát", "Bỏ qua", "Lỗi", "Bị ngắt", "Số phút"),
        "z": ("Vùng loa", "Đã phát", "Không phát được", "Số phút"),
        "e": ("Thời gian (giờ địa phương)", "Tiêu đề", "Nội dung", "Vùng", "Kết quả", "Lý do", "Người yêu cầu"),
        "l": ("Thời gian (giờ địa phương)", "Tiêu đề", "Vùng", "Cách phát", "Kết quả", "Lý do", "Người yêu cầu",
              "Số giây"),
        "yes": "có",
    },
    "en": {
        "summary": "Summary", "bulletins": "By bulletin", "zones": "By zone", "emergencies": "Emergencies",
        "problems": "Not played", "log": "Play log",
        "title": "Broadcast report", "station": "Station", "from": "From", "to": "To",
        "played": "Plays", "minutes": "Minutes", "not_played": "Not played", "emergency_count": "Emergencies",
        "b": ("Bulletin", "Id", "Emergency", "Played", "Skipped", "Failed", "Interrupted", "Minutes"),
        "z": ("Zone", "Played", "Not played", "Minutes"),
        "e": ("Time (local)", "Title", "Text", "Zones", "Outcome", "Reason", "Requested by"),
        "l": ("Time (local)", "Title", "Zones", "Trigger", "Outcome", "Reason", "Requested by", "Seconds"),
        "yes": "yes",
    },
}


class ReportsUnavailable(CommuneRadioError):
    """openpyxl is not installed on this station."""


def workbook_bytes(report: Report, *, station: str, lang: str = "vi", trigger_label: Any = str) -> bytes:
    try:
        from openpyxl import Workbook
        from openpyxl.styles import Font
    except ImportError:
        raise ReportsUnavailable(
            "Chưa cài phần xuất tệp Excel trên trạm này: pip install 'commune-radio[reports]'. "
            "Trang in báo cáo vẫn dùng được.",
            "The Excel export is not installed on this station: pip install 'commune-radio[reports]'. "
            "The printable report still works.", code="unavailable.reports") from None
    h = HEADERS.get(lang, HEADERS["vi"])
    book = Workbook()
    bold = Font(bold=True)

    def sheet(title: str, header: tuple[str, ...], rows: list[tuple[Any, ...]], first: bool = False) -> None:
        ws = book.active if first else book.create_sheet()
        ws.title = title
        ws.append(list(header))
        for cell in ws[1]:
            cell.font = bold
        for row in rows:
            ws.append([_inert(v) for v in row])
        for i, _ in enumerate(header, start=1):
            ws.column_dimensions[ws.cell(1, i).column_letter].width = 18 if i > 1 else 32

    summary = [(h["station"], station), (h["from"], report.first.strftime("%d/%m/%Y")),
               (h["to"], report.last.strftime("%d/%m/%Y")), (h["played"], report.total_played),
               (h["minutes"], report.total_minutes), (h["not_played"], report.total_not_played),
               (h["emergency_count"], len(report.emergencies))]
    sheet(h["summary"], (h["title"], ""), summary, first=True)
    sheet(h["bulletins"], h["b"], [(b.title, b.item_id, h["yes"] if b.emergency else "", b.played, b.skipped, b.failed,
                                    b.interrupted, b.minutes) for b in report.bulletins])
    sheet(h["zones"], h["z"], [(z.label, z.played, z.not_played, z.minutes) for z in report.zones])
    event_rows = [(e.at, e.title, e.text, e.zones, e.outcome, e.reason, e.actor) for e in report.emergencies]
    sheet(h["emergencies"], h["e"], event_rows)
    sheet(h["problems"], h["e"], [(e.at, e.title, e.text, e.zones, e.outcome, e.reason, e.actor)
                                  for e in report.problems])
    sheet(h["log"], h["l"], [(p["local_time"], p.get("title") or p.get("item_id"), p["zones_text"],
                              trigger_label(p.get("trigger")), p["outcome_text"], p["reason_text"], p["actor_text"],
                              round(float(p["played_s"]), 1) if p.get("played_s") is not None else None)
                             for p in report.plays])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _inert(value: Any) -> Any:
    """A text cell that starts like a formula is kept as text (a title such as '=HYPERLINK(…)')."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value
