// The supervisor's dispatch view: response times per district against the 7-minute target,
// and the cameras whose snapshots fail (with the state of MQTT and the routing server).
"use strict";
(() => {
  const { api, el } = Contact;
  const $ = (id) => document.getElementById(id);
  if (!$("sv-dispatch")) return;
  const kk = document.body.dataset.lang === "kk";
  const minutes = (s) => (s == null ? "—" : `${Math.floor(s / 60)}:${String(Math.round(s % 60)).padStart(2, "0")}`);

  async function refresh() {
    try {
      const r = await api("GET", "/supervisor/response-times");
      $("sv-response").querySelector("tbody").replaceChildren(...[...r.districts, r.overall].map((d) =>
        el("tr", { class: d.district_id === "all" ? "total" : "", "data-district": d.district_id || "" },
          el("td", {}, d.district_id === "all" ? "Σ" : (kk ? d.name_kk : d.name_ru) || d.district_id || "—"),
          el("td", { class: "num" }, `${d.arrivals}/${d.dispatches}`),
          el("td", { class: "num" + (d.median_s > r.target_s ? " error" : "") }, minutes(d.median_s)),
          el("td", { class: "num" }, minutes(d.p90_s)),
          el("td", { class: "num" }, d.within_target_ratio == null ? "—" : `${Math.round(d.within_target_ratio * 100)} %`))));
      const h = await api("GET", "/supervisor/cameras");
      $("sv-camera-count").textContent = h.failing.length;
      const links = [`${h.cameras} cams`, `${h.units} units`];
      if (h.mqtt) links.push(`MQTT ${h.mqtt.connected ? "✓" : "✗"}`);
      if (h.routing) links.push(`OSRM ${h.routing.healthy ? "✓" : "✗"}`);
      $("sv-links").textContent = links.join(" · ");
      $("sv-cameras").querySelector("tbody").replaceChildren(...h.failing.map((c) =>
        el("tr", { "data-camera": c.camera_id },
          el("td", {}, c.camera_id), el("td", { class: "num" }, c.consecutive_failures),
          el("td", { class: "muted" }, c.last_error || ""))));
    } catch (err) {
      console.warn("dispatch view:", err.message);
    }
  }
  setInterval(refresh, 15000);
  refresh();
})();
