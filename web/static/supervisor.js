// The supervisor's room: depth by priority, longest wait, answer share, operators, events.
"use strict";
(() => {
  const { api, connect, el, t } = Contact;
  const $ = (id) => document.getElementById(id);

  async function refresh() {
    const o = await api("GET", "/supervisor/overview");
    $("sv-waiting").textContent = o.waiting;
    $("sv-longest").textContent = `${Math.round(o.longest_wait_s)} s`;
    $("sv-sla").textContent = o.answered_within_sla_ratio == null ? "—" : `${Math.round(o.answered_within_sla_ratio * 100)} %`;
    $("sv-breaches").textContent = o.sla_breaches;
    const depth = $("sv-depth").querySelector("tbody");
    depth.replaceChildren(...Object.entries(o.depth).map(([p, n]) => el("tr", {}, el("td", {}, t("priority." + p)), el("td", {}, n))));
    const ops = $("sv-operators").querySelector("tbody");
    ops.replaceChildren(...o.operators.map((s) => el("tr", { "data-id": s.operator_id, class: s.presence },
      el("td", {}, s.display_name), el("td", {}, t("ui." + s.presence)), el("td", {}, Math.round(s.for_s)),
      el("td", {}, s.languages.join(", ")))));
  }

  function onMessage(msg) {
    if (msg.topic !== "supervisor") return;
    const d = msg.data;
    if (d.type === "contact.sla_breached" || d.type === "operator.presence_changed" || d.type === "contact.offer_expired") {
      const list = $("sv-events");
      list.prepend(el("li", { class: d.type.replace(/\./g, "-") }, new Date(d.at).toLocaleTimeString(), " ", d.type,
        d.contact ? " " + d.contact.channel : "", d.waited_s ? ` ${d.waited_s} s` : ""));
      while (list.children.length > 50) list.lastChild.remove();
    }
    scheduled = scheduled || setTimeout(() => { scheduled = null; refresh(); }, 300);
  }
  let scheduled = null;
  setInterval(refresh, 5000);
  connect(onMessage, refresh);
})();
