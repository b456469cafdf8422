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

  const minutes = I18n.duration;

  function currentContact() {
    const box = $("current");
    return box.classList.contains("hidden") ? null : box.dataset.contact || null;
  }

  function renderWhere(d) {
    const where = $("dispatch-where");
    const parts = [];
    if (!d.has_location) parts.push(el("span", { class: "muted" }, t("ui.dispatch_no_location")));
    if (d.district) parts.push(el("span", {}, `${t("ui.dispatch_district")}: ${I18n.district(d.district)} · ${d.district.department}`));
    if (d.outside_districts) parts.push(el("strong", { class: "error" }, t("ui.dispatch_outside")));
    if (d.incident_id) parts.push(el("span", { class: "incident", "data-incident": d.incident_id }, `${t("ui.dispatch_incident")}: ${d.incident_id.slice(0, 8)}`));
    where.replaceChildren(...parts.flatMap((p, i) => (i ? [" · ", p] : [p])));
  }

  function renderUnits(d) {
    const body = $("dispatch-units").querySelector("tbody");
    const target = minutes(d.response_target_s);
    body.replaceChildren(...d.suggestion.map((u, i) => {
      const send = el("button", { type: "button", class: "primary dispatch-send", "data-unit": u.unit_id,
        "aria-label": `${t("ui.dispatch_send")} ${u.callsign}`, ...(i === 0 ? { "aria-keyshortcuts": "Alt+D" } : {}) }, t("ui.dispatch_send"));
      send.onclick = () => dispatch(u.unit_id, send);
      const late = u.eta_s > d.response_target_s;
      return el("tr", { "data-unit": u.unit_id },
        el("td", {}, `${u.callsign} (${t("ui.unit_kind_" + u.kind)})`),
        el("td", { class: "num eta", "data-source": u.eta_source, title: u.eta_source === "road" ? t("ui.dispatch_by_road") : t("ui.dispatch_estimate") },
          minutes(u.eta_s), u.eta_source === "road" ? "" : el("abbr", { class: "eta-est", title: t("ui.dispatch_estimate") }, " ≈"),
          late ? el("span", { class: "late", title: t("ui.op_eta_late", { target }) }, ` ⚠ > ${target}`) : ""),
        el("td", {}, send));
    }));
    if (d.has_location && !d.suggestion.length) body.append(el("tr", {}, el("td", { colspan: "3", class: "muted" }, t("ui.dispatch_none"))));
    const road = d.suggestion.some((u) => u.eta_source === "road");
    const est = d.suggestion.some((u) => u.eta_source !== "road");
    $("eta-note").textContent = d.suggestion.length ? [road ? t("ui.op_eta_road") : "", est ? t("ui.op_eta_estimate") : "",
      t("ui.op_eta_target", { target })].filter(Boolean).join(" ") : "";
    const sent = $("dispatch-sent");
    sent.setAttribute("aria-label", t("ui.dispatch_sent_count", { count: d.dispatches.length }));
    sent.replaceChildren(...d.dispatches.map((x) => el("li", { "data-dispatch": x.id, class: "unit-" + (x.unit_status || "") },
      t("ui.dispatch_sent_one", { unit: x.callsign || x.unit_id.slice(0, 8), status: t("ui.unit_" + (x.unit_status || "dispatched")) }),
      x.acknowledged_at ? ` · ${t("ui.unit_acknowledged")}` : "",
      x.response_s != null ? ` · ${minutes(x.response_s)}` : "")));
  }

  const STILL_MS = window.CONTACT_STILL_MS || 5000;  // a fresh still this often
  const stillUrl = (path) => `${path}?t=${Math.floor(Date.now() / STILL_MS)}`;

  function renderCameras(d) {
    const box = $("dispatch-cameras");
    box.replaceChildren(...[...d.cameras.seeing, ...d.cameras.others].map((c) => el("figure", { class: c.sees ? "camera sees" : "camera", "data-camera": c.id },
      c.snapshot ? el("img", { src: stillUrl(c.snapshot), "data-snapshot": c.snapshot, alt: `${t("ui.op_legend_camera")} ${c.id}`, loading: "lazy", width: "160", height: "90" }) : el("div", { class: "no-snapshot" }, "—"),
      el("figcaption", {}, `${c.id} · ${t("fmt.metres", { m: Math.round(c.distance_m) })}${c.sees ? " · " + t("ui.map_camera_sees") : ""}`))));
  }

  // a still that cannot be fetched shows as an empty frame, not a broken image
  document.addEventListener("error", (ev) => { if (ev.target.matches && ev.target.matches("#dispatch-cameras img")) ev.target.classList.add("failed"); }, true);
  document.addEventListener("load", (ev) => { if (ev.target.matches && ev.target.matches("#dispatch-cameras img")) ev.target.classList.remove("failed"); }, true);

  // a fresh still every few seconds, without reloading the panel
  function refreshStills() {
    if ($("current").classList.contains("hidden")) return;
    for (const img of $("dispatch-cameras").querySelectorAll("img[data-snapshot]")) {
      img.src = stillUrl(img.dataset.snapshot);
      img.dataset.refreshed = String(Number(img.dataset.refreshed || 0) + 1);
    }
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
      // no place, no map: its legend and the empty units table go with it
      if ($("map-legend")) $("map-legend").classList.toggle("hidden", !d.location);
      $("dispatch-units").classList.toggle("hidden", !d.location && !d.suggestion.length);
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
  // the district of the place (operator.js reads it with the address): its outline on the map
  document.addEventListener("contact:district", (ev) => DispatchMap.district(ev.detail));
  document.addEventListener("contact:socket-open", refreshSoon);
  new MutationObserver(() => { if (currentContact() !== contactId) refresh(); })
    .observe($("current"), { attributes: true, attributeFilter: ["class", "data-contact"] });
  setInterval(refresh, FALLBACK_POLL_MS);
  setInterval(refreshStills, STILL_MS);
  refresh();
})();
