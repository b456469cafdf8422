// The operator's dispatch panel, beside the contact being worked: a map (dispatch-map.js),
// suggested units with their ETA and a Dispatch button, the units already sent, the district
// and incident, and the cameras that can see the place (snapshots through the server's proxy).
// Kept apart from operator.js, which names the contact being worked in #current[data-contact].
// Pushed, not polled: operator.js hands on what arrives on `contact:<id>`; a dispatch event
// reloads the panel, `unit.position` moves a unit on the map. A slow poll stays as a safety net.
"use strict";
(() => {
  const { api, el, t } = Contact;
  const $ = (id) => document.getElementById(id);
  if (!$("dispatch")) return;
  const FALLBACK_POLL_MS = 30000;
  const REFRESH_ON = new Set(["dispatch.suggested", "unit.dispatched", "unit.acknowledged", "unit.status_changed",
    "unit.arrived", "incident.created", "incident.contact_added", "incident.merged", "incident.split",
    "incident.state_changed", "contact.located"]);
  let contactId = null;
  let busy = false;
  let again = false;                 // a refresh was asked for while one was running
  let soon = null;

  const minutes = (s) => (s == null ? "—" : s < 60 ? `${Math.round(s)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`);

  function currentContact() {
    const box = $("current");
    return box.classList.contains("hidden") ? null : box.dataset.contact || null;
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
        el("td", {}, `${u.callsign} (${t("ui.unit_kind_" + u.kind)})`),
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

  const STILL_MS = 10000;
  const stillUrl = (path) => `${path}?t=${Math.floor(Date.now() / STILL_MS)}`;

  function renderCameras(d) {
    const box = $("dispatch-cameras");
    box.replaceChildren(...[...d.cameras.seeing, ...d.cameras.others].map((c) => el("figure", { class: c.sees ? "camera sees" : "camera", "data-camera": c.id },
      c.snapshot ? el("img", { src: stillUrl(c.snapshot), "data-snapshot": c.snapshot, alt: c.id, loading: "lazy", width: "160", height: "90" }) : el("div", { class: "no-snapshot" }, "—"),
      el("figcaption", {}, `${c.id} · ${Math.round(c.distance_m)} m${c.sees ? " ✓" : ""}`))));
  }

  // a fresh still every 10 s, without reloading the panel
  function refreshStills() {
    if ($("current").classList.contains("hidden")) return;
    for (const img of $("dispatch-cameras").querySelectorAll("img[data-snapshot]")) img.src = stillUrl(img.dataset.snapshot);
  }

  async function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      const id = currentContact();
      if (id !== contactId) {
        contactId = id;
        $("dispatch-cameras").replaceChildren();
        DispatchMap.clear($("dispatch-map"));
      }
      if (!contactId) return;
      const d = await api("GET", `/contacts/${contactId}/dispatch`);
      if (d.contact_id !== contactId) return;
      renderWhere(d);
      renderUnits(d);
      renderCameras(d);
      DispatchMap.render($("dispatch-map"), d);
      $("dispatch").dataset.refreshed = String(Number($("dispatch").dataset.refreshed || 0) + 1);
    } catch (err) {
      console.warn("dispatch panel:", err.message);
    } finally {
      busy = false;
      if (again) { again = false; refresh(); }
    }
  }

  // several events come together (a dispatch: unit.dispatched, unit.status_changed,
  // incident.state_changed): one reload for all of them
  function refreshSoon() {
    clearTimeout(soon);
    soon = setTimeout(refresh, 100);
  }

  function onPush(ev) {
    const { topic, data } = ev.detail;
    if (!contactId || topic !== "contact:" + contactId || !data) return;
    if (data.type === "unit.position") {
      if (!DispatchMap.moveUnit(data.unit_id, data.position)) refreshSoon();
    } else if (REFRESH_ON.has(data.type)) {
      refreshSoon();
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

  document.addEventListener("contact:push", onPush);
  document.addEventListener("contact:socket-open", refreshSoon);
  new MutationObserver(() => { if (currentContact() !== contactId) refresh(); })
    .observe($("current"), { attributes: true, attributeFilter: ["class", "data-contact"] });
  setInterval(refresh, FALLBACK_POLL_MS);
  setInterval(refreshStills, STILL_MS);
  refresh();
})();
