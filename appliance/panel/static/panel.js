// The panel's only script: confirmation prompts. Everything works without it
// (the emergency form also requires a confirmation checkbox on the server).
"use strict";
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

// Zones: "All zones" and single zones exclude each other (the server refuses both at once).
document.addEventListener("change", function (event) {
  var box = event.target;
  if (!box || box.name !== "zones" || box.type !== "checkbox" || !box.checked) {
    return;
  }
  var boxes = box.form ? box.form.querySelectorAll("input[type=checkbox][name=zones]") : [];
  for (var i = 0; i < boxes.length; i++) {
    if (boxes[i] !== box && (box.value === "*" || boxes[i].value === "*")) {
      boxes[i].checked = false;
    }
  }
});

// The live dashboard: its live part is fetched again every 2 s and swapped in (server-rendered,
// escaped HTML from the same origin; no inline script). Paused while the tab is hidden.
(function () {
  var live = document.getElementById("live");
  if (!live || !window.fetch) {
    return;
  }
  var url = live.getAttribute("data-live-url");
  var busy = false;
  function refresh() {
    if (busy || document.hidden) {
      return;
    }
    busy = true;
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (!response.ok || response.redirected) {
          throw new Error("status " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        live.innerHTML = html;
        live.removeAttribute("data-stale");
      })
      .catch(function () {
        live.setAttribute("data-stale", "1");
      })
      .then(function () {
        busy = false;
      });
  }
  window.setInterval(refresh, 2000);
})();
