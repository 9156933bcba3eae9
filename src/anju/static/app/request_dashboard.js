// Dashboard of the five-order loop: trend and rankings (ECharts), open requests per grid (Leaflet).
(function () {
  "use strict";

  const T = window.T || ((text) => text); // page text in the reader's language (app.js)

  function chart(id, option) {
    const el = document.getElementById(id);
    if (!el || !window.echarts) return;
    const c = echarts.init(el);
    c.setOption(option);
    window.addEventListener("resize", () => c.resize());
  }

  function ranking(id, r) {
    chart(id, {
      grid: { left: 8, right: 40, top: 8, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", valueFormatter: (v) => (v == null ? "—" : v + "%") },
      xAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
      yAxis: { type: "category", inverse: true, data: r.names },
      series: [{ type: "bar", name: T("按期结案率"), data: r.on_time, label: { show: true, position: "right", formatter: "{c}%" } }],
    });
  }

  function drawMap(box, data, status) {
    const map = L.map(box, { attributionControl: Boolean(box.dataset.tiles) });
    if (box.dataset.tiles) L.tileLayer(box.dataset.tiles, { maxZoom: 20 }).addTo(map);
    const max = Math.max(1, data.max_open);
    const layer = L.geoJSON(data, {
      style: (f) => {
        const share = f.properties.open / max;
        return { color: "#1f2329", weight: 1, fillColor: "#d4380d", fillOpacity: f.properties.open ? 0.15 + 0.6 * share : 0.03 };
      },
      onEachFeature: (f, l) => l.bindTooltip(f.properties.name + T(" · 未办结 {n} 件", { n: f.properties.open }), { sticky: true }),
    }).addTo(map);
    if (layer.getBounds().isValid()) map.fitBounds(layer.getBounds(), { padding: [16, 16] });
    else map.setView([35, 105], 4);
    box.dataset.grids = String(data.features.length);
    box.classList.add("map-ready");
    if (status && data.unplaced) status.textContent += T(" 另有 {n} 件未划入网格。", { n: data.unplaced });
    window.addEventListener("resize", () => map.invalidateSize());
  }

  window.addEventListener("load", () => {
    const holder = document.getElementById("rq-data");
    if (holder) {
      const d = JSON.parse(holder.dataset.chart);
      chart("rq-trend", {
        // English legends wrap to two lines on a phone: leave them room above the axis names.
        grid: { left: 8, right: 8, top: window.innerWidth < 600 ? 72 : 36, bottom: 8, containLabel: true },
        legend: { top: 0 },
        tooltip: { trigger: "axis" },
        xAxis: { type: "category", data: d.months },
        yAxis: [
          { type: "value", name: T("件") },
          { type: "value", name: "%", max: 100, splitLine: { show: false } },
        ],
        series: [
          { type: "bar", name: T("受理"), data: d.received },
          { type: "bar", name: T("办结"), data: d.closed },
          { type: "line", name: T("按期结案率"), yAxisIndex: 1, data: d.on_time, connectNulls: true },
          { type: "line", name: T("满意率"), yAxisIndex: 1, data: d.satisfied, connectNulls: true },
        ],
      });
      ranking("rq-rank-grid", d.rankings.grid);
      ranking("rq-rank-department", d.rankings.department);
    }
    const box = document.getElementById("rq-map");
    if (box && window.L) {
      const status = document.getElementById("rq-map-status");
      fetch(box.dataset.src, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then((r) => {
          if (!r.ok) throw new Error("HTTP " + r.status);
          return r.json();
        })
        .then((data) => drawMap(box, data, status))
        .catch(() => {
          if (status) status.textContent = T("地图数据加载失败，请刷新页面重试。");
        });
    }
  });
})();
