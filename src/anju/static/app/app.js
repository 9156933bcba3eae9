// Anju's own small behaviours; third-party libraries come from npm into /static/vendor.

// Page text written by scripts: T("签约率") is the Chinese id, translated from the body's
// data-messages (the page's language, see anju.web.templating.script_messages); {name} fills in.
const ANJU_MESSAGES = (() => {
  try { return JSON.parse(document.body.dataset.messages || "{}"); } catch (e) { return {}; }
})();
window.T = (text, params) => {
  let out = ANJU_MESSAGES[text] || text;
  for (const [key, value] of Object.entries(params || {})) out = out.split("{" + key + "}").join(String(value));
  return out;
};
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

// Forms that ask for a reason first (e.g. voiding a tenant): data-prompt-reason="question".
// A listener rather than an onsubmit attribute: the Content-Security-Policy refuses inline handlers.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.dataset.promptReason) return;
  const reason = window.prompt(form.dataset.promptReason);
  if (!reason || !reason.trim()) {
    event.preventDefault();
    return;
  }
  form.elements.namedItem("reason").value = reason.trim();
});

// "Back" links (error pages) go back in history when there is one, else follow their href.
document.addEventListener("click", (event) => {
  const link = event.target instanceof Element ? event.target.closest("a[data-history-back]") : null;
  if (link && window.history.length > 1) {
    event.preventDefault();
    window.history.back();
  }
});

// Logging out forgets the household pages the visit form's service worker kept for offline use
// (they carry names and addresses). Visits still queued on the device stay: they sync at next login.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || form.getAttribute("action") !== "/logout") return;
  if ("caches" in window) window.caches.delete("anju-visit-pages-v1");
});
