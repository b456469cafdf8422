// The operator's dispatch panel, beside the contact being worked: suggested units with their
// ETA and a Dispatch button, the units already sent, the district and incident, and the
// cameras that can see the place (snapshots come through the server's proxy).
// Kept apart from operator.js: it finds the current contact through /api/v1/me.
"use strict";
(() => {
  const { api, el, t } = Contact;
  const $ = (id) => document.getElementById(id);
  if (!$("dispatch")) return;
  let contactId = null;
  let busy = false;

  const minutes = (s) => (s == null ? "—" : s < 60 ? `${Math.round(s)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`);

  async function currentContact() {
    if ($("current").classList.contains("hidden")) return null;
    const me = await api("GET", "/me");
    return me.contact_id || null;
  }

  function renderWhere(d) {
    const where = $("dispatch-where");
    const parts = [];
    if (!d.has_location) parts.push(el("span", { class: "muted" }, t("ui.dispatch_no_location")));
    if (d.district) parts.push(el("span", {}, `${t("ui.dispatch_district")}: ${document.body.dataset.lang === "kk" ? d.district.name_kk : d.district.name_ru} · ${d.district.department}`));
    if (d.outside_districts) parts.push(el("strong", { class: "error" }, t("ui.dispatch_outside")));
    if (d.incident_id) parts.push(el("span", { class: "incident", "data-incident": d.incident_id }, `${t("ui.dispatch_incident")}: ${d.incident_id.slice(0, 8)}`));
    where.replaceChildren(...parts.flatMap((p, i) => (i ? [" · ", p] : [p])));
  }

  function renderUnits(d) {
    const body = $("dispatch-units").querySelector("tbody");
    body.replaceChildren(...d.suggestion.map((u) => {
      const send = el("button", { type: "button", class: "primary dispatch-send", "data-unit": u.unit_id }, t("ui.dispatch_send"));
      send.onclick = () => dispatch(u.unit_id, send);
      return el("tr", { "data-unit": u.unit_id },
        el("td", {}, `${u.callsign} (${u.kind})`),
        el("td", { class: "num", title: u.eta_source === "road" ? t("ui.dispatch_by_road") : t("ui.dispatch_estimate") },
          minutes(u.eta_s), u.eta_s > d.response_target_s ? " ⚠" : ""),
        el("td", {}, send));
    }));
    if (d.has_location && !d.suggestion.length) body.append(el("tr", {}, el("td", { colspan: "3", class: "muted" }, t("ui.dispatch_none"))));
    const sent = $("dispatch-sent");
    sent.replaceChildren(...d.dispatches.map((x) => el("li", { "data-dispatch": x.id, class: "unit-" + (x.unit_status || "") },
      `${t("ui.dispatch_sent")}: ${x.callsign || x.unit_id.slice(0, 8)} — ${t("ui.unit_" + (x.unit_status || "dispatched"))}`,
      x.acknowledged_at ? ` · ${t("ui.unit_acknowledged")}` : "",
      x.response_s != null ? ` · ${minutes(x.response_s)}` : "")));
  }

  function renderCameras(d) {
    const box = $("dispatch-cameras");
    const stamp = Math.floor(Date.now() / 10000);  // a fresh still every 10 s
    box.replaceChildren(...[...d.cameras.seeing, ...d.cameras.others].map((c) => el("figure", { class: c.sees ? "camera sees" : "camera", "data-camera": c.id },
      c.snapshot ? el("img", { src: `${c.snapshot}?t=${stamp}`, alt: c.id, loading: "lazy", width: "160", height: "90" }) : el("div", { class: "no-snapshot" }, "—"),
      el("figcaption", {}, `${c.id} · ${Math.round(c.distance_m)} m${c.sees ? " ✓" : ""}`))));
  }

  async function refresh() {
    if (busy) return;
    busy = true;
    try {
      const id = await currentContact();
      if (id !== contactId) { contactId = id; $("dispatch-cameras").replaceChildren(); }
      if (!contactId) return;
      const d = await api("GET", `/contacts/${contactId}/dispatch`);
      if (d.contact_id !== contactId) return;
      renderWhere(d);
      renderUnits(d);
      renderCameras(d);
    } catch (err) {
      console.warn("dispatch panel:", err.message);
    } finally {
      busy = false;
    }
  }

  async function dispatch(unitId, button) {
    if (!contactId) return;
    button.disabled = true;
    try {
      await api("POST", `/contacts/${contactId}/dispatch`, { unit_id: unitId });
    } catch (err) {
      alert(err.message);
    }
    await refresh();
  }

  new MutationObserver(() => refresh()).observe($("current"), { attributes: true, attributeFilter: ["class"] });
  setInterval(refresh, 5000);
  refresh();
})();
