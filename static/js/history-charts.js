// Draws the patient history charts from the JSON that the page embeds with json_script.
// A static file (no inline script) so a strict Content-Security-Policy can forbid inline code.
(function () {
  "use strict";
  var source = document.getElementById("chart-data");
  if (!source || typeof Chart === "undefined") { return; }
  var data = JSON.parse(source.textContent);

  function line(label, values, color, dashed) {
    return {
      label: label, data: values, borderColor: color, backgroundColor: color,
      borderDash: dashed ? [6, 4] : [], spanGaps: true, tension: 0.2, pointRadius: 3,
    };
  }

  function draw(id, datasets, yMax) {
    var canvas = document.getElementById(id);
    if (!canvas) { return; }
    new Chart(canvas, {
      type: "line",
      data: { labels: data.labels, datasets: datasets },
      options: {
        maintainAspectRatio: false, animation: false,
        scales: { y: { beginAtZero: true, suggestedMax: yMax } },
        plugins: { legend: { position: "bottom" } },
      },
    });
  }

  draw("chart-scores", [
    line("PHQ-9 (0–27)", data.phq9, "#0d6efd"),
    line("GAD-7 (0–21)", data.gad7, "#6f42c1"),
  ], 27);
  draw("chart-cadss", [line("CADSS (0–92)", data.cadss, "#d63384")], 40);
  draw("chart-bp", [
    line("Baseline systolic", data.baseline_systolic, "#198754", true),
    line("Peak systolic", data.peak_systolic, "#dc3545"),
    line("Baseline diastolic", data.baseline_diastolic, "#20c997", true),
    line("Peak diastolic", data.peak_diastolic, "#fd7e14"),
  ], 180);
})();
