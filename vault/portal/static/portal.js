// The dossier refreshes itself while its request runs, so a caseworker sees the status change
// (a meta refresh did this before; axe-core counts a timed meta refresh as a violation, and
// the page now says that it refreshes). No inline script: the strict CSP stays.
(function () {
  "use strict";
  var marker = document.querySelector("[data-refresh-seconds]");
  if (!marker) { return; }
  var seconds = parseInt(marker.getAttribute("data-refresh-seconds"), 10) || 5;
  window.setTimeout(function () { window.location.reload(); }, seconds * 1000);
}());
