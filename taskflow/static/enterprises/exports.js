// 我的导出: bars take their width from data-percent (no inline styles under the CSP); while an
// export is queued or being written, its status is polled and the page reloads once it is ready.
(function () {
  "use strict";
  var table = document.getElementById("export-jobs");
  if (!table) { return; }
  function paint() {
    table.querySelectorAll(".progress-bar[data-percent]").forEach(function (bar) {
      bar.style.width = bar.getAttribute("data-percent") + "%";
    });
  }
  paint();
  function pending() {
    return table.querySelectorAll('tr[data-state="queued"], tr[data-state="running"]').length;
  }
  if (!pending()) { return; }
  function poll() {
    fetch(table.getAttribute("data-status-url"), {credentials: "same-origin"})
      .then(function (response) { return response.json(); })
      .then(function (data) {
        var changed = false;
        data.jobs.forEach(function (job) {
          var row = table.querySelector('tr[data-job="' + job.id + '"]');
          if (!row) { return; }
          if (row.getAttribute("data-state") !== job.state &&
              (job.state === "done" || job.state === "failed")) { changed = true; }
          var bar = row.querySelector(".progress-bar");
          if (bar) {
            bar.setAttribute("data-percent", job.percent);
            bar.textContent = job.percent + "%";
            bar.parentNode.setAttribute("aria-valuenow", job.percent);
          }
        });
        paint();
        if (changed) { window.location.reload(); } else { window.setTimeout(poll, 3000); }
      })
      .catch(function () { window.setTimeout(poll, 10000); });
  }
  window.setTimeout(poll, 3000);
})();
