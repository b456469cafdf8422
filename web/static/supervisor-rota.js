// The published staffing rota beside the room (GET /api/v1/supervisor/rota, every 15 s): for
// the current hour on the centre's clock and the next three, the operators each skill group
// needs and those on the lines now (logged in, not away). A group short of its need says so in
// words with a mark (⚠) and its row is highlighted: the colour repeats the words.
"use strict";
(() => {
  const { api, el, t } = Contact;
  const $ = (id) => document.getElementById(id);
  const root = $("sv-rota");
  if (!root) return;
  const POLL_MS = 15000;
  const HOUR_MS = 3600 * 1000;
  const pct = (r) => `${Math.round(r * 1000) / 10} %`;
  const span = (iso) => `${I18n.clock(iso, false)}–${I18n.clock(new Date(Date.parse(iso) + HOUR_MS).toISOString(), false)}`;

  function state(short) {
    if (!short) return el("td", { class: "rota-ok" }, t("ui.rota_enough"));
    return el("td", { class: "rota-short" },
      el("span", { "aria-hidden": "true" }, "⚠ "), t("ui.rota_short", { count: short }));
  }

  function render(r) {
    $("sv-rota-now").textContent = t("ui.rota_now", { on: r.on_lines, logged: r.logged_in });
    const table = $("sv-rota-table");
    table.querySelectorAll("tbody").forEach((b) => b.remove());
    const hours = r.hours.filter((h) => h.published);
    for (const h of hours) {
      const body = el("tbody", { "data-hour": h.hour_of_week });
      h.groups.forEach((g, i) => {
        const langs = g.languages.map(I18n.language).join(", ");
        const row = el("tr", { class: g.short ? "short" : "", "data-group": g.name },
          el("td", {}, `${g.name} (${langs})`),
          el("td", { class: "num" }, String(g.needed)),
          el("td", { class: "num" }, String(g.on_lines)),
          state(g.short));
        if (i === 0) {
          row.prepend(el("th", { scope: "rowgroup", rowspan: String(h.groups.length) }, span(h.start)));
        }
        body.append(row);
      });
      table.append(body);
    }
    table.classList.toggle("hidden", !hours.length);
    $("sv-rota-none").classList.toggle("hidden", hours.length === r.hours.length);
    const p = r.published;
    $("sv-rota-published").textContent = p ? t("ui.rota_published", {
      scenario: p.scenario, at: I18n.dateTime(p.published_at), name: p.published_by || "—",
      level: pct(p.service_level),
    }) : "";
    root.setAttribute("aria-busy", "false");
  }

  async function load() {
    try {
      render(await api("GET", "/supervisor/rota?hours=4"));
    } catch (e) {
      $("sv-rota-now").textContent = e.message;
    }
  }
  load();
  setInterval(load, POLL_MS);
})();
