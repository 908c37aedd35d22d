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
