// Teams page (专班与包户): a header checkbox ticks every box of its column on the page.
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!(box instanceof HTMLInputElement) || !box.hasAttribute("data-check-all")) return;
    var form = box.closest("form");
    if (!form) return;
    var name = box.getAttribute("data-check-all");
    form.querySelectorAll('input[type="checkbox"][name="' + name + '"]').forEach(function (b) {
      b.checked = box.checked;
    });
  });
})();
