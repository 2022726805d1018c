// Connections page: poll each running refresh and move its progress bar (no inline scripts: CSP);
// when it ends, reload so the server shows its times and messages.
(function () {
  "use strict";
  var ACTIVE = { new: true, queued: true, running: true, retrying: true };
  var labels = document.getElementById("state-labels");

  function label(state) {
    return (labels && labels.dataset[state]) || state;
  }

  function poll(row) {
    fetch(row.dataset.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (resp) { return resp.ok ? resp.json() : null; })
      .then(function (body) {
        if (!body) { return; }
        var bar = row.querySelector("progress");
        var state = row.querySelector(".state");
        state.dataset.state = body.state;
        state.textContent = label(body.state);
        if (body.progress && body.progress.total) {
          bar.max = body.progress.total;
          bar.value = body.state === "ok" ? body.progress.total : body.progress.done;
        } else if (body.state === "ok") {
          bar.max = 1; bar.value = 1;
        }
        if (ACTIVE[body.state]) { window.setTimeout(function () { poll(row); }, 400); return; }
        // Done: the server renders the times (local zone, the owner's language) and the
        // error message (translated), so fetch the page once more instead of formatting here.
        window.location.reload();
      })
      .catch(function () { window.setTimeout(function () { poll(row); }, 2000); });
  }

  document.querySelectorAll("tr.connection").forEach(function (row) {
    var state = row.querySelector(".state").dataset.state;
    if (ACTIVE[state]) { poll(row); }
  });
})();
