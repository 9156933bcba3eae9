// Teams page (专班与包户): a header checkbox ticks every box of its column on the page.
(function () {
  "use strict";
  var T = window.T || function (text) { return text; };
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

// Members form: say how many households move with the people ticked in or out (包户随人调整),
// and ask before saving a change that moves any.
(function () {
  "use strict";
  var T = window.T || function (text) { return text; };
  function moves(form) {
    var incoming = 0, outgoing = 0;
    form.querySelectorAll('input[name="user_ids"]').forEach(function (b) {
      var n = parseInt(b.getAttribute("data-households") || "0", 10) || 0;
      var member = b.getAttribute("data-member") === "1";
      if (b.checked && !member) incoming += n;
      if (!b.checked && member) outgoing += n;
    });
    var parts = [];
    if (incoming) parts.push(T("调入人员名下 {n} 户包户将随人转入本组", { n: incoming }));
    if (outgoing) parts.push(T("移出人员名下 {n} 户包户将留在本组、待重新落实到人", { n: outgoing }));
    return parts.join(T("；"));
  }
  function show(form) {
    var text = moves(form);
    var out = form.querySelector("[data-members-moves]");
    if (!out) return;
    out.textContent = text ? T("保存后：{text}。", { text: text }) : "";
    out.hidden = !text;
  }
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!(box instanceof HTMLInputElement) || box.name !== "user_ids") return;
    var form = box.closest("form[data-members-form]");
    if (form) show(form);
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-members-form")) return;
    var text = moves(form);
    if (text && !window.confirm(T("{text}。确认保存成员？", { text: text }))) event.preventDefault();
  });
})();

// Forms with data-confirm ask before they submit (解散专班 deletes the team).
document.addEventListener("submit", function (event) {
  "use strict";
  var form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.dataset.confirm) return;
  if (!window.confirm(form.dataset.confirm)) event.preventDefault();
});
