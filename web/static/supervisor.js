// The supervisor's room: depth by priority, longest wait, answer share, operators, events;
// the live calls, each with listen / whisper / barge. Those ring the supervisor's own phone
// (POST /calls/{id}/spy): the browser softphone of this page (softphone.js) answers by itself
// and its panel shows the mode, who hears the supervisor, and "leave the call".
"use strict";
(() => {
  const { api, connect, el, t } = Contact;
  const $ = (id) => document.getElementById(id);
  const names = new Map();           // operator id -> display name, for the event list
  const calls = new Map();           // contact id -> live call
  let spying = null;                 // {contactId, mode} asked for (or in progress) from here
  let telephony = true;              // false: this center drives no calls (no /calls API)

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
    renderCalls();
  }

  // --- live calls and spying on them ------------------------------------------------------
  const since = (c) => c.answered_at || c.started_at;
  const operatorName = (c) => (c.operator_id ? names.get(c.operator_id) || "…" : "—");

  async function refreshCalls() {
    if (!telephony) return;
    const res = await fetch("/api/v1/calls", { credentials: "same-origin" });
    if (res.status === 404) {        // this center drives no calls: no section
      telephony = false;
      $("sv-live").classList.add("hidden");
      return;
    }
    if (!res.ok) return;             // a hiccup: the next push or tick tries again
    const data = await res.json();
    calls.clear();
    for (const c of data.calls) calls.set(c.contact_id, c);
    $("sv-live").classList.remove("hidden");
    renderCalls();
  }

  function spyButton(c, mode) {
    const active = spying && spying.contactId === c.contact_id && spying.mode === mode;
    const button = el("button", {
      type: "button", class: "spy " + mode, "data-mode": mode,
      "aria-pressed": String(!!active), title: t("ui.spy_note_" + mode),
    }, t("ui.spy_" + mode));
    // coaching needs an operator on the call; the others work on a waiting caller too
    if (mode === "whisper" && !c.operator_id) button.disabled = true;
    button.onclick = () => spy(c, mode);
    return button;
  }

  function renderCalls() {
    const body = $("sv-calls").querySelector("tbody");
    const rows = [...calls.values()].sort((a, b) => Date.parse(a.started_at) - Date.parse(b.started_at));
    body.replaceChildren(...rows.map((c) => {
      const mine = spying && spying.contactId === c.contact_id;
      return el("tr", { "data-id": c.contact_id, "data-state": c.state, class: mine ? "spying" : "" },
        el("td", {}, t("ui.call_kind_" + c.kind)),
        el("td", { class: "operator" }, operatorName(c)),
        el("td", { class: "state" }, t("ui.call_state_" + c.state)),
        el("td", {}, c.language || "—"),
        el("td", { class: "num since", "data-since": since(c) }, duration((Date.now() - Date.parse(since(c))) / 1000)),
        el("td", { class: "spy-actions" }, ...["listen", "whisper", "barge"].map((m) => spyButton(c, m))));
    }));
    $("sv-live-count").textContent = rows.length;
    $("sv-calls-empty").classList.toggle("hidden", rows.length > 0);
  }

  // the page's own softphone ends its current spy leg before another one is asked for
  async function leaveCurrent() {
    if (typeof Softphone === "undefined" || Softphone.state() === "idle") return;
    Softphone.hangup();
    for (let i = 0; i < 40 && Softphone.state() !== "idle"; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  function showSpyStatus(message, kind) {
    const box = $("sv-spy-status");
    box.textContent = message || "";
    box.dataset.kind = kind || "info";
    box.classList.toggle("hidden", !message);
  }

  function forget(asked) {
    if (spying !== asked) return false;
    clearTimeout(asked.timer);
    spying = null;
    renderCalls();
    return true;
  }

  async function spy(c, mode) {
    showSpyStatus("");
    await leaveCurrent();
    const asked = { contactId: c.contact_id, mode, label: `${t("ui.operator")}: ${operatorName(c)} · ${t("ui.call_kind_" + c.kind)}` };
    if (spying) clearTimeout(spying.timer);
    spying = asked;
    renderCalls();
    showSpyStatus(t("ui.spy_connecting"));
    try {
      await api("POST", `/calls/${c.contact_id}/spy`, { mode });
    } catch (err) {
      forget(asked);
      showSpyStatus(`${t("ui.spy_failed")}: ${err.message}`, "error");
      calling();
      return;
    }
    const phone = $("sp-state");
    if (!phone || phone.dataset.state !== "registered") {
      forget(asked);                 // a desk phone rings: nothing more to follow here
      showSpyStatus(t("ui.spy_desk_phone"));
      return;
    }
    // the leg reaches this page within a second; if it never does, say so
    asked.timer = setTimeout(() => {
      if (forget(asked)) showSpyStatus(t("ui.spy_failed"), "error");
    }, 15000);
  }

  // the softphone's panel tells how the spy leg goes: name the call being listened to, and
  // forget it once the leg has ended (the supervisor left, or the call itself ended)
  const panel = $("call");
  if (panel) {
    panel.addEventListener("softphone", (ev) => {
      const { state, spy: mode } = ev.detail;
      if (mode && spying && (state === "ringing" || state === "active")) {
        clearTimeout(spying.timer);
        spying.mode = mode;
        $("call-peer").textContent = spying.label;
        showSpyStatus("");
      }
      if (state === "ended" && spying) {
        forget(spying);
        calling();
      }
      renderCalls();
    });
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
    scheduled = scheduled || setTimeout(() => { scheduled = null; refresh(); calling(); }, 300);
  }
  let scheduled = null;
  const calling = () => { refreshCalls().catch(() => {}); };  // a failed fetch: the next tick
  setInterval(() => { refresh(); calling(); }, 5000);
  setInterval(() => {
    for (const cell of document.querySelectorAll("#sv-calls td.since")) {
      cell.textContent = duration((Date.now() - Date.parse(cell.dataset.since)) / 1000);
    }
  }, 1000);
  connect(onMessage, () => { refresh(); calling(); });
})();
