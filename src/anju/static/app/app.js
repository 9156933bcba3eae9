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
