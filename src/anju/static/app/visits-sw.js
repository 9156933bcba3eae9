// Service worker of the visit form (served as /visits-sw.js, scope /households/).
//
// Keeps the visit form pages (/households/{id}/visits/new) and the files they use, so that a form
// opened once with signal opens again without it; the page itself queues the visits (visits.js).
// Pages: network first, the kept copy only when the network fails. A form page that answers with a
// redirect (logged out, session expired) drops every kept page. Files: the kept copy at once,
// refreshed from the network in the background.
"use strict";

const CACHE = "anju-visits-v1";
const PAGE_CACHE = "anju-visit-pages-v1";
const ASSETS = [
  "/static/app/app.css",
  "/static/app/app.js",
  "/static/app/visits.js",
  "/static/app/favicon.svg",
  "/static/vendor/htmx.min.js",
  "/static/vendor/alpine-csp.min.js",
];
const FORM_PAGE = /^\/households\/\d+\/visits\/new$/;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => Promise.all(ASSETS.map((url) => cache.add(url).catch(() => undefined))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("anju-visit") && k !== CACHE && k !== PAGE_CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

async function formPage(request) {
  const url = new URL(request.url);
  const key = url.origin + url.pathname;
  const cache = await caches.open(PAGE_CACHE);
  try {
    const response = await fetch(request);
    if (response.ok && response.type === "basic" && !response.redirected) {
      await cache.put(key, response.clone());
    } else if (response.type === "opaqueredirect" || response.redirected || response.status === 401) {
      await caches.delete(PAGE_CACHE); // logged out: keep no household's page
    }
    return response;
  } catch (e) {
    const kept = await cache.match(key);
    if (kept) return kept;
    return new Response(
      '<!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">' +
        "<title>无网络</title><p style=\"font:16px sans-serif;padding:16px\">无网络，且本机没有保存这户的走访表单。" +
        "请在有信号时先打开一次该户的“登记走访”页面。</p>",
      { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } },
    );
  }
}

async function asset(request) {
  const cache = await caches.open(CACHE);
  const kept = await cache.match(request, { ignoreSearch: true });
  const fresh = fetch(request)
    .then((response) => {
      if (response.ok) cache.put(request, response.clone());
      return response;
    })
    .catch(() => undefined);
  if (kept) return kept;
  return (await fresh) || new Response("", { status: 503 });
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && FORM_PAGE.test(url.pathname)) {
    event.respondWith(formPage(request));
  } else if (ASSETS.includes(url.pathname)) {
    event.respondWith(asset(request));
  }
});
