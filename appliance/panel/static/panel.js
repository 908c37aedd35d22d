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
