// The supervisor's room: depth by priority, longest wait, answer share, operators, events.
"use strict";
(() => {
  const { api, connect, el, t } = Contact;
  const $ = (id) => document.getElementById(id);
  const names = new Map();           // operator id -> display name, for the event list

  const duration = (s) => (s < 60 ? `${Math.round(s)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`);

  async function refresh() {
    const o = await api("GET", "/supervisor/overview");
    $("sv-waiting").textContent = o.waiting;
    $("sv-waiting").closest(".tile").classList.toggle("hot", o.waiting > 0);
    $("sv-offered").textContent = o.offered;
    $("sv-longest").textContent = duration(o.longest_wait_s);
    $("sv-sla").textContent = o.answered_within_sla_ratio == null ? "—" : `${Math.round(o.answered_within_sla_ratio * 100)} %`;
    $("sv-breaches").textContent = o.sla_breaches;
    $("sv-breaches").closest(".tile").classList.toggle("alarm", o.sla_breaches > 0);
    const depth = $("sv-depth").querySelector("tbody");
    // the server lists priorities from the most urgent (0) down
    depth.replaceChildren(...Object.entries(o.depth).map(([name, n], priority) =>
      el("tr", { class: n ? "p" + priority : "p" + priority + " zero" },
        el("td", {}, el("span", { class: "prio p" + priority }, t("priority." + name))), el("td", { class: "num" }, n))));
    const ops = $("sv-operators").querySelector("tbody");
    for (const s of o.operators) names.set(s.operator_id, s.display_name);
    for (const span of document.querySelectorAll(".op-name")) {
      span.textContent = names.get(span.dataset.operator) || span.textContent;
    }
    ops.replaceChildren(...o.operators.map((s) => el("tr", { "data-id": s.operator_id, class: s.presence },
      el("td", {}, s.display_name),
      el("td", {}, el("span", { class: "presence", "data-presence": s.presence }, t("ui." + s.presence))),
      el("td", { class: "num" }, duration(s.for_s)),
      el("td", {}, s.languages.join(", ")))));
  }

  function describe(d) {
    if (d.type === "operator.presence_changed") {
      // the name may only be known after the next refresh: it fills these in
      const who = el("span", { class: "op-name", "data-operator": d.operator_id }, names.get(d.operator_id) || "…");
      return [who, `: ${t("ui." + d.presence)}`];
    }
    const kind = d.type === "contact.sla_breached" ? t("ui.sla_breach") : d.type;
    const what = d.contact ? ` · ${t("priority." + d.contact.priority_name)} · ${d.contact.channel}`
      : d.priority_name ? ` · ${t("priority." + d.priority_name)}` : "";
    return [`${kind}${what}${d.waited_s ? ` · ${d.waited_s} s` : ""}`];
  }

  function onMessage(msg) {
    if (msg.topic !== "supervisor") return;
    const d = msg.data;
    if (d.type === "contact.sla_breached" || d.type === "operator.presence_changed" || d.type === "contact.offer_expired") {
      const list = $("sv-events");
      list.prepend(el("li", { class: d.type.replace(/\./g, "-") },
        el("time", {}, new Date(d.at).toLocaleTimeString()), " ", ...describe(d)));
      while (list.children.length > 50) list.lastChild.remove();
    }
    scheduled = scheduled || setTimeout(() => { scheduled = null; refresh(); }, 300);
  }
  let scheduled = null;
  setInterval(refresh, 5000);
  connect(onMessage, refresh);
})();
