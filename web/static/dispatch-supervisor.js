// The supervisor's dispatch view: response times per district against the 7-minute target,
// and the cameras whose snapshots fail (with the state of MQTT and the routing server).
"use strict";
(() => {
  const { api, el, t } = Contact;
  const $ = (id) => document.getElementById(id);
  if (!$("sv-dispatch")) return;
  const minutes = I18n.duration;  // «6 мин 12 с», «7 min»: a span in words, not 6:12

  async function refresh() {
    try {
      const r = await api("GET", "/supervisor/response-times");
      $("sv-response").querySelector("tbody").replaceChildren(...[...r.districts, r.overall].map((d) =>
        el("tr", { class: d.district_id === "all" ? "total" : "", "data-district": d.district_id || "" },
          el("td", {}, d.district_id === "all" ? "Σ" : I18n.district(d) || "—"),
          el("td", { class: "num" }, `${d.arrivals}/${d.dispatches}`),
          el("td", { class: "num" + (d.median_s > r.target_s ? " error" : "") }, minutes(d.median_s)),
          el("td", { class: "num" }, minutes(d.p90_s)),
          el("td", { class: "num" }, d.within_target_ratio == null ? "—" : `${Math.round(d.within_target_ratio * 100)} %`))));
      const h = await api("GET", "/supervisor/cameras");
      $("sv-camera-count").textContent = h.failing.length;
      // counts with their plural form; a link's state in words (the mark only repeats them)
      const links = [t("ui.cameras_count", { count: h.cameras }), t("ui.units_count", { count: h.units })];
      if (h.mqtt) links.push(t("ui.link_state", { name: "MQTT", up: h.mqtt.connected ? "yes" : "no" }));
      if (h.routing) links.push(t("ui.link_state", { name: "OSRM", up: h.routing.healthy ? "yes" : "no" }));
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
