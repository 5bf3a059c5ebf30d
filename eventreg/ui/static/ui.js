/* eventreg web UI: draws the metric charts (uPlot) from each .chart element's data-chart
   JSON. No inline script anywhere: the Content-Security-Policy allows only these files. */
(function () {
  "use strict";
  var palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

  function tableOf(list) {
    var tables = list.map(function (s) { return [s.x, s.y]; });
    return tables.length === 1 ? tables[0] : uPlot.join(tables);
  }

  function ranged(source, low, high) {
    var sep = source.indexOf("?") < 0 ? "?" : "&";
    return source + sep + "min_step=" + Math.ceil(low) + "&max_step=" + Math.floor(high);
  }

  /* Zoom: the steps between the dragged edges are read again from the server (at full
     resolution when they hold at most 5,000 points); double-click goes back. */
  function zoom(el, plot, spec, full) {
    var asked = 0;
    function show(data, points) {
      plot.setData(data, true);
      el.setAttribute("data-points", String(points));
    }
    return {
      select: function (u) {
        if (u.select.width < 2) { return; }
        var low = u.posToVal(u.select.left, "x");
        var high = u.posToVal(u.select.left + u.select.width, "x");
        u.setSelect({left: 0, top: 0, width: 0, height: 0}, false);
        if (!spec.series.every(function (s) { return s.source; }) || high < low) { return; }
        var ticket = ++asked;
        el.setAttribute("data-zooming", "1");
        Promise.all(spec.series.map(function (s) {
          return fetch(ranged(s.source, low, high), {headers: {Accept: "application/json"}})
            .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); });
        })).then(function (parts) {
          if (ticket !== asked) { return; }
          var data = tableOf(parts);
          show(data, data[0].length);
          el.setAttribute("data-zoomed", Math.ceil(low) + ".." + Math.floor(high));
          el.removeAttribute("data-zooming");
        }).catch(function () { el.removeAttribute("data-zooming"); });
      },
      reset: function () {
        asked++;
        el.removeAttribute("data-zoomed");
        show(full, full[0].length);
      }
    };
  }

  function draw(el) {
    if (el.getAttribute("data-drawn")) { return; }
    var spec = JSON.parse(el.getAttribute("data-chart"));
    var data = tableOf(spec.series);
    var series = [{label: "step"}].concat(spec.series.map(function (s, i) {
      return {label: s.label, stroke: palette[i % palette.length], width: 1.5,
              points: {show: s.x.length <= 60}};
    }));
    var width = Math.max(280, Math.min(el.clientWidth || 640, 960));
    var zoomer = null;
    var plot = new uPlot({
      width: width, height: 260, title: spec.title,
      scales: {x: {time: false}},
      axes: [{label: "step"}, {}],
      cursor: {drag: {x: true, y: false, setScale: false}},
      hooks: {setSelect: [function (u) { if (zoomer) { zoomer.select(u); } }]},
      series: series
    }, data, el);
    zoomer = zoom(el, plot, spec, data);
    plot.over.addEventListener("dblclick", function () { zoomer.reset(); });
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
