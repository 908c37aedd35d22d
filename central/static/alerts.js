// The alerts page refreshes itself: every 30 s it reads the JSON API named by the table's
// data-source and rebuilds the rows (text only, never HTML from the server).
"use strict";
(function () {
  const table = document.getElementById("alerts");
  if (!table) return;
  const body = table.tBodies[0];
  const zone = "Asia/Ho_Chi_Minh";
  const fmt = new Intl.DateTimeFormat("sv-SE", {timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
                                                hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false});
  const local = (iso) => iso ? fmt.format(new Date(iso)) : "—";
  function cell(row, text, cls) {
    const td = row.insertCell();
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }
  function render(data) {
    const rows = document.createDocumentFragment();
    for (const d of data.alerts) {
      const tr = document.createElement("tr");
      tr.dataset.device = d.device_id;
      const link = document.createElement("a");
      link.href = "/monitor/devices/" + encodeURIComponent(d.device_id);
      link.textContent = d.device_id;
      tr.insertCell().appendChild(link);
      cell(tr, d.province || "—");
      cell(tr, d.alerts.join(", "));
      cell(tr, d.status, "s-" + d.status);
      cell(tr, local(d.last_seen_at));
      cell(tr, d.software_version || "—");
      cell(tr, local(d.last_failed_play_at));
      rows.appendChild(tr);
    }
    if (!data.alerts.length) {
      const tr = document.createElement("tr");
      tr.className = "none";
      const td = cell(tr, "Không có cảnh báo / no alerts");
      td.colSpan = 7;
      rows.appendChild(tr);
    }
    body.replaceChildren(rows);
    document.getElementById("as-of").textContent = local(data.server_time);
    document.getElementById("alert-count").textContent = String(data.alerts.length);
    document.getElementById("newest").textContent = data.newest_software || "—";
    table.dataset.refreshed = data.server_time;
  }
  async function poll() {
    try {
      const answer = await fetch(table.dataset.source, {credentials: "same-origin", cache: "no-store"});
      if (answer.ok) render(await answer.json());
    } catch (e) { /* offline for a moment: the next poll tries again */ }
  }
  const period = Number(table.dataset.periodMs || 30000);
  setInterval(poll, period);
})();
