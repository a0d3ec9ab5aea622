/* Metrics: one series drawn as an SVG line chart (one line per tag set), from GET /api/v1/metrics. */
"use strict";

(function () {
  const C = window.Conveyor;
  const {$, el} = C;
  const W = 800, H = 320, PAD = {left: 84, right: 16, top: 16, bottom: 36};
  const MAX_POINTS = 2000;

  function resolution(rangeSeconds, chosen) {
    if (chosen !== "auto") return chosen;
    return rangeSeconds <= 3600 ? "raw" : rangeSeconds <= 86400 ? "1m" : "1h";
  }

  function label(value) {
    const abs = Math.abs(value);
    if (abs >= 1e6 || (abs > 0 && abs < 1e-3)) return value.toExponential(2);
    return Number(value.toPrecision(4)).toString();
  }

  function draw(points, field, start, end) {
    const svg = $("#chart");
    if (!points.length) {
      svg.replaceChildren(el("text", {x: W / 2, y: H / 2, "text-anchor": "middle", class: "empty", text: "no data"}));
      return;
    }
    const values = points.map((p) => p[field]);
    let low = Math.min(...values), high = Math.max(...values);
    if (low === high) { low -= 1; high += 1; }
    const x = (t) => PAD.left + (t - start) / (end - start || 1) * (W - PAD.left - PAD.right);
    const y = (v) => H - PAD.bottom - (v - low) / (high - low) * (H - PAD.top - PAD.bottom);
    const grid = [0, 0.25, 0.5, 0.75, 1].map((f) => {
      const value = low + f * (high - low);
      return el("g", {class: "grid"},
        el("line", {x1: PAD.left, x2: W - PAD.right, y1: y(value), y2: y(value)}),
        el("text", {x: PAD.left - 6, y: y(value) + 4, "text-anchor": "end", text: label(value)}));
    });
    const axis = el("g", {class: "axis"},
      el("text", {x: PAD.left, y: H - 10, text: new Date(start).toLocaleString()}),
      el("text", {x: W - PAD.right, y: H - 10, "text-anchor": "end", text: new Date(end).toLocaleString()}));
    const bySeries = new Map();
    for (const p of points) {
      const key = JSON.stringify(p.tags || {});
      if (!bySeries.has(key)) bySeries.set(key, []);
      bySeries.get(key).push(p);
    }
    const lines = [...bySeries.entries()].map(([key, series], i) => {
      const coords = series.map((p) => [x(Date.parse(p.timestamp)), y(p[field])]);
      const d = coords.map(([px, py], j) => (j ? "L" : "M") + px.toFixed(1) + " " + py.toFixed(1)).join(" ");
      return el("g", {class: "line line-" + (i % 6)},
        el("path", {class: "series", d}, el("title", {text: key === "{}" ? "no tags" : key})),
        series.map((p, j) => el("circle", {class: "point", cx: coords[j][0].toFixed(1), cy: coords[j][1].toFixed(1),
                                          r: 3},
          el("title", {text: new Date(p.timestamp).toLocaleString() + ": " + label(p[field]) + (key === "{}" ? "" : " " + key)}))));
    });
    svg.replaceChildren(...grid, axis, ...lines);
  }

  async function loadNames() {
    const answer = await C.api("/api/v1/metrics/names");
    const select = $("#metric-name");
    const current = select.value;
    select.replaceChildren(...answer.items.map((name) => el("option", {value: name, text: name})));
    // The platform's own series (conveyor.*) come after the ones a team pushed.
    const first = answer.items.find((name) => !name.startsWith("conveyor.")) || answer.items[0];
    select.value = answer.items.includes(current) ? current : first || "";
    $("#no-metrics").hidden = answer.items.length > 0;
    return answer.items.length > 0;
  }

  async function loadSeries() {
    const form = $("#metric-form");
    const name = form.name.value;
    if (!name) return;
    const seconds = Number(form.range.value);
    const end = Date.now(), start = end - seconds * 1000;
    const res = resolution(seconds, form.resolution.value);
    const query = new URLSearchParams({name, resolution: res, limit: String(MAX_POINTS),
      start_time: new Date(start).toISOString(), end_time: new Date(end).toISOString()});
    const answer = await C.api("/api/v1/metrics?" + query);
    if (form.name.value !== name) return;
    const field = form.field.value;
    draw(answer.metrics, field, start, end);
    $("#chart-caption").textContent = answer.metrics.length
      ? name + ", " + field + " of " + res + " " + (res === "raw" ? "points" : "buckets") + ": " + answer.metrics.length +
        (answer.total_count > answer.metrics.length ? " of " + answer.total_count + " (the oldest shown)" : "")
      : "No points for " + name + " in this range at resolution " + res + ".";
  }

  C.page(async () => {
    $("#metric-form").addEventListener("change", () => loadSeries().catch(C.report));
    if (await loadNames()) await loadSeries();
    setInterval(() => loadSeries().catch(C.report), 15000);
  });
})();
