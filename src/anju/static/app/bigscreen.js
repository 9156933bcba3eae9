// The big screen (作战大屏): fetches /api/v1/projects/{id}/bigscreen and draws it on a 1920x1080 stage
// scaled to the window; refetches on every "change" of the project's event stream (server-sent
// events) and after every (re)connect, so a restarted server or a lost connection never leaves old
// numbers on the wall. No inline script: the Content-Security-Policy allows scripts from this site only.
(function () {
  "use strict";
  const T = window.T || ((text) => text);

  const body = document.body;
  const pid = body.dataset.project;
  const DATA_URL = "/api/v1/projects/" + pid + "/bigscreen";
  const EVENTS_URL = "/api/v1/projects/" + pid + "/events";
  const STAGE_W = 1920;
  const STAGE_H = 1080;
  const REFRESH_MS = 60000; // a refetch now and then even without events (the date turns at midnight)
  const charts = {};
  const fetchState = { busy: false, again: false, timer: null };
  let source = null;
  const marks = { change: 0, fetch: 0, data: 0 }; // for the browser test's timing breakdown (data-timing)
  let backoff = 1000;

  // --- layout ---------------------------------------------------------------------------------
  function fit() {
    const stage = document.getElementById("bs-stage");
    const scale = Math.min(window.innerWidth / STAGE_W, window.innerHeight / STAGE_H);
    const left = Math.max(0, (window.innerWidth - STAGE_W * scale) / 2);
    const top = Math.max(0, (window.innerHeight - STAGE_H * scale) / 2);
    stage.style.transform = "translate(" + left + "px," + top + "px) scale(" + scale + ")";
  }

  // --- formatting -----------------------------------------------------------------------------
  const nf = new Intl.NumberFormat("zh-CN");
  function int(n) {
    return n === null || n === undefined ? "—" : nf.format(n);
  }
  function pct(rate, digits) {
    if (rate === null || rate === undefined || rate === "") return "—";
    return (parseFloat(rate) * 100).toFixed(digits === undefined ? 1 : digits) + "%";
  }
  function signed(n) {
    if (n === null || n === undefined) return "—";
    return n > 0 ? "+" + int(n) : n < 0 ? "−" + int(-n) : T("持平");
  }
  function shortDate(iso) {
    if (!iso) return "—";
    const p = iso.split("-");
    return T("{y}年{m}月{d}日", { y: p[0], m: parseInt(p[1], 10), d: parseInt(p[2], 10) });
  }

  function setText(id, text) {
    const el = document.getElementById(id);
    if (!el || el.textContent === text) return;
    const first = el.textContent === "—";
    el.textContent = text;
    if (!first && el.classList.contains("bs-kpi-value")) {
      el.classList.remove("bs-flash");
      void el.offsetWidth; // restart the animation
      el.classList.add("bs-flash");
    }
  }

  // --- clock (office time, Asia/Shanghai) -------------------------------------------------------
  const dateFmt = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", year: "numeric", month: "long", day: "numeric", weekday: "long" });
  const timeFmt = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  function tick() {
    const now = new Date();
    setText("bs-date", dateFmt.format(now));
    setText("bs-time", timeFmt.format(now));
  }

  // --- charts ---------------------------------------------------------------------------------
  function chart(id) {
    if (typeof echarts === "undefined") return null;
    if (!charts[id]) {
      const el = document.getElementById(id);
      if (!el) return null;
      charts[id] = echarts.init(el, null, { renderer: "canvas" });
    }
    return charts[id];
  }

  const AXIS = { color: "#9fbfe8", fontSize: 20 };

  function drawBlocks(blocks) {
    const c = chart("chart-blocks");
    if (!c) return;
    const rows = blocks.slice().reverse(); // first block on top
    const height = Math.min(c.getHeight() - 16, Math.max(1, rows.length) * 76); // few blocks: no wide gaps
    c.setOption({
      animationDuration: 600,
      grid: { left: 8, right: 190, top: 8, height: height, containLabel: true },
      xAxis: { type: "value", max: 100, show: false },
      yAxis: { type: "category", data: rows.map((b) => b.name), axisLine: { show: false }, axisTick: { show: false }, axisLabel: Object.assign({ width: 150, overflow: "truncate" }, AXIS) },
      series: [{
        type: "bar",
        barWidth: rows.length > 8 ? 14 : 24,
        data: rows.map((b) => ({ value: +(parseFloat(b.sign_rate) * 100).toFixed(1), signed: b.signed, households: b.households })),
        showBackground: true,
        backgroundStyle: { color: "rgba(127,182,255,0.12)", borderRadius: 12 },
        itemStyle: {
          borderRadius: 12,
          color: new echarts.graphic.LinearGradient(0, 0, 1, 0, [{ offset: 0, color: "#1e6fd9" }, { offset: 1, color: "#5fd3ff" }]),
        },
        label: {
          show: true,
          position: "right",
          color: "#e6f0ff",
          fontSize: 20,
          formatter: (p) => p.value.toFixed(1) + "%  " + p.data.signed + "/" + p.data.households,
        },
      }],
    }, true);
  }

  function drawGauge(rate) {
    const c = chart("chart-gauge");
    if (!c) return;
    const value = +(parseFloat(rate || "0") * 100).toFixed(1);
    c.setOption({
      series: [{
        type: "gauge",
        startAngle: 220,
        endAngle: -40,
        min: 0,
        max: 100,
        radius: "92%",
        progress: { show: true, width: 26, roundCap: true, itemStyle: { color: "#ffd24a" } },
        axisLine: { roundCap: true, lineStyle: { width: 26, color: [[1, "rgba(127,182,255,0.15)"]] } },
        axisTick: { show: false },
        splitLine: { show: false },
        axisLabel: { show: false },
        pointer: { show: false },
        title: { offsetCenter: [0, "38%"], color: "#9fbfe8", fontSize: 24 },
        detail: { offsetCenter: [0, "-4%"], valueAnimation: true, formatter: "{value}%", color: "#ffd24a", fontSize: 60, fontWeight: 700 },
        data: [{ value: value, name: T("签约率") }],
      }],
    });
  }

  const STAGES = [["surveyed", T("已调查")], ["valued", T("已评估")], ["negotiating", T("协商中")], ["signed", T("已签约")], ["vacated", T("已腾空")], ["demolished", T("已拆除")]];

  function drawStages(totals) {
    const c = chart("chart-stages");
    if (!c) return;
    const rows = STAGES.slice().reverse();
    c.setOption({
      animationDuration: 600,
      grid: { left: 4, right: 64, top: 16, bottom: 8, containLabel: true },
      xAxis: { type: "value", show: false, max: Math.max(1, totals.households) },
      yAxis: { type: "category", data: rows.map((s) => s[1]), axisLine: { show: false }, axisTick: { show: false }, axisLabel: AXIS },
      series: [{
        type: "bar",
        barWidth: 18,
        data: rows.map((s) => totals[s[0]] || 0),
        showBackground: true,
        backgroundStyle: { color: "rgba(127,182,255,0.10)", borderRadius: 9 },
        itemStyle: { borderRadius: 9, color: (p) => (p.name === T("已签约") ? "#ffd24a" : "#3d8bfd") },
        label: { show: true, position: "right", color: "#e6f0ff", fontSize: 20, formatter: (p) => int(p.value) },
      }],
    }, true);
  }

  // --- the lists ------------------------------------------------------------------------------
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function drawRanking(ranking) {
    const list = document.getElementById("bs-ranking");
    const items = ranking.map((t) => {
      const li = el("li");
      li.append(el("span", "bs-rank", String(t.rank)), el("span", "bs-team", t.name), el("span", "bs-team-signed", T("{n} 户", { n: int(t.signed) })), el("span", "bs-team-rate", pct(t.sign_rate)));
      const bar = el("span", "bs-team-bar");
      const fill = el("i");
      fill.style.width = Math.min(100, parseFloat(t.sign_rate) * 100).toFixed(1) + "%";
      bar.append(fill);
      li.append(bar);
      li.title = T("{name}：签约 {signed}/{households} 户，近7日 {last7} 户", { name: t.name, signed: t.signed, households: t.households, last7: t.signed_last7 });
      return li;
    });
    list.replaceChildren(...items);
    document.getElementById("bs-ranking-empty").hidden = ranking.length > 0;
  }

  function drawLatest(latest) {
    const box = document.getElementById("bs-latest");
    if (!latest.length) {
      box.replaceChildren(el("span", "bs-muted", T("暂无签约")));
      box.classList.remove("moving");
      return;
    }
    const one = () => latest.map((s) => {
      const item = el("span", "bs-ticker-item");
      const when = s.time ? s.signed_on.slice(5) + " " + s.time : s.signed_on.slice(5);
      item.append(el("b", null, when), document.createTextNode(T("{code} {name} 户签约", { code: s.code, name: s.head_name })), el("em", null, [s.block, s.team].filter(Boolean).join(" · ")));
      return item;
    });
    // Two copies side by side scroll by half their width: a seamless loop.
    box.replaceChildren(...one(), ...one());
    box.style.setProperty("--bs-marquee", Math.max(20, latest.length * 6) + "s");
    box.classList.add("moving");
  }

  // --- the data -------------------------------------------------------------------------------
  function render(d) {
    const t = d.totals;
    const s = d.schedule;
    setText("bs-name", d.name);
    setText("kpi-signed", int(t.signed));
    setText("kpi-households", int(t.households));
    setText("kpi-rate", pct(t.rates.signed));
    setText("kpi-target", int(s.target));
    setText("kpi-today", int(d.today.signed));
    setText("kpi-today-change", signed(d.today.change));
    setText("kpi-vacated", int(t.vacated));
    setText("kpi-vacated-rate", pct(t.rates.vacated));
    setText("kpi-demolished", int(t.demolished));
    setText("kpi-demolished-rate", pct(t.rates.demolished));
    const day = d.days_since_launch === null || d.days_since_launch === undefined ? "—" : String(d.days_since_launch);
    setText("kpi-days", day);
    setText("kpi-days-head", day);
    setText("kpi-deadline", s.deadline_on ? (s.overdue ? T("已逾期") : T("距截止 {n} 天", { n: s.days_left })) : T("未设截止日期"));
    setText("bs-deadline", s.deadline_on || T("未设"));
    setText("kpi-required", s.remaining === 0 ? T("已完成") : s.required_per_day_whole === null ? "—" : int(s.required_per_day_whole));
    setText("kpi-actual", s.actual_per_day);
    setText("kpi-track", !s.deadline_on ? "" : s.remaining === 0 ? T("已完成") : s.overdue ? T("已逾期") : s.on_track ? T("达标") : T("落后"));
    const box = document.getElementById("kpi-schedule");
    box.classList.toggle("behind", s.on_track === false);
    box.classList.toggle("ahead", s.on_track === true);
    const f = d.forecast;
    setText("bs-forecast", f.date ? shortDate(f.date) : T("数据不足"));
    setText("bs-forecast-band", f.date && f.low && f.high ? T("区间 {low} 至 {high}", { low: shortDate(f.low), high: shortDate(f.high) }) : (f.note || ""));
    setText("bs-last-signed", d.last_signed_at ? d.last_signed_at.replace("T", " ").slice(0, 16) : "—");
    drawRanking(d.ranking);
    drawLatest(d.latest);
    body.dataset.renders = String(parseInt(body.dataset.renders || "0", 10) + 1);
    // The numbers are on the screen now; the charts follow in the next task (they take longer).
    setTimeout(() => {
      drawBlocks(d.blocks);
      drawGauge(t.rates.signed);
      drawStages(t);
    }, 0);
  }

  function refetch() {
    if (fetchState.busy) {
      fetchState.again = true; // one more after this one: the change may have come after its read
      return;
    }
    fetchState.busy = true;
    marks.fetch = performance.now();
    fetch(DATA_URL, { credentials: "same-origin", headers: { Accept: "application/json" }, cache: "no-store" })
      .then((r) => {
        if (r.status === 401) {
          window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname));
          throw new Error("login");
        }
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then((d) => {
        marks.data = performance.now();
        render(d);
        const done = performance.now();
        body.dataset.timing = JSON.stringify({
          event_to_fetch: Math.round(marks.fetch - marks.change),
          fetch: Math.round(marks.data - marks.fetch),
          render: Math.round(done - marks.data),
        });
      })
      .catch(() => {
        if (body.dataset.live === "live") setLive("reconnecting");
      })
      .finally(() => {
        fetchState.busy = false;
        if (fetchState.again) {
          fetchState.again = false;
          refetch();
        }
      });
  }

  function schedule(delay) {
    clearTimeout(fetchState.timer);
    fetchState.timer = setTimeout(refetch, delay);
  }

  // --- the event stream -----------------------------------------------------------------------
  const LIVE_TEXT = { connecting: T("连接中"), live: T("实时"), reconnecting: T("重连中…") };
  function setLive(state) {
    body.dataset.live = state;
    setText("bs-live-text", LIVE_TEXT[state]);
  }

  function connect() {
    if (source) source.close();
    source = new EventSource(EVENTS_URL);
    source.addEventListener("ready", (e) => {
      const d = JSON.parse(e.data);
      body.dataset.worker = String(d.worker);
      backoff = 1000;
      setLive("live");
      schedule(0); // (re)connected: changes may have been missed meanwhile
    });
    source.addEventListener("change", (e) => {
      const d = JSON.parse(e.data);
      body.dataset.origins = (d.origins || []).join(",");
      marks.change = performance.now();
      schedule(20);
    });
    source.addEventListener("error", () => {
      setLive("reconnecting");
      // EventSource retries by itself after a dropped connection; after a refused one (the server
      // answered with an error while restarting) it gives up, so start a new one.
      if (source.readyState === EventSource.CLOSED) {
        source.close();
        schedule(0); // a refusal may be an expired login: the data request then leads to the login page
        setTimeout(connect, backoff);
        backoff = Math.min(backoff * 2, 15000);
      }
    });
  }

  function start() {
    fit();
    window.addEventListener("resize", () => {
      fit();
      Object.values(charts).forEach((c) => c.resize());
    });
    tick();
    setInterval(tick, 1000);
    setInterval(() => schedule(0), REFRESH_MS);
    connect();
    schedule(0);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
  window.addEventListener("beforeunload", () => source && source.close());
})();
