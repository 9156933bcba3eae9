// Logging a visit (走访) on a phone, also without signal (issue #9, item 2).
//
// Every visit gets an idempotency key made on the device and goes into a queue in localStorage
// BEFORE it is sent: a visit is never lost to a dead connection, and a retry (a timeout, the
// `online` event, reloading the page, two tabs) sends the same key, which the server stores once.
// The queue is sent on submit, on load, when the browser comes back online, and every 30 s while
// it holds anything. A service worker (/visits-sw.js) keeps this page and its files so a form
// opened once opens again without signal.
(function () {
  "use strict";
  const T = window.T || ((text) => text);

  const QUEUE_KEY = "anju.visits.queue.v1";
  const RETRY_MS = 30000;
  const form = document.getElementById("visit-form");
  if (!form) return;

  const userId = form.dataset.user || "";
  const queueBox = document.getElementById("visit-queue");
  const queueCount = document.getElementById("visit-queue-count");
  const queueList = document.getElementById("visit-queue-list");
  const statusBox = document.getElementById("visit-status");
  const submitButton = document.getElementById("vf-submit");
  let csrf = (form.querySelector("input[name=csrf_token]") || {}).value || "";
  let syncing = false;

  // ------------------------------------------------------------------ small helpers

  function newKey() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
    // randomUUID needs a secure context (https or localhost); an office intranet may serve plain http.
    const b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  function officeNow() {
    // Office time (Asia/Shanghai) as a datetime-local value; the server reads such values as office time.
    const parts = new Intl.DateTimeFormat("en-CA", {
      timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    }).formatToParts(new Date());
    const get = (type) => (parts.find((p) => p.type === type) || { value: "00" }).value;
    return `${get("year")}-${get("month")}-${get("day")}T${get("hour")}:${get("minute")}`;
  }

  function offHoursKind(value) {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value || "");
    if (!m) return "";
    const day = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3])).getUTCDay();
    const hour = +m[4];
    const weekend = day === 0 || day === 6;
    const evening = hour >= 18 || hour < 7;
    if (weekend && evening) return T("周末晚间");
    if (weekend) return T("周末");
    return evening ? T("晚间") : "";
  }

  function showStatus(text, kind) {
    statusBox.textContent = text;
    statusBox.className = "alert " + (kind === "error" ? "alert-error" : kind === "ok" ? "alert-ok" : "alert-warn");
    statusBox.hidden = !text;
  }

  // ------------------------------------------------------------------ the queue

  function loadQueue() {
    try {
      const q = JSON.parse(window.localStorage.getItem(QUEUE_KEY) || "[]");
      return Array.isArray(q) ? q : [];
    } catch (e) {
      return [];
    }
  }

  function saveQueue(q) {
    window.localStorage.setItem(QUEUE_KEY, JSON.stringify(q));
    renderQueue();
  }

  function updateItem(key, change) {
    saveQueue(loadQueue().map((i) => (i.key === key ? Object.assign({}, i, change) : i)));
  }

  function removeItem(key) {
    saveQueue(loadQueue().filter((i) => i.key !== key));
  }

  function mine(q) {
    return q.filter((i) => i.user === userId);
  }

  function renderQueue() {
    const q = mine(loadQueue());
    const waiting = q.filter((i) => !i.error).length;
    queueBox.hidden = q.length === 0;
    queueBox.dataset.count = String(waiting);
    queueCount.textContent = waiting ? T("待同步 {n} 条", { n: waiting }) : T("同步失败的记录");
    queueList.replaceChildren(
      ...q.map((i) => {
        const li = document.createElement("li");
        const what = document.createElement("span");
        what.textContent = `${i.label} · ${i.body.visited_at.replace("T", " ")}`;
        li.append(what);
        const state = document.createElement("span");
        if (i.error) {
          state.className = "vq-error";
          state.textContent = i.error + " ";
          const drop = document.createElement("button");
          drop.type = "button";
          drop.className = "link btn-small";
          drop.textContent = T("放弃此条");
          drop.dataset.dropKey = i.key;
          state.append(drop);
        } else {
          state.className = "muted";
          state.textContent = T("待同步");
        }
        li.append(state);
        return li;
      }),
    );
  }

  async function freshCsrf() {
    try {
      const r = await fetch("/api/v1/auth/me", { credentials: "same-origin", cache: "no-store" });
      if (!r.ok) return null;
      csrf = (await r.json()).csrf_token || csrf;
      return csrf;
    } catch (e) {
      return null;
    }
  }

  async function post(item) {
    const send = () =>
      fetch(item.url, {
        method: "POST",
        credentials: "same-origin",
        cache: "no-store",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, "Idempotency-Key": item.key },
        body: JSON.stringify(item.body),
      });
    let r = await send();
    if (r.status === 403) {
      // A page kept by the service worker may carry an old CSRF token: fetch the session's and retry once.
      if (await freshCsrf()) r = await send();
    }
    let body = {};
    try {
      body = await r.json();
    } catch (e) {
      body = {};
    }
    return { status: r.status, body };
  }

  // What to do with an answer: "done", "retry" (keep queued) or "refused" (the server will never take it).
  function verdict(res) {
    if (res.status === 200 || res.status === 201) return "done";
    if (res.status === 401 || res.status === 403 || res.status === 429 || res.status >= 500) return "retry";
    if (res.status === 409 && res.body.code !== "idempotency_key_reused") return "retry"; // busy: try later
    return "refused";
  }

  async function syncQueue() {
    if (syncing) return;
    syncing = true;
    try {
      for (const item of mine(loadQueue()).filter((i) => !i.error)) {
        let res;
        try {
          res = await post(item);
        } catch (e) {
          break; // still no connection: keep everything
        }
        const v = verdict(res);
        if (v === "done") {
          removeItem(item.key);
        } else if (v === "refused") {
          updateItem(item.key, { error: res.body.message || T("服务器拒绝（{status}）", { status: res.status }) });
        } else {
          if (res.status === 401) showStatus(T("登录已过期：请重新登录，本机保存的走访会在登录后同步"), "error");
          break;
        }
      }
    } finally {
      syncing = false;
      renderQueue();
      const left = mine(loadQueue()).filter((i) => !i.error).length;
      if (!left && statusBox.dataset.queued === "1") {
        statusBox.dataset.queued = "";
        showStatus(T("本机保存的走访已全部同步"), "ok");
      }
    }
  }

  // ------------------------------------------------------------------ the form

  function collect() {
    const data = new FormData(form);
    const names = data.getAll("persuader_name").map(String);
    const relations = data.getAll("persuader_relation").map(String);
    const persuaders = [];
    names.forEach((name, i) => {
      if (name.trim() || relations[i]) persuaders.push({ name: name.trim(), relation: relations[i] || "" });
    });
    const duration = String(data.get("duration_min") || "").trim();
    return {
      visited_at: String(data.get("visited_at") || ""),
      duration_min: /^\d{1,4}$/.test(duration) ? Number(duration) : 0,
      place: String(data.get("place") || ""),
      staff: String(data.get("staff") || ""),
      persuaders,
      concern_tags: data.getAll("concern_tags").map(String),
      concern_text: String(data.get("concern_text") || ""),
      attitude: String(data.get("attitude") || ""),
      outcome: String(data.get("outcome") || ""),
      next_step: String(data.get("next_step") || ""),
      next_due_on: String(data.get("next_due_on") || "") || null,
    };
  }

  function clearErrors() {
    form.querySelectorAll("[data-err]").forEach((el) => { el.textContent = ""; });
    form.querySelectorAll(".invalid").forEach((el) => el.classList.remove("invalid"));
  }

  function showErrors(details) {
    (details || []).forEach((d) => {
      const name = String(d.field || "").split(".")[0];
      const el = form.querySelector(`[data-err="${name}"]`);
      if (!el) return;
      el.textContent = el.textContent ? `${el.textContent}；${d.message}` : d.message;
      const box = el.closest(".field, .vf-group");
      if (box) box.classList.add("invalid");
    });
    const first = form.querySelector(".invalid");
    if (first) first.scrollIntoView({ block: "center" });
  }

  function persuaderRow() {
    const tpl = document.getElementById("vf-persuader-template");
    return tpl.content.firstElementChild.cloneNode(true);
  }

  function resetForm() {
    form.reset();
    const rows = document.getElementById("vf-persuaders");
    rows.replaceChildren(persuaderRow(), persuaderRow());
    form.elements.namedItem("visited_at").value = officeNow();
    form.elements.namedItem("idempotency_key").value = newKey();
    updateOffHours();
  }

  function updateOffHours() {
    const box = document.getElementById("vf-offhours");
    const kind = offHoursKind(form.elements.namedItem("visited_at").value);
    box.textContent = kind ? T("{kind}走访（将标记为{kind}）", { kind: kind }) : "";
    box.hidden = !kind;
  }

  async function onSubmit(event) {
    event.preventDefault();
    clearErrors();
    const body = collect();
    const problems = [];
    if (!body.visited_at) problems.push({ field: "visited_at", message: T("请填写走访时间") });
    if (!(body.duration_min >= 1 && body.duration_min <= 1440)) problems.push({ field: "duration_min", message: T("走访时长应为 1 至 1440 分钟") });
    body.persuaders.forEach((p, i) => {
      if (!p.name) problems.push({ field: "persuaders", message: T("第 {n} 位外请说客：请填写姓名", { n: i + 1 }) });
      if (!p.relation) problems.push({ field: "persuaders", message: T("第 {n} 位外请说客：请选择关系", { n: i + 1 }) });
    });
    if (!body.attitude) problems.push({ field: "attitude", message: T("请选择态度：支持、观望 或 抵触") });
    if (problems.length) {
      showErrors(problems);
      showStatus(T("请按提示修改后再保存"), "error");
      return;
    }
    const item = {
      key: newKey(),
      url: form.dataset.api,
      label: form.dataset.label,
      user: userId,
      body,
      queued_at: new Date().toISOString(),
    };
    // On the device first: from here on, the visit survives a dead connection or a closed browser.
    saveQueue(loadQueue().concat([item]));
    submitButton.disabled = true;
    try {
      if (!navigator.onLine) {
        queued();
        return;
      }
      let res;
      try {
        res = await post(item);
      } catch (e) {
        queued();
        return;
      }
      const v = verdict(res);
      if (v === "done") {
        removeItem(item.key);
        resetForm();
        showStatus(res.status === 201 ? T("走访已保存") : T("该走访之前已保存"), "ok");
        syncQueue();
      } else if (v === "refused") {
        // Fresh input the server refuses: back to the form (not the queue) with the reasons.
        removeItem(item.key);
        showErrors(res.body.details);
        showStatus(res.body.message || T("保存失败（{status}）", { status: res.status }), "error");
      } else {
        queued(res.status === 401 ? T("登录已过期：已保存在本机，重新登录后自动同步") : "");
      }
    } finally {
      submitButton.disabled = false;
    }
  }

  function queued(message) {
    resetForm();
    statusBox.dataset.queued = "1";
    const n = mine(loadQueue()).filter((i) => !i.error).length;
    showStatus(message || T("无网络：已保存在本机，恢复联网后自动同步（待同步 {n} 条）", { n: n }), "warn");
  }

  // ------------------------------------------------------------------ wiring

  form.addEventListener("submit", onSubmit);
  form.elements.namedItem("visited_at").addEventListener("input", updateOffHours);
  document.getElementById("vf-add-persuader").addEventListener("click", () => {
    const row = persuaderRow();
    document.getElementById("vf-persuaders").append(row);
    row.querySelector("input").focus();
  });
  form.addEventListener("click", (event) => {
    const button = event.target instanceof Element ? event.target.closest("[data-remove-persuader]") : null;
    if (button) button.closest(".vf-persuader").remove();
  });
  queueList.addEventListener("click", (event) => {
    const button = event.target instanceof Element ? event.target.closest("[data-drop-key]") : null;
    if (button && window.confirm(T("放弃这条未能同步的走访记录？"))) removeItem(button.dataset.dropKey);
  });
  document.getElementById("visit-sync").addEventListener("click", syncQueue);
  window.addEventListener("online", syncQueue);
  window.setInterval(() => {
    if (navigator.onLine && mine(loadQueue()).some((i) => !i.error)) syncQueue();
  }, RETRY_MS);

  if (!document.getElementById("visit-error")) {
    // A page kept by the service worker shows the time it was kept: start from now.
    form.elements.namedItem("visited_at").value = officeNow();
  }
  updateOffHours();
  renderQueue();
  syncQueue();
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/visits-sw.js", { scope: "/households/" }).catch(() => {});
  }
})();
