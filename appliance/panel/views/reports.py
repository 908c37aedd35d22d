"""Reports for the district: a month (or any date range) per bulletin and per zone, as a printable
A4 page and as an .xlsx file (appliance.panel.reports, appliance.panel.report_xlsx)."""

from __future__ import annotations

from datetime import date, datetime

from flask import Blueprint, Response, render_template, request
from flask.typing import ResponseReturnValue

from appliance.panel import reports
from appliance.panel.forms import parse_date
from appliance.panel.report_xlsx import workbook_bytes
from appliance.panel.web import PanelState, audit, err_text, lang, panel, t
from protocol.errors import CommuneRadioError

bp = Blueprint("reports", __name__)


def _range(state: PanelState) -> tuple[date, date, str | None]:
    """The month asked for (?month=YYYY-MM), or ?from=&to=, else this month; and an error."""
    args = request.args
    today = datetime.now(state.zone).date()
    try:
        if args.get("from") or args.get("to"):
            first = parse_date(args.get("from"), "date") or today.replace(day=1)
            last = parse_date(args.get("to"), "date") or today
            if last < first:
                raise CommuneRadioError("'Đến ngày' phải sau 'Từ ngày'.", "'To' must be after 'From'.")
            if (last - first).days > 400:
                raise CommuneRadioError("Khoảng thời gian dài quá 400 ngày.", "The range is longer than 400 days.")
            return first, last, None
        month = args.get("month") or f"{today:%Y-%m}"
        try:
            first, last = reports.month_range(month[:7])
        except ValueError:
            raise CommuneRadioError(f"Tháng không hợp lệ: {month[:20]!r}.", f"Invalid month: {month[:20]!r}.") from None
        return first, last, None
    except CommuneRadioError as exc:
        first, last = reports.month_range(f"{today:%Y-%m}")
        return first, last, err_text(exc)


def _report(state: PanelState, first: date, last: date) -> reports.Report:
    zones = [(z.name, z.label or z.name) for z in state.config.zones]
    return reports.build(state.store, first, last, state.zone, zones, outcome_label=t)


@bp.route("/reports")
def index() -> ResponseReturnValue:
    state = panel()
    first, last, error = _range(state)
    report = _report(state, first, last)
    return render_template("report.html", report=report, error=error, args=request.args,
                           month=f"{first:%Y-%m}"), (400 if error else 200)


@bp.route("/reports.xlsx")
def xlsx() -> ResponseReturnValue:
    state = panel()
    first, last, error = _range(state)
    if error:
        return render_template("report.html", report=_report(state, first, last), error=error, args=request.args,
                               month=f"{first:%Y-%m}"), 400
    report = _report(state, first, last)
    try:
        data = workbook_bytes(report, station=state.config.device.id, lang=lang(), trigger_label=t)
    except CommuneRadioError as exc:
        return render_template("report.html", report=report, error=err_text(exc), args=request.args,
                               month=f"{first:%Y-%m}"), 503
    audit("report.export", f"{first}..{last}", details={"plays": len(report.plays)})
    name = f"bao-cao-phat-thanh-{state.config.device.id}-{first:%Y%m%d}-{last:%Y%m%d}.xlsx"
    return Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
