// The map point of the 居民点单 form: the grids' boundaries (data-src, public GeoJSON) as the only
// background (no tile server needed), a tap sets the point, "用我的位置" asks the phone. The point
// goes into the hidden lng/lat fields with 6 decimals; without a point the address is required by
// the server.
(function () {
  "use strict";
  const T = window.T || ((text) => text); // page text in the reader's language (app.js)

  function start() {
    const box = document.getElementById("req-map");
    if (!box || typeof L === "undefined") return;
    const lng = document.getElementById("rq-lng");
    const lat = document.getElementById("rq-lat");
    const label = document.getElementById("req-point");
    const map = L.map(box, { attributionControl: false, zoomSnap: 0.25 });
    map.setView([30.2, 120.1], 13);
    let marker = null;

    function place(latlng, pan) {
      const x = latlng.lng.toFixed(6);
      const y = latlng.lat.toFixed(6);
      lng.value = x;
      lat.value = y;
      if (marker) marker.setLatLng(latlng);
      else marker = L.circleMarker(latlng, { radius: 8, color: "#c4302b", weight: 3, fillColor: "#fff", fillOpacity: 1 }).addTo(map);
      if (label) label.textContent = x + ", " + y;
      if (pan) map.panTo(latlng);
      box.dataset.point = x + "," + y;
    }

    map.on("click", (e) => place(e.latlng, false));
    if (lng.value && lat.value) place(L.latLng(Number(lat.value), Number(lng.value)), false);

    fetch(box.dataset.src, { headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(String(r.status)))))
      .then((data) => {
        const shown = { type: "FeatureCollection", features: data.features.filter((f) => f.geometry) };
        const layer = L.geoJSON(shown, {
          style: () => ({ color: "#8a94a6", weight: 1, fillColor: "#dfe6ee", fillOpacity: 0.5 }),
          onEachFeature: (f, shape) => {
            shape.bindTooltip(f.properties.name, { sticky: true });
            shape.on("click", (e) => place(e.latlng, false));
          },
        }).addTo(map);
        if (shown.features.length && !marker) map.fitBounds(layer.getBounds(), { padding: [8, 8] });
        box.dataset.ready = "1";
      })
      .catch(() => {
        box.dataset.ready = "error";
      });

    const locate = document.getElementById("req-locate");
    if (locate) {
      locate.addEventListener("click", () => {
        if (!navigator.geolocation) return;
        navigator.geolocation.getCurrentPosition(
          (pos) => place(L.latLng(pos.coords.latitude, pos.coords.longitude), true),
          () => {
            if (label) label.textContent = T("无法获取位置，请在地图上点选");
          },
          { enableHighAccuracy: true, timeout: 8000 }
        );
      });
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
