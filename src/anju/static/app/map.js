// Battle map (战果图): parcels coloured by stage, hard cases marked, block boundaries, and the
// household card on click. Data comes from the JSON route named in data-src (same filters as the
// page); no tile server is needed, data-tiles (the optional tile URL setting) adds a base layer.
(function () {
  "use strict";
  const T = window.T || ((text) => text);

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function fact(dl, label, value) {
    dl.appendChild(el("dt", "", label));
    dl.appendChild(el("dd", "", value === "" || value === null || value === undefined ? "—" : value));
  }

  function card(h) {
    const box = el("div", "map-card");
    const head = el("div", "map-card-head");
    head.appendChild(el("span", "", h.code + " " + h.head_name));
    head.appendChild(el("span", "badge badge-" + h.stage, h.stage_label));
    if (h.difficulty > 0) head.appendChild(el("span", "tag", h.difficulty_label));
    box.appendChild(head);
    const dl = el("dl");
    fact(dl, T("态度"), h.attitude_label || T("未走访"));
    fact(dl, T("包户专班"), h.team);
    fact(dl, T("责任人"), h.person);
    fact(dl, T("最近走访"), h.last_visit_on ? T("{on}（共 {n} 次）", { on: h.last_visit_on, n: h.visit_count }) : T("尚无走访"));
    fact(dl, T("区块"), h.block);
    box.appendChild(dl);
    const link = el("a", "open", T("查看户档案 →"));
    link.href = h.url;
    box.appendChild(link);
    return box;
  }

  function popupFor(props) {
    const box = el("div", "map-popup");
    const title = T("宗地") + " " + props.parcel_code + (props.block ? " · " + props.block : "");
    box.appendChild(el("div", "map-popup-title", title + (props.households.length > 1 ? " · " + T("{n} 户", { n: props.households.length }) : "")));
    props.households.forEach((h) => box.appendChild(card(h)));
    return box;
  }

  function parcelStyle(feature) {
    const p = feature.properties;
    return {
      className: "parcel parcel-" + p.stage + (p.hard ? " parcel-hard" : ""),
      color: p.hard ? "#c4302b" : "#ffffff",
      weight: p.hard ? 3 : 1,
      dashArray: p.hard ? "5 3" : null,
      fillColor: p.colour,
      fillOpacity: 0.85,
    };
  }

  function draw(map, box, data, status) {
    const blocks = L.geoJSON(
      { type: "FeatureCollection", features: data.blocks },
      {
        interactive: false,
        style: { className: "block-line", color: "#1f2329", weight: 1.5, dashArray: "6 4", fill: false },
        onEachFeature: (feature, layer) =>
          layer.bindTooltip(feature.properties.name, { permanent: true, direction: "center", className: "map-block-label" }),
      }
    ).addTo(map);
    const hardMarks = L.layerGroup();
    // SVG paths (with their stage classes) up to a few thousand parcels, a canvas beyond.
    const renderer = data.features.length > 3000 ? L.canvas({ padding: 0.3 }) : undefined;
    const parcels = L.geoJSON(data, {
      renderer: renderer,
      style: parcelStyle,
      pointToLayer: (feature, latlng) => L.circleMarker(latlng, { radius: 7 }),
      onEachFeature: (feature, layer) => {
        layer.bindPopup(() => popupFor(feature.properties), { maxWidth: 320, autoPanPadding: [16, 16] });
        layer.bindTooltip(feature.properties.parcel_code + " · " + feature.properties.stage_label, { sticky: true });
        if (feature.properties.hard) {
          const centre = layer.getBounds ? layer.getBounds().getCenter() : layer.getLatLng();
          const mark = L.marker(centre, {
            icon: L.divIcon({ className: "", html: '<span class="map-hard-mark">' + T("难") + "</span>", iconSize: [18, 18] }),
            keyboard: false,
            title: T("难点户"),
          });
          mark.on("click", () => layer.openPopup());
          hardMarks.addLayer(mark);
        }
      },
    }).addTo(map);
    hardMarks.addTo(map);
    // Fit the parcels shown (a team member's few, not the whole project); the blocks when none.
    const bounds = parcels.getBounds().isValid() ? parcels.getBounds() : blocks.getBounds();
    if (bounds.isValid()) {
      map.fitBounds(bounds, { padding: [24, 24], maxZoom: 19 });
    } else {
      map.setView([35, 105], 4);
    }
    // Many "难" marks on a whole-project view hide the colours: beyond a few dozen they show from
    // one zoom step in (the red dashed outline always marks a hard case).
    const fitZoom = map.getZoom();
    const toggleMarks = () => {
      const show = hardMarks.getLayers().length <= 30 || map.getZoom() >= fitZoom + 1;
      if (show && !map.hasLayer(hardMarks)) hardMarks.addTo(map);
      if (!show && map.hasLayer(hardMarks)) map.removeLayer(hardMarks);
    };
    map.on("zoomend", toggleMarks);
    toggleMarks();
    box.dataset.parcels = String(data.features.length);
    box.classList.add("map-ready");
    if (!data.features.length && status) status.textContent = T("所示范围内没有带图形的宗地。");
  }

  function init(box) {
    if (!window.L) return;
    const status = document.getElementById("battle-map-status");
    const map = L.map(box, { attributionControl: Boolean(box.dataset.tiles), zoomSnap: 0.25 });
    if (box.dataset.tiles) L.tileLayer(box.dataset.tiles, { maxZoom: 20 }).addTo(map);
    map.setView([35, 105], 4);
    // The page carries the data it was rendered with (one computation per view); the JSON route is
    // the fallback and what other clients use.
    const embedded = document.getElementById("battle-map-data");
    const load = embedded
      ? Promise.resolve(JSON.parse(embedded.dataset.map))
      : fetch(box.dataset.src, { credentials: "same-origin", headers: { Accept: "application/json" } }).then((r) => {
          if (!r.ok) throw new Error("HTTP " + r.status);
          return r.json();
        });
    load
      .then((data) => draw(map, box, data, status))
      .catch(() => {
        if (status) status.textContent = T("地图数据加载失败，请刷新页面重试。");
      });
    window.addEventListener("resize", () => map.invalidateSize());
  }

  window.addEventListener("load", () => {
    const box = document.getElementById("battle-map");
    if (box) init(box);
  });
})();
