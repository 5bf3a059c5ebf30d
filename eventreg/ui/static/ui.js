/* eventreg web UI: draws the metric charts (uPlot) from each .chart element's data-chart
   JSON. No inline script anywhere: the Content-Security-Policy allows only these files. */
(function () {
  "use strict";
  var palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

  function draw(el) {
    if (el.getAttribute("data-drawn")) { return; }
    var spec = JSON.parse(el.getAttribute("data-chart"));
    var tables = spec.series.map(function (s) { return [s.x, s.y]; });
    var data = tables.length === 1 ? tables[0] : uPlot.join(tables);
    var series = [{label: "step"}].concat(spec.series.map(function (s, i) {
      return {label: s.label, stroke: palette[i % palette.length], width: 1.5,
              points: {show: s.x.length <= 60}};
    }));
    var width = Math.max(280, Math.min(el.clientWidth || 640, 960));
    var plot = new uPlot({
      width: width, height: 260, title: spec.title,
      scales: {x: {time: false}},
      axes: [{label: "step"}, {}],
      cursor: {drag: {x: true, y: false}},
      series: series
    }, data, el);
    el.setAttribute("data-drawn", "1");
    el.setAttribute("data-points", String(plot.data[0].length));
  }

  function drawAll(root) {
    var charts = (root || document).querySelectorAll(".chart[data-chart]");
    for (var i = 0; i < charts.length; i++) { draw(charts[i]); }
  }

  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:afterSettle", function (event) { drawAll(event.target); });
})();
