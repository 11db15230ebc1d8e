/* Cockpit trend charts: data from the JSON endpoint named by data-url (no inline scripts). */
(function () {
  "use strict";
  var root = document.getElementById("cockpit-charts");
  if (!root || typeof Chart === "undefined") { return; }
  var palette = ["#1d3c6e", "#2fb344", "#f76707", "#206bc4", "#d63939"];

  function draw(canvasId, block) {
    var canvas = document.getElementById(canvasId);
    if (!canvas || !block) { return; }
    new Chart(canvas, {
      type: "line",
      data: {
        labels: block.labels,
        datasets: block.series.map(function (s, i) {
          return { label: s.label, data: s.data, borderColor: palette[i % palette.length],
                   backgroundColor: palette[i % palette.length], spanGaps: true, tension: 0.2 };
        })
      },
      options: { responsive: true, plugins: { legend: { position: "bottom" } } }
    });
  }

  fetch(root.getAttribute("data-url"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
    .then(function (response) { return response.ok ? response.json() : null; })
    .then(function (data) {
      if (!data) { return; }
      draw("chart-register", data.register);
      draw("chart-scores", data.scores);
    });
}());
