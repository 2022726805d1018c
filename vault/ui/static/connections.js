// Connections page: poll each running refresh and move its progress bar (no inline scripts: CSP).
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
        row.querySelector(".last-error").textContent = body.last_error || "";
        if (body.last_success_at) {
          row.querySelector(".last-success").textContent = body.last_success_at.slice(0, 16).replace("T", " ");
        }
        if (body.next_run_at) {
          row.querySelector(".next-run").textContent = body.next_run_at.slice(0, 16).replace("T", " ");
        }
        if (ACTIVE[body.state]) { window.setTimeout(function () { poll(row); }, 400); }
      })
      .catch(function () { window.setTimeout(function () { poll(row); }, 2000); });
  }

  document.querySelectorAll("tr.connection").forEach(function (row) {
    var state = row.querySelector(".state").dataset.state;
    if (ACTIVE[state]) { poll(row); }
  });
})();
