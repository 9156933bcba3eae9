// Dispatch report page: forms with data-confirm ask before they submit (签发 cannot be undone).
// A listener rather than an onsubmit attribute: the Content-Security-Policy refuses inline handlers.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.dataset.confirm) return;
  if (!window.confirm(form.dataset.confirm)) event.preventDefault();
});
