"""Play log: filter by date, zone and outcome; CSV export."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, render_template, request
from flask.typing import ResponseReturnValue

from appliance.panel import history
from appliance.panel.forms import parse_choice, parse_date
from appliance.panel.web import PanelState, audit, lang, panel
from protocol.errors import CommuneRadioError

bp = Blueprint("playlog", __name__)


def _filter(state: PanelState) -> tuple[history.PlayFilter, dict[str, str]]:
    errors: dict[str, str] = {}
    args = request.args
    values: dict[str, object] = {}
    checks = {
        "date_from": lambda: parse_date(args.get("from"), "date"),
        "date_to": lambda: parse_date(args.get("to"), "date"),
        "zone": lambda: parse_choice(args.get("zone"), "zone", state.config.zone_names(), default="") or None,
        "outcome": lambda: parse_choice(args.get("outcome"), "outcome", history.OUTCOMES, default="") or None,
    }
    for name, check in checks.items():
        try:
            values[name] = check()
        except CommuneRadioError as exc:
            errors[name] = exc.message(lang())
    return history.PlayFilter(**values), errors  # type: ignore[arg-type]


@bp.route("/playlog")
def index() -> ResponseReturnValue:
    state = panel()
    flt, errors = _filter(state)
    rows = history.plays(state.store, flt, state.zone)
    return render_template("playlog.html", rows=rows, errors=errors, args=request.args,
                           outcomes=history.OUTCOMES), (400 if errors else 200)


@bp.route("/playlog.csv")
def export() -> ResponseReturnValue:
    state = panel()
    flt, errors = _filter(state)
    if errors:
        return render_template("playlog.html", rows=[], errors=errors, args=request.args,
                               outcomes=history.OUTCOMES), 400
    rows = history.plays(state.store, history.PlayFilter(flt.date_from, flt.date_to, flt.zone, flt.outcome,
                                                         limit=100_000), state.zone)
    audit("playlog.export", "", details={"rows": len(rows)})
    name = f"play-log-{state.config.device.id}-{datetime.now(state.zone):%Y%m%d-%H%M}.csv"
    # A BOM makes spreadsheet programs read the Vietnamese titles as UTF-8.
    return Response("\ufeff" + history.to_csv(rows, zone=state.zone, lang=lang()), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
