// The supervisor's room around the wallboard (wallboard.js draws what waits and who works):
// the events list, and the live calls, each with listen / whisper / barge. Those ring the supervisor's own phone
// (POST /calls/{id}/spy): the browser softphone of this page (softphone.js) answers by itself
// and its panel shows the mode, who hears the supervisor, and "leave the call".
"use strict";
(() => {
  const { api, connect, el, t } = Contact;
  const $ = (id) => document.getElementById(id);
  const names = new Map();           // operator id -> display name, for the event list
  const forms = new Map();           // operator id -> the form her state reads in (female, male, other)
  const calls = new Map();           // contact id -> live call
  const PAGE = 200;                  // lists are read a page at a time; totals count the rest
  let callsTotal = 0;
  let spying = null;                 // {contactId, mode} asked for (or in progress) from here
  let myId = null;                   // my operator id: my spy legs in the server's list (c.spies)
  // off: this center drives no calls, so there is no /calls API to ask (the server says so)
  let telephony = $("sv-live").dataset.telephony !== "off";
  const transcript = Transcript.panel($("sv-transcript"));
  let reading = null;                // the call whose transcript is shown here
  let socket = null;
  if ($("sv-tr-search-form")) {
    Transcript.search($("sv-tr-search-form"), $("sv-tr-q"), $("sv-tr-status"), $("sv-tr-results"));
  }

  const duration = I18n.duration;

  // the wallboard reads the operators; their names and forms serve the events and the calls
  document.addEventListener("wallboard:update", (ev) => {
    for (const s of ev.detail.operators) { names.set(s.operator_id, s.display_name); forms.set(s.operator_id, s.gender); }
    for (const span of document.querySelectorAll(".op-name")) {
      span.textContent = names.get(span.dataset.operator) || span.textContent;
    }
    renderCalls();
  });

  // --- live calls and spying on them ------------------------------------------------------
  const since = (c) => c.answered_at || c.started_at;
  const operatorName = (c) => (c.operator_id ? names.get(c.operator_id) || "…" : "—");

  async function refreshCalls() {
    if (!telephony) return;
    const res = await fetch(`/api/v1/calls?limit=${PAGE}`, { credentials: "same-origin" });
    if (res.status === 404) {        // this center drives no calls: no section
      telephony = false;
      $("sv-live").classList.add("hidden");
      return;
    }
    if (!res.ok) return;             // a hiccup: the next push or tick tries again
    const data = await res.json();
    calls.clear();
    for (const c of data.calls) calls.set(c.contact_id, c);
    callsTotal = data.total;
    $("sv-live").classList.remove("hidden");
    renderCalls();
  }

  // my spy leg on this call as the server knows it (a desk phone's outlives a reload of this page)
  const myLeg = (c) => (myId && (c.spies || []).find((s) => s.supervisor_id === myId)) || null;

  function spyButton(c, mode) {
    const leg = myLeg(c);
    const active = spying ? spying.contactId === c.contact_id && spying.mode === mode : !!leg && leg.mode === mode;
    const button = el("button", {
      type: "button", class: "spy " + mode, "data-mode": mode,
      "aria-pressed": String(!!active), title: t("ui.spy_note_" + mode),
    }, t("ui.spy_" + mode));
    // coaching needs an operator on the call; the others work on a waiting caller too
    if (mode === "whisper" && !c.operator_id) button.disabled = true;
    button.onclick = () => spy(c, mode);
    return button;
  }

  function transcriptButton(c) {
    const button = el("button", { type: "button", class: "tr-toggle",
      "aria-pressed": String(reading === c.contact_id), "aria-controls": "sv-transcript" }, t("ui.transcript_show"));
    button.onclick = () => readTranscript(reading === c.contact_id ? null : c.contact_id);
    return button;
  }

  function readTranscript(contactId) {
    reading = contactId;
    if (contactId) {
      if (socket) socket.send({ op: "subscribe", topic: "contact:" + contactId });
      transcript.open(contactId);
    } else transcript.close();
    renderCalls();
  }

  function renderCalls() {
    const body = $("sv-calls").querySelector("tbody");
    const rows = [...calls.values()].sort((a, b) => Date.parse(a.started_at) - Date.parse(b.started_at));
    body.replaceChildren(...rows.map((c) => {
      const onPhone = !spying && myLeg(c);  // not this page's softphone: stopped from here
      const mine = (spying && spying.contactId === c.contact_id) || !!onPhone;
      const stop = onPhone ? el("button", { type: "button", class: "spy-stop", title: t("ui.spy_on_phone") }, t("ui.spy_stop")) : "";
      if (stop) stop.onclick = () => stopPhoneSpy(c, stop);
      return el("tr", { "data-id": c.contact_id, "data-state": c.state, class: mine ? "spying" : "" },
        el("td", {}, t("ui.call_kind_" + c.kind)),
        el("td", { class: "who" }, operatorName(c)),
        el("td", { class: "state" }, t("ui.call_state_" + c.state)),
        el("td", {}, I18n.language(c.language)),
        el("td", { class: "num since", "data-since": since(c) }, duration((Date.now() - Date.parse(since(c))) / 1000)),
        el("td", { class: "spy-actions" }, ...["listen", "whisper", "barge"].map((m) => spyButton(c, m)),
          stop, transcriptButton(c)));
    }));
    $("sv-live-count").textContent = Math.max(callsTotal, rows.length);  // the oldest PAGE shown
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

  async function stopPhoneSpy(c, button) {
    button.disabled = true;
    try {
      await api("POST", `/calls/${c.contact_id}/spy/stop`);
      showSpyStatus("");
    } catch (err) {
      showSpyStatus(`${t("ui.spy_failed")}: ${err.message}`, "error");
    }
    calling();
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
      forget(asked);                 // a desk phone rings: the server's list shows its leg
      showSpyStatus(t("ui.spy_desk_phone"));
      calling();
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
      // the name may only be known after the wallboard's next reading: it fills these in
      const who = el("span", { class: "op-name", "data-operator": d.operator_id }, names.get(d.operator_id) || "…");
      return [who, ": ", I18n.presence(d.presence, forms.get(d.operator_id))];
    }
    if (d.type === "keyword.alert") {
      return [Contact.keywordBadge(d.keyword.category), ` · ${t("priority." + d.contact.priority_name)} · ${I18n.channel(d.contact.channel)}`,
        d.keyword.raised ? ` · ${t("ui.keyword_raised")}` : "", " ",
        el("a", { href: "/contacts/" + d.contact.id }, d.contact.id.slice(0, 8))];
    }
    const what = d.contact ? ` · ${t("priority." + d.contact.priority_name)} · ${I18n.channel(d.contact.channel)}`
      : d.priority_name ? ` · ${t("priority." + d.priority_name)}` : "";
    return [`${I18n.event(d.type)}${what}${d.waited_s ? ` · ${duration(d.waited_s)}` : ""}`];
  }

  function onMessage(msg) {
    // other panels of the page (supervisor-in-progress.js) take what concerns them from here
    document.dispatchEvent(new CustomEvent("contact:push", { detail: msg }));
    if (msg.topic !== "supervisor") return;
    const d = msg.data;
    if (d.type === "contact.sla_breached" || d.type === "operator.presence_changed" || d.type === "contact.offer_expired"
        || d.type === "keyword.alert") {
      const list = $("sv-events");
      list.prepend(el("li", { class: d.type.replace(/\./g, "-") },
        el("time", { datetime: d.at }, I18n.clock(d.at)), " ", ...describe(d)));
      while (list.children.length > 50) list.lastChild.remove();
    }
    if (telephony) scheduled = scheduled || setTimeout(() => { scheduled = null; calling(); }, 300);
  }
  let scheduled = null;
  const calling = () => { refreshCalls().catch(() => {}); };  // a failed fetch: the next tick
  setInterval(calling, 5000);
  api("GET", "/me").then((m) => { myId = m.id; renderCalls(); }).catch(() => {});
  setInterval(() => {
    for (const cell of document.querySelectorAll("#sv-calls td.since")) {
      cell.textContent = duration((Date.now() - Date.parse(cell.dataset.since)) / 1000);
    }
  }, 1000);
  socket = connect(onMessage, (ws) => {
    if (reading) {
      ws.send(JSON.stringify({ op: "subscribe", topic: "contact:" + reading }));
      transcript.reload();
    }
    calling();
    document.dispatchEvent(new CustomEvent("contact:socket-open"));  // pushes may have been missed
  });
})();
