// Policy draft form and what-if scenarios: mark edited values, confirm before publishing.
(function () {
  document.addEventListener('input', function (e) {
    var el = e.target;
    if (!el || !el.dataset || !('original' in el.dataset)) return;
    var row = el.closest('.pf-row');
    if (row) row.classList.toggle('changed', el.value !== el.dataset.original);
  });
  document.addEventListener('submit', function (e) {
    var form = e.target;
    if (form && form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) e.preventDefault();
  });
})();
