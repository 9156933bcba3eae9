// Tenant clearance list: "select all" of the open tenants shown, and the count on the submit button.
(function () {
  "use strict";
  function picks() {
    return Array.prototype.slice.call(document.querySelectorAll('input.cl-pick[name="tenant_id"]'));
  }
  function update() {
    var out = document.getElementById("picked");
    if (out) out.textContent = String(picks().filter(function (c) { return c.checked; }).length);
  }
  document.addEventListener("DOMContentLoaded", function () {
    var all = document.getElementById("pick-all");
    if (all) {
      all.addEventListener("change", function () {
        picks().forEach(function (c) { c.checked = all.checked; });
        update();
      });
    }
    picks().forEach(function (c) { c.addEventListener("change", update); });
    update();
  });
})();
