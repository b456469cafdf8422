// The dispatch panel's map (Leaflet from /static/dist, global L): the citizen with the
// accuracy circle, the suggested units, the units already sent with their status, and the
// cameras around with the view cones of those that see the place.
// Vector layers only (circle markers, polygons), so no marker images are needed. Tiles only
// when the server names a tile server (data-tile-url): offline networks get the markers on a
// plain background and the page fetches nothing else.
// Each layer carries `role` (and unitId / cameraId) in its options, for the page and tests.
"use strict";
const DispatchMap = (() => {
  const { el, t } = Contact;
  const EARTH_M = 6371008.8;
  const STATUS_COLOUR = { dispatched: "#e65100", en_route: "#6a1b9a", on_scene: "#2e7d32", transporting: "#00796b" };
  let map = null;
  let groups = null;
  let view = "";                     // what the view was last fitted to: refit only when it changes
  let outline = null;                // the district's rings ([[lat, lon] …]) from the place panel

  const rad = (d) => (d * Math.PI) / 180;
  const deg = (r) => (r * 180) / Math.PI;

  // the point `metres` away along `bearing` (great circle), as contact/dispatch/geo.py
  function destination(lat, lon, bearing, metres) {
    const p1 = rad(lat), l1 = rad(lon), th = rad(bearing), d = metres / EARTH_M;
    const p2 = Math.asin(Math.sin(p1) * Math.cos(d) + Math.cos(p1) * Math.sin(d) * Math.cos(th));
    const l2 = l1 + Math.atan2(Math.sin(th) * Math.sin(d) * Math.cos(p1), Math.cos(d) - Math.sin(p1) * Math.sin(p2));
    return [deg(p2), ((deg(l2) + 540) % 360) - 180];
  }

  // a camera's view: apex at the camera, an arc at its range from heading - fov/2 to + fov/2
  function cone(c) {
    const full = c.fov_deg >= 360;
    const from = full ? 0 : c.heading_deg - c.fov_deg / 2;
    const span = full ? 360 : c.fov_deg;
    const steps = Math.max(2, Math.ceil(span / 5));
    const arc = [];
    for (let i = 0; i <= steps; i++) arc.push(destination(c.lat, c.lon, from + (span * i) / steps, c.range_m));
    return full ? arc : [[c.lat, c.lon], ...arc];
  }

  const minutes = I18n.duration;
  const kind = (k) => t("ui.unit_kind_" + k);
  // a tooltip's lines; on a permanent label (class map-label) only the first one shows
  const tip = (...lines) => el("div", { class: "map-tip" }, ...lines.filter(Boolean).flatMap((line, i) => (i ? [el("br"), el("span", { class: "more" }, line)] : [el("span", {}, line)])));
  const escapeHtml = (s) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

  function create(box) {
    if (typeof L === "undefined") {  // the bundle was not built: the panel works without a map
      box.replaceChildren(el("p", { class: "muted" }, t("ui.map_unavailable")));
      return false;
    }
    map = L.map(box, { zoomSnap: 0.5 });
    const url = box.dataset.tileUrl;
    if (url) {
      // the attribution is configuration, shown as text (Leaflet would insert it as HTML)
      L.tileLayer(url, { role: "tiles", maxZoom: 19, attribution: escapeHtml(box.dataset.tileAttribution || "") }).addTo(map);
    }
    L.control.scale({ imperial: false }).addTo(map);
    groups = { district: L.layerGroup().addTo(map), cameras: L.layerGroup().addTo(map), units: L.layerGroup().addTo(map), contact: L.layerGroup().addTo(map) };
    return true;
  }

  // the accuracy circle: a dashed ring that stays visible on any background, lightly filled
  function drawContact(loc, points) {
    const here = [loc.lat, loc.lon];
    if (loc.accuracy_m) {
      L.circle(here, { role: "accuracy", radius: loc.accuracy_m, color: "#b71c1c", weight: 2, dashArray: "6 4", fillColor: "#e53935", fillOpacity: 0.15, interactive: false, className: "map-accuracy" }).addTo(groups.contact);
      const b = L.latLng(here).toBounds(2 * loc.accuracy_m);
      points.push(b.getSouthWest(), b.getNorthEast());
    }
    L.circleMarker(here, { role: "contact", radius: 7, color: "#fff", weight: 3, fillColor: "#b71c1c", fillOpacity: 1, className: "map-contact" })
      .bindTooltip(tip(t("ui.map_contact"), loc.accuracy_m ? `${t("ui.map_accuracy")} ±${t("fmt.metres", { m: Math.round(loc.accuracy_m) })}` : ""), { permanent: true, direction: "bottom", offset: [0, 10], className: "map-label" })
      .addTo(groups.contact);
    points.push(L.latLng(here));
  }

  function drawDistrict() {
    if (!outline || !outline.outline) return;
    const name = I18n.district(outline);
    L.polygon(outline.outline, { role: "district", color: "#37474f", weight: 2, dashArray: "2 6", fill: false, interactive: false, className: "map-district" })
      .bindTooltip(name, { permanent: true, direction: "center", className: "map-label map-district-label" })
      .addTo(groups.district);
  }

  function drawCameras(d, points) {
    for (const c of d.cameras.seeing) {
      const shape = cone(c);
      L.polygon(shape, { role: "cone", cameraId: c.id, color: "#2e7d32", weight: 1, fillOpacity: 0.15, className: "map-cone" })
        .bindTooltip(tip(c.id, `${t("ui.map_camera_sees")} · ${t("fmt.metres", { m: Math.round(c.distance_m) })}`)).addTo(groups.cameras);
      points.push(...shape.map((p) => L.latLng(p)));
    }
    for (const c of [...d.cameras.seeing, ...d.cameras.others]) {
      L.circleMarker([c.lat, c.lon], { role: "camera", cameraId: c.id, sees: c.sees, radius: c.sees ? 5 : 4, weight: 1, color: c.sees ? "#2e7d32" : "#616161", fillOpacity: 0.9 })
        .bindTooltip(tip(c.id, `${c.sees ? t("ui.map_camera_sees") : t("ui.map_camera_blind")} · ${t("fmt.metres", { m: Math.round(c.distance_m) })}`))
        .addTo(groups.cameras);
      if (c.sees) points.push(L.latLng(c.lat, c.lon));
    }
  }

  function drawUnits(d, points) {
    for (const u of d.suggestion) {
      if (!u.position) continue;
      L.circleMarker([u.position.lat, u.position.lon], { role: "suggested", unitId: u.unit_id, radius: 7, color: "#fff", weight: 2, fillColor: "#1565c0", fillOpacity: 1, className: "map-suggested" })
        .bindTooltip(tip(`${u.callsign} · ${kind(u.kind)}`, `${t("ui.dispatch_eta")}: ${minutes(u.eta_s)}`), { permanent: true, direction: "right", offset: [8, 0], className: "map-label" })
        .addTo(groups.units);
      points.push(L.latLng(u.position.lat, u.position.lon));
    }
    for (const x of d.dispatches) {
      if (x.state !== "active" || !x.unit_position) continue;
      const status = x.unit_status || "dispatched";
      L.circleMarker([x.unit_position.lat, x.unit_position.lon], { role: "dispatched", unitId: x.unit_id, status, radius: 8, color: "#000", weight: 2, fillColor: STATUS_COLOUR[status] || "#e65100", fillOpacity: 1, className: "map-dispatched" })
        .bindTooltip(tip(`${x.callsign || x.unit_id.slice(0, 8)}${x.unit_kind ? " · " + kind(x.unit_kind) : ""}`, t("ui.unit_" + status)), { permanent: true, direction: "right", offset: [8, 0] })
        .addTo(groups.units);
      points.push(L.latLng(x.unit_position.lat, x.unit_position.lon));
    }
  }

  // Everything the panel's JSON (GET /api/v1/contacts/{id}/dispatch) describes.
  function render(box, d) {
    const note = document.getElementById("dispatch-map-note");
    box.classList.toggle("hidden", !d.location);
    if (note) note.classList.toggle("hidden", !d.location);
    if (!d.location || (!map && !create(box))) return;
    map.invalidateSize();            // the panel may have been hidden since the last render
    for (const g of Object.values(groups)) g.clearLayers();
    const points = [];
    drawCameras(d, points);
    drawUnits(d, points);
    drawContact(d.location, points);
    drawDistrict();
    const shown = [d.contact_id, d.location.lat, d.location.lon, ...d.suggestion.map((u) => u.unit_id),
      ...d.dispatches.map((x) => x.unit_id), ...d.cameras.seeing.map((c) => c.id)].join();
    if (shown !== view) {            // new things to show: fit; otherwise keep the operator's zoom
      view = shown;
      map.fitBounds(L.latLngBounds(points), { padding: [24, 24], maxZoom: 17 });
    }
  }

  // A pushed position of a dispatched unit; false when the map does not show that unit yet.
  function moveUnit(unitId, position) {
    if (!map) return false;
    let moved = false;
    groups.units.eachLayer((layer) => {
      if (layer.options.role === "dispatched" && layer.options.unitId === unitId) {
        layer.setLatLng([position.lat, position.lon]);
        moved = true;
      }
    });
    return moved;
  }

  // the district of the contact's place (or null): drawn now and on every render
  function district(d) {
    outline = d && d.outline ? d : null;
    if (!map) return;
    groups.district.clearLayers();
    drawDistrict();
  }

  function clear(box) {
    view = "";
    outline = null;
    box.classList.add("hidden");
    if (groups) for (const g of Object.values(groups)) g.clearLayers();
  }

  return { render, moveUnit, clear, cone, district, get map() { return map; } };
})();
