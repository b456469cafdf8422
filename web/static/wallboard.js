// The supervisor's wallboard, the page's one view of the room: what waits now (by priority,
// with the longest wait, and how many of them are offered), the last shift's answer share and
// abandoned contacts, operators by state and each with time in state, SLA breaches, keyword
// alerts, kiosks offline and units by status.
// The whole board is read every 5 s (GET /supervisor/wallboard: one aggregate query, no
// personal data); what waits and who works (?part=room, read from the queue store) again on
// every push that changes it, so a contact queued or answered and an operator's new state show
// at once. Waits and times in state tick every second in between; lists stay short (operators
// beyond the first few behind "+N more", the events list capped).
"use strict";
const Wallboard = (() => {
  const { api, el, t } = Contact;
  const $ = (id) => document.getElementById(id);
  const root = $("wallboard");
  const POLL_MS = 5000;
  const PUSH_WAIT_MS = 250;          // pushes within this time are read in one request
  const OPERATORS_SHOWN = 10;        // rows of the operators table until "+N more"
  // every contact event can change what waits and who works; a keyword alert lifts a priority
  const ROOM_CHANGES = /^(contact\.|operator\.presence_changed$|keyword\.alert$)/;
  let last = null;                   // the board as last read
  let roomAt = 0;                    // when its live part arrived (waits tick from there)
  let asked = 0;                     // requests of the live part, numbered...
  let applied = 0;                   // ...so an older answer never overwrites a newer one
  let allOperators = false;          // the supervisor asked for every operator's row
  // the live part's fields (GET /supervisor/wallboard?part=room)
  const ROOM_KEYS = new Set(["room_at", "waiting", "waiting_total", "offered", "longest_wait_s", "over_target_now",
    "answer_target_s", "sla_breaches", "operators_by_state", "operators", "operators_total"]);

  const duration = I18n.duration;
  const pct = (r) => (r == null ? "—" : `${Math.round(r * 100)} %`);
  const drift = () => (Date.now() - roomAt) / 1000;
  // a state shown as a word and a count; the class only adds colour to what the words say
  const item = (label, value, cls) => el("li", { class: cls || "" }, el("span", {}, label), " ", el("strong", {}, value));
  const none = () => el("li", { class: "muted" }, t("ui.wb_none"));
  const ticking = (seconds) => el("span", { class: "wb-tick", "data-base": seconds }, duration(seconds + drift()));

  function renderRoom() {
    const w = last;
    const priorities = Object.keys(w.waiting);
    $("wb-waiting").textContent = w.waiting_total;
    $("wb-waiting-tile").classList.toggle("hot", w.waiting_total > 0);
    $("wb-offered").textContent = w.offered;
    $("wb-longest").replaceChildren(w.waiting_total ? ticking(w.longest_wait_s) : "—");
    const rows = Object.entries(w.waiting).filter(([, r]) => r.n > 0);
    $("wb-waiting-by-priority").replaceChildren(...(rows.length ? rows.map(([name, r]) =>
      el("li", { "data-priority": name },
        el("span", { class: "prio p" + priorities.indexOf(name) }, t("priority." + name)), " ",
        el("strong", {}, r.n), " · ", t("ui.wb_longest"), " ", ticking(r.longest_wait_s))) : [none()]));
    $("wb-over-target").textContent = w.over_target_now;
    $("wb-breaches-tile").classList.toggle("alarm", w.over_target_now > 0);
    $("wb-breaches").textContent = w.sla_breaches;
    const states = Object.entries(w.operators_by_state);
    $("wb-operators").replaceChildren(...(states.length ? states.map(([s, n]) => item(t("presence." + s), n, "presence-" + s)) : [none()]));
    const shown = allOperators ? w.operators : w.operators.slice(0, OPERATORS_SHOWN);
    $("wb-operator-table").querySelector("tbody").replaceChildren(...shown.map((o) =>
      el("tr", { "data-id": o.operator_id },
        el("td", {}, o.display_name),
        el("td", {}, el("span", { class: "presence", "data-presence": o.presence }, I18n.presence(o.presence, o.gender))),
        el("td", { class: "num" }, ticking(o.for_s)),
        el("td", {}, (o.languages || []).map(I18n.language).join(", ")))));
    $("wb-operator-count").textContent = w.operators_total;
    // the rows beyond the first few: behind a button that says how many (the server lists 200)
    const hidden = w.operators.length - OPERATORS_SHOWN;
    const more = $("wb-operators-more");
    more.classList.toggle("hidden", hidden <= 0);
    more.setAttribute("aria-expanded", String(allOperators));
    more.textContent = allOperators ? t("ui.wb_fewer_operators") : t("ui.wb_more_operators", { count: Math.max(hidden, 0) });
  }

  function renderShift() {
    const w = last;
    $("wb-answered").textContent = pct(w.answered_within_target_ratio);
    $("wb-answered-note").textContent = `${w.answered} / ${w.shift_contacts}`;
    const low = w.answered_within_target_ratio != null && w.answered_within_target_ratio < 0.9;
    $("wb-answered-tile").classList.toggle("alarm", low);
    $("wb-abandoned").textContent = w.abandoned;
    const kws = Object.entries(w.keyword_alerts);
    $("wb-keywords").replaceChildren(...(kws.length ? kws.map(([k, n]) => item(t("ui.kw_" + k), n)) : [none()]));
    $("wb-keywords-tile").classList.toggle("alarm", kws.length > 0);
    $("wb-kiosks").textContent = `${w.kiosks_offline} / ${w.kiosks_total}`;
    $("wb-kiosks-tile").classList.toggle("alarm", w.kiosks_offline > 0);
    const units = Object.entries(w.units_by_status);
    $("wb-units").replaceChildren(...(units.length ? units.map(([s, n]) => item(t("ui.unit_" + s), n)) : [none()]));
  }

  // only the times move between two readings: no list is rebuilt for them
  function tick() {
    const gone = drift();
    for (const span of root.querySelectorAll(".wb-tick")) {
      span.textContent = duration(Number(span.dataset.base) + gone);
    }
  }

  function took(body, number) {
    if (number < applied) {          // a newer live part is on the screen already
      for (const key of Object.keys(body)) if (!ROOM_KEYS.has(key)) last[key] = body[key];
      if ("at" in last) renderShift();
      return;
    }
    applied = number;
    last = { ...(last || {}), ...body };
    roomAt = Date.now();
    root.setAttribute("aria-busy", "false");
    renderRoom();
    if ("at" in last) renderShift();
    // the page's other panels name operators from here (live calls, events)
    document.dispatchEvent(new CustomEvent("wallboard:update", { detail: last }));
  }

  async function read(part) {
    const number = ++asked;
    try {
      took(await api("GET", "/supervisor/wallboard" + (part ? "?part=" + part : "")), number);
    } catch (err) {
      console.warn("wallboard:", err.message);  // the next tick or push tries again
    }
  }
  const refresh = () => read(null);

  // pushes: one request of the live part at a time, the pushes meanwhile read by the next one
  let waiting = null, reading = false, again = false;
  async function readRoom() {
    if (reading) { again = true; return; }
    reading = true;
    await read("room");
    reading = false;
    if (again) { again = false; soon(); }
  }
  const soon = () => { waiting = waiting || setTimeout(() => { waiting = null; readRoom(); }, PUSH_WAIT_MS); };

  if (root) {
    // supervisor.js owns the page's socket and passes every push on
    document.addEventListener("contact:push", (ev) => {
      const msg = ev.detail;
      if (msg.topic === "supervisor" && msg.data && ROOM_CHANGES.test(msg.data.type)) soon();
    });
    document.addEventListener("contact:socket-open", refresh);  // pushes may have been missed
    $("wb-operators-more").onclick = () => { allOperators = !allOperators; if (last) renderRoom(); };
    refresh();
    setInterval(refresh, POLL_MS);
    setInterval(tick, 1000);
  }
  return { refresh, snapshot: () => last };
})();
