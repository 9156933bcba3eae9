// The selection big screen (选房大屏): fetches /api/v1/selection-events/{id}/screen and draws it on a
// 1920x1080 stage scaled to the window; refetches on every "change" or "resync" of the event's stream
// (server-sent events) and after every (re)connect, so a lost connection or a restarted server never
// leaves an old state on the wall. No inline script: the Content-Security-Policy allows scripts from
// this site only.
(function () {
  "use strict";

  const body = document.body;
  const eid = body.dataset.event;
  const DATA_URL = "/api/v1/selection-events/" + eid + "/screen";
  const EVENTS_URL = "/api/v1/selection-events/" + eid + "/events";
  const STAGE_W = 1920;
  const STAGE_H = 1080;
  const REFRESH_MS = 60000; // a refetch now and then even without events
  const STATUSES = ["available", "selected", "reserved", "frozen", "delivered"];
  const T = window.T || ((text) => text); // page text in the reader's language (app.js)
  const EVENT_STATUS = { planned: T("筹备中"), open: T("进行中"), closed: T("已结束") };
  const ORDER_KIND = { sign_order: T("按签约顺序号"), lottery: T("公开摇号") };
  const STATUS_ZH = {
    available: T("可选"),
    selected: T("已选"),
    reserved: T("保留"),
    frozen: T("冻结"),
    delivered: T("已交付"),
  };
  const fetchState = { busy: false, again: false, timer: null };
  const marks = { change: 0, fetch: 0, data: 0 }; // for the browser test's timing breakdown (data-timing)
  const grid = { key: "", cells: new Map(), status: new Map(), page: 0, pages: [], last: [] };
  // Buildings that would shrink below MIN_CELL px per flat are shown a page at a time, each page for
  // PAGE_MS (a projector across a hall cannot show a flat smaller than that).
  const MIN_CELL = 10;
  const PAGE_MS = 12000;
  let source = null;
  let backoff = 1000;
  let lastCurrent = null;

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
  function area(a) {
    return a === null || a === undefined ? "—" : parseFloat(a).toFixed(2).replace(/\.?0+$/, "") + " ㎡";
  }
  const dateFmt = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", year: "numeric", month: "long", day: "numeric", weekday: "long" });
  const timeFmt = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  const hmFmt = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit", hour12: false });
  function hm(iso) {
    if (!iso) return "—";
    const d = new Date(/[zZ]|[+-]\d\d:\d\d$/.test(iso) ? iso : iso + "Z");
    return isNaN(d.getTime()) ? "—" : hmFmt.format(d);
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function setText(id, text) {
    const e = document.getElementById(id);
    if (e && e.textContent !== text) e.textContent = text;
  }
  function tick() {
    const now = new Date();
    setText("bs-date", dateFmt.format(now));
    setText("bs-time", timeFmt.format(now));
  }

  // --- the household being served, the next ones, the counts -----------------------------------
  function drawCurrent(d) {
    const c = d.current;
    document.getElementById("ss-current-body").hidden = !c;
    document.getElementById("ss-cur-none").hidden = !!c;
    document.getElementById("ss-cur-none").textContent = d.status === "planned" ? T("选房尚未开始") : d.status === "closed" ? T("选房已结束") : T("暂无正在选房的户");
    if (!c) {
      lastCurrent = null;
      return;
    }
    setText("ss-cur-pos", String(c.position));
    setText("ss-cur-code", c.code);
    setText("ss-cur-name", c.name_masked || "—");
    setText("ss-cur-sign", c.sign_no === null ? "—" : String(c.sign_no));
    setText("ss-cur-area", area(c.entitled_area));
    setText("ss-cur-max", c.max_area === null ? "—" : area(c.max_area) + (c.max_flats ? T("，最多 {n} 套", { n: c.max_flats }) : ""));
    if (lastCurrent !== null && lastCurrent !== c.household_id) {
      const box = document.getElementById("ss-current");
      box.classList.remove("bs-flash-box");
      void box.offsetWidth; // restart the animation
      box.classList.add("bs-flash-box");
    }
    lastCurrent = c.household_id;
  }

  function drawNext(upcoming) {
    const items = upcoming.map((h) => {
      const li = el("li", h.status === "skipped" ? "skipped" : "");
      li.append(el("span", "ss-p", String(h.position)), el("span", "ss-c", h.code), el("span", "ss-n", h.name_masked || ""));
      return li;
    });
    document.getElementById("ss-next").replaceChildren(...items);
    document.getElementById("ss-next-empty").hidden = upcoming.length > 0;
  }

  function drawCounts(d) {
    const n = d.entry_counts;
    const total = Object.values(n).reduce((a, b) => a + b, 0);
    setText("ss-done", int(n.done));
    setText("ss-waiting", int((n.waiting || 0) + (n.current || 0)));
    setText("ss-skipped", int(n.skipped));
    setText("ss-total", int(total));
    STATUSES.forEach((s) => setText("ss-n-" + s, int(d.flat_counts[s] || 0)));
    setText("ss-status", EVENT_STATUS[d.status] || d.status_label);
    setText("ss-kind", ORDER_KIND[d.order_kind] || d.order_kind_label);
    setText("ss-seed", d.order_kind === "lottery" && d.seed ? T("种子 {seed}", { seed: d.seed }) : "");
  }

  // --- the flats: one grid per building (floors top down, units left to right) ---------------------
  // Each building's grid shape in cells: columns per unit (the most flats one floor of it has),
  // a narrow gap between units, and rows from the top floor down.
  function shape(b) {
    const perUnit = new Map();
    let top = b.floors || 0;
    let bottom = Infinity;
    const seen = new Map();
    b.flats.forEach((f) => {
      const key = f.unit + ":" + f.floor;
      const i = seen.get(key) || 0;
      seen.set(key, i + 1);
      perUnit.set(f.unit, Math.max(perUnit.get(f.unit) || 0, i + 1));
      top = Math.max(top, f.floor);
      bottom = Math.min(bottom, f.floor);
    });
    if (bottom === Infinity) bottom = 1;
    const units = Array.from(perUnit.keys()).sort((a, b2) => a - b2);
    const offset = new Map();
    let col = 1;
    units.forEach((u, i) => {
      if (i > 0) col += 1; // the gap track between two units
      offset.set(u, col);
      col += perUnit.get(u);
    });
    return { units: units, perUnit: perUnit, offset: offset, cols: Math.max(1, col - 1), cells: Math.max(1, col - units.length), gaps: Math.max(0, units.length - 1), top: top, rows: Math.max(1, top - bottom + 1), nameW: nameWidth(labelOf(b)) };
  }

  const HEAD_H = 44; // two lines: the building, then what is left
  const BLD_GAP = 12;
  const MIN_W = 76;
  const gapOf = (s) => (s >= 14 ? 2 : 1);
  const unitGapOf = (s) => Math.max(3, Math.ceil(s / 3));

  // The largest cell size (px) at which every building fits the panel (shelf packing, as flex-wrap lays them out).
  // A building's name on the screen: with several estates each names its estate.
  function labelOf(b) {
    return (grid.several ? b.estate_name + " " : "") + b.code;
  }

  // The width the building's name needs on its head line (the names do not wrap): measured once per
  // name with the head's font, so the packing below matches what the browser lays out.
  const measure = { ctx: null, cache: new Map() };
  function nameWidth(text) {
    if (!measure.cache.has(text)) {
      if (!measure.ctx) {
        measure.ctx = document.createElement("canvas").getContext("2d");
        measure.ctx.font = "bold 18px " + getComputedStyle(body).fontFamily;
      }
      measure.cache.set(text, Math.ceil(measure.ctx.measureText(text).width) + 4);
    }
    return measure.cache.get(text);
  }

  function cellSize(shapes, width, height) {
    for (let s = 80; s >= 3; s--) {
      const gap = gapOf(s);
      let x = 0;
      let shelf = 0;
      let y = 0;
      let ok = true;
      for (const sh of shapes) {
        const w = Math.max(MIN_W, sh.nameW || 0, sh.cells * s + sh.gaps * unitGapOf(s) + (sh.cols - 1) * gap);
        const h = HEAD_H + 4 + sh.rows * s + (sh.rows - 1) * gap;
        if (w > width) {
          ok = false;
          break;
        }
        if (x > 0 && x + w > width) {
          y += shelf + BLD_GAP;
          x = 0;
          shelf = 0;
        }
        x += w + BLD_GAP;
        shelf = Math.max(shelf, h);
      }
      if (ok && y + shelf <= height) return s;
    }
    return 3;
  }

  function buildGrid(buildings, box) {
    const shapes = buildings.map(shape);
    const s = Math.min(cellSize(shapes, box.clientWidth, box.clientHeight), grid.cellCap || 80);
    const font = Math.floor(s * 0.36);
    grid.cells.clear();
    const blocks = buildings.map((b, i) => {
      const sh = shapes[i];
      const block = el("div", "ss-bld");
      block.dataset.building = String(b.id);
      const head = el("div", "ss-bld-head");
      const name = el("b", null, labelOf(b));
      name.title = name.textContent;
      const left = el("span", "ss-left-n");
      left.id = "ss-left-" + b.id;
      head.append(name, left);
      const g = el("div", "ss-grid");
      // Cells as tall as the fit allows, and wide enough to fill the building's head width.
      const cw = Math.max(s, Math.floor((MIN_W - sh.gaps * unitGapOf(s) - (sh.cols - 1) * gapOf(s)) / sh.cells));
      const tracks = [];
      sh.units.forEach((u, k) => {
        if (k > 0) tracks.push(unitGapOf(s) + "px");
        for (let j = 0; j < sh.perUnit.get(u); j++) tracks.push(cw + "px");
      });
      g.style.gridTemplateColumns = tracks.join(" ") || cw + "px";
      g.style.gridAutoRows = s + "px";
      g.style.gap = gapOf(s) + "px";
      const used = new Map();
      b.flats.forEach((f) => {
        const key = f.unit + ":" + f.floor;
        const i2 = used.get(key) || 0;
        used.set(key, i2 + 1);
        const cell = el("div", "ss-cell st-" + f.status, s >= 26 ? f.number : undefined);
        cell.style.gridColumn = String(sh.offset.get(f.unit) + i2);
        cell.style.gridRow = String(sh.top - f.floor + 1);
        if (s >= 26) cell.style.fontSize = font + "px";
        cell.title = f.code + " " + (f.flat_type ? T("{code}户型 ", { code: f.flat_type }) : "") + area(f.gross_area) + " " + STATUS_ZH[f.status];
        cell.dataset.flat = String(f.id);
        grid.cells.set(f.id, cell);
        g.append(cell);
      });
      block.append(head, g);
      return block;
    });
    box.replaceChildren(...blocks);
    body.dataset.cell = String(s);
  }

  // Pages of buildings in order: the fewest pages of equal length on which every building keeps
  // cells of at least MIN_CELL px. All pages then use the smallest page's cell size, so a page of a
  // few buildings does not jump to giant cells.
  function paginate(buildings, box) {
    const fits = (page) => cellSize(page.map(shape), box.clientWidth, box.clientHeight) >= MIN_CELL;
    for (let k = 1; k <= buildings.length; k++) {
      const size = Math.ceil(buildings.length / k);
      const pages = [];
      for (let i = 0; i < buildings.length; i += size) pages.push(buildings.slice(i, i + size));
      if (pages.every((p) => p.length === 1 || fits(p))) return pages;
    }
    return buildings.map((b) => [b]);
  }

  function drawPager() {
    const pager = document.getElementById("ss-pager");
    if (!pager) return;
    pager.hidden = grid.pages.length < 2;
    pager.textContent = T("第 {n} / {total} 屏", { n: grid.page + 1, total: grid.pages.length });
    body.dataset.pages = String(grid.pages.length);
    body.dataset.page = String(grid.page + 1);
  }

  function drawFlats(all) {
    const box = document.getElementById("ss-buildings");
    document.getElementById("ss-buildings-empty").hidden = all.length > 0;
    grid.last = all;
    grid.several = all.some((o) => o.estate_id !== all[0].estate_id);
    const shapeKey = all.map((b) => b.id + ":" + b.flats.length).join("|") + "@" + box.clientWidth + "x" + box.clientHeight;
    if (shapeKey !== grid.shapeKey) {
      grid.pages = paginate(all, box);
      grid.cellCap = Math.min(...grid.pages.map((p) => cellSize(p.map(shape), box.clientWidth, box.clientHeight)));
      grid.shapeKey = shapeKey;
      if (grid.page >= grid.pages.length) grid.page = 0;
    }
    const ids = new Set((grid.pages[grid.page] || []).map((b) => b.id));
    const buildings = all.filter((b) => ids.has(b.id));
    drawPager();
    const key = buildings.map((b) => b.id + ":" + b.flats.map((f) => f.id).join(",")).join("|") + "@" + box.clientWidth + "x" + box.clientHeight;
    const first = grid.key === "";
    if (key !== grid.key) {
      buildGrid(buildings, box);
      grid.key = key;
    }
    buildings.forEach((b) => {
      b.flats.forEach((f) => {
        const cell = grid.cells.get(f.id);
        const before = grid.status.get(f.id);
        if (cell && (before !== f.status || !cell.classList.contains("st-" + f.status))) {
          cell.className = "ss-cell st-" + f.status;
          cell.title = f.code + " " + (f.flat_type ? T("{code}户型 ", { code: f.flat_type }) : "") + area(f.gross_area) + " " + STATUS_ZH[f.status];
          if (!first && before !== undefined && before !== f.status) {
            void cell.offsetWidth;
            cell.classList.add("ss-new");
          }
        }
        grid.status.set(f.id, f.status);
      });
      setText("ss-left-" + b.id, T("剩 {n} / {total}", { n: int(b.counts.available), total: int(b.flats.length) }));
    });
  }

  function drawTypes(types, estates) {
    // Types repeat across estates (A in each): with several estates each names its estate.
    const several = types.some((t) => t.estate_id !== types[0].estate_id);
    const estateName = new Map((estates || []).map((e) => [e.id, e.name]));
    const items = types.map((t) => {
      const li = el("li", t.available === 0 ? "none" : "");
      const prefix = several && estateName.has(t.estate_id) ? estateName.get(t.estate_id).replace(/^.*·/, "") + " " : "";
      const name = el("span", null, prefix + t.code + (t.name ? " " + t.name : ""));
      if (t.gross_area) name.append(el("em", null, area(t.gross_area)));
      const n = el("b", null, int(t.available));
      n.append(el("small", null, T(" / {n} 套", { n: int(t.total) })));
      li.append(name, n);
      return li;
    });
    document.getElementById("ss-types").replaceChildren(...items);
  }

  function drawRecent(recent) {
    const items = recent.map((r) => {
      const li = el("li");
      const when = el("time", null, hm(r.selected_at));
      when.dateTime = r.selected_at;
      li.append(when, el("span", null, r.household_code), el("b", null, r.flat_code));
      return li;
    });
    document.getElementById("ss-recent").replaceChildren(...items);
    document.getElementById("ss-recent-empty").hidden = recent.length > 0;
  }

  // --- the data -------------------------------------------------------------------------------
  function render(d) {
    setText("ss-name", d.name);
    drawCurrent(d);
    drawNext(d.upcoming);
    drawCounts(d);
    drawFlats(d.buildings);
    drawTypes(d.flat_types, d.estates);
    drawRecent(d.recent);
    body.dataset.current = d.current ? d.current.code : "";
    body.dataset.renders = String(parseInt(body.dataset.renders || "0", 10) + 1);
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
        body.dataset.timing = JSON.stringify({
          event_to_fetch: Math.round(marks.fetch - marks.change),
          fetch: Math.round(marks.data - marks.fetch),
          render: Math.round(performance.now() - marks.data),
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
  const LIVE_TEXT = {
    connecting: T("连接中"),
    live: T("实时"),
    reconnecting: T("重连中…"),
  };
  function setLive(state) {
    body.dataset.live = state;
    setText("bs-live-text", LIVE_TEXT[state]);
  }

  function onChange(e) {
    const d = JSON.parse(e.data);
    body.dataset.origins = (d.origins || []).join(",");
    marks.change = performance.now();
    schedule(20);
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
    source.addEventListener("change", onChange);
    source.addEventListener("resync", onChange);
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
    window.addEventListener("resize", fit);
    tick();
    setInterval(tick, 1000);
    setInterval(() => {
      if (grid.pages.length < 2) return;
      grid.page = (grid.page + 1) % grid.pages.length;
      drawFlats(grid.last);
    }, PAGE_MS);
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
