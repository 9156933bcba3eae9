// Grid map (网格地图): every grid's boundary coloured by community, the grid's card (worker, phone,
// building leaders with 党员 marks) on click. Data comes from data-src (GeoJSON of the grids); no
// tile server is needed, data-tiles adds a base layer. A layer of open requests is drawn from
// data-requests when the page names one, or by window.AnjuGridMap.addRequests(geojson).
(function () {
  "use strict";

  const PALETTE = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
    "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#6b6ecf", "#d37295",
  ];

  function colour(i) {
    return PALETTE[i % PALETTE.length];
  }

  const T = window.T || ((text) => text); // page text in the reader's language (app.js)

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function showCard(target, p) {
    target.textContent = "";
    target.appendChild(el("h2", "", p.name));
    target.appendChild(el("p", "muted small", p.community + " · " + p.code));
    const dl = el("dl", "grid-facts");
    const fact = (label, value) => {
      dl.appendChild(el("dt", "", label));
      dl.appendChild(el("dd", "", value === "" || value === null || value === undefined ? "—" : value));
    };
    fact(T("网格员"), p.worker || T("未配"));
    fact(T("公开电话"), p.phone);
    fact(T("户数"), p.households);
    fact(T("楼栋"), p.buildings);
    target.appendChild(dl);
    target.appendChild(el("h3", "", T("楼栋长")));
    const ul = el("ul", "public-leaders");
    (p.leaders || []).forEach((l) => {
      const li = el("li", "", l.building + " " + l.name + " ");
      if (l.party_member) li.appendChild(el("span", "badge party-badge", T("党员")));
      ul.appendChild(li);
    });
    if (!ul.children.length) ul.appendChild(el("li", "muted", T("暂无")));
    target.appendChild(ul);
    const links = el("p", "small");
    const open = el("a", "", T("网格详情 →"));
    open.href = "/grids/" + encodeURIComponent(p.id);
    const card = el("a", "", T("公开联系卡"));
    card.href = "/public/grids/" + encodeURIComponent(p.code);
    links.appendChild(open);
    links.appendChild(document.createTextNode(" · "));
    links.appendChild(card);
    target.appendChild(links);
  }

  function requestLayer(map, data) {
    const layer = L.geoJSON(data, {
      pointToLayer: (feature, latlng) =>
        L.circleMarker(latlng, { radius: 6, color: "#c4302b", weight: 2, fillColor: "#fff", fillOpacity: 1, className: "grid-request" }),
      onEachFeature: (feature, layer) => {
        const p = feature.properties || {};
        if (p.title || p.name) layer.bindTooltip(String(p.title || p.name));
      },
    });
    layer.addTo(map);
    return layer;
  }

  function start() {
    const box = document.getElementById("grid-map");
    if (!box || typeof L === "undefined") return;
    const status = document.getElementById("grid-map-status");
    const target = document.getElementById("grid-card");
    const map = L.map(box, { zoomControl: true, attributionControl: false, zoomSnap: 0.25 });
    if (box.dataset.tiles) L.tileLayer(box.dataset.tiles, { maxZoom: 19 }).addTo(map);
    map.setView([30.2, 120.1], 13);
    const api = { map: map, grids: null, addRequests: (data) => requestLayer(map, data) };
    window.AnjuGridMap = api;
    fetch(box.dataset.src, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((r) => {
        if (!r.ok) throw new Error(String(r.status));
        return r.json();
      })
      .then((data) => {
        const shown = data.features.filter((f) => f.geometry);
        const byCode = {};
        shown.forEach((f) => (byCode[f.properties.community_code] = f.properties.colour));
        document.querySelectorAll("#grid-legend li").forEach((li) => {
          const i = byCode[li.dataset.community];
          const sw = li.querySelector(".swatch");
          if (sw && i !== undefined) sw.style.background = colour(i);
        });
        let selected = null;
        const layer = L.geoJSON({ type: "FeatureCollection", features: shown }, {
          style: (f) => ({
            className: "grid-shape",
            color: "#ffffff",
            weight: 1.5,
            fillColor: colour(f.properties.colour),
            fillOpacity: 0.6,
          }),
          onEachFeature: (feature, shape) => {
            shape.bindTooltip(feature.properties.name, { sticky: true });
            shape.on("click", () => {
              if (selected) layer.resetStyle(selected);
              selected = shape;
              shape.setStyle({ color: "#1f2329", weight: 3, fillOpacity: 0.8 });
              if (target) showCard(target, feature.properties);
            });
          },
        }).addTo(map);
        api.grids = layer;
        if (shown.length) map.fitBounds(layer.getBounds(), { padding: [12, 12] });
        if (status) {
          const missing = data.features.length - shown.length;
          status.textContent =
            T("共 {n} 个网格", { n: data.features.length }) +
            (missing ? T("，其中 {n} 个未上图", { n: missing }) : "");
        }
        box.dataset.ready = "1";
        if (box.dataset.requests) {
          fetch(box.dataset.requests, { credentials: "same-origin" })
            .then((r) => (r.ok ? r.json() : null))
            .then((req) => req && requestLayer(map, req));
        }
      })
      .catch(() => {
        if (status) status.textContent = T("网格数据加载失败，请刷新页面重试。");
      });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
