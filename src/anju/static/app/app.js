// Anju's own small behaviours; third-party libraries come from npm into /static/vendor.
document.addEventListener("htmx:responseError", (event) => {
  // Show 4xx fragments (validation messages) in the target instead of dropping them.
  const xhr = event.detail.xhr;
  if (xhr.status >= 400 && xhr.status < 500 && event.detail.target) {
    event.detail.target.innerHTML = xhr.responseText;
  }
});
document.addEventListener("htmx:configRequest", (event) => {
  const meta = document.body.getAttribute("hx-headers");
  if (meta) {
    try { Object.assign(event.detail.headers, JSON.parse(meta)); } catch (e) { /* ignore */ }
  }
});

// Stacked horizontal bars of households by status per block (project overview).
function drawCharts() {
  if (!window.echarts) return;
  document.querySelectorAll(".chart[data-chart]").forEach((el) => {
    const spec = JSON.parse(el.dataset.chart);
    const palette = ["#9aa4b2", "#245bdb", "#6b3fd1", "#1f8a4c", "#b26a00", "#555", "#999"];
    const chart = echarts.init(el);
    chart.setOption({
      color: palette,
      animation: false,
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0 },
      grid: { left: 8, right: 16, top: 32, bottom: 8, containLabel: true },
      xAxis: { type: "value" },
      yAxis: { type: "category", data: spec.categories, inverse: true },
      series: spec.series.map((s) => ({ name: s.name, type: "bar", stack: "total", data: s.data, barMaxWidth: 22 })),
    });
    window.addEventListener("resize", () => chart.resize());
  });
}
window.addEventListener("load", drawCharts);
