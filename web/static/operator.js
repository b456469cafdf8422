// The operator's page: the live queue (who, what, where, how long), the offer with its
// countdown, the contact being worked (conversation or call, transcript, quick replies, the
// caller's history, the place in words, timers, close with incident type and outcome), and the
// keys of a night shift ("?" shows them).
// The server is the truth of what I work on (/api/v1/me, pushed again on every connect): a
// reload, a second tab or a crash brings the same contact back.
"use strict";
(() => {
  const { api, connect, el, t, priorityBadge, keywordBadge, renderMessage, showAlert } = Contact;
  const root = document.querySelector("[data-operator]");
  const me = root.dataset.operator;
  const telephony = () => root.dataset.telephony === "on";
  const OFFER_TIMEOUT_S = Number(root.dataset.offerTimeout) || 15;
  const title = document.title;
  const lang = document.body.dataset.lang || "ru";
  const queue = new Map();           // contact id -> public contact (the first page, then pushes)
  const previews = new Map();        // contact id -> {snippet, caller, district} (GET /queue/previews)
  const asked = new Set();           // previews asked for and not answered yet
  const PAGE = 100;                  // rows shown; the rest is counted
  let total = 0;                     // every waiting contact, as the server last counted them
  let reloading = null;
  const keywords = new Map();        // contact id -> triage category of its alarming words
  let offer = null;                  // the contact offered to me (with details)
  let offerEnds = 0;                 // when the offer goes to someone else (ms since epoch)
  let current = null;                // the contact I work on
  let wrapSince = 0;                 // when it went to wrap-up (ms), 0: not in wrap-up
  let socket = null;
  let replies = [];                  // quick replies, every language
  let renderQueued = false;

  const $ = (id) => document.getElementById(id);
  const transcript = Transcript.panel($("transcript"));  // voice and video contacts only

  // --- small formats ------------------------------------------------------------------------
  const clock = (ms) => {            // m:ss (h:mm:ss past an hour): tabular, the same in kk and ru
    const s = Math.max(0, Math.floor(ms / 1000));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return (h ? `${h}:${String(m).padStart(2, "0")}` : String(m)) + ":" + String(r).padStart(2, "0");
  };
  const since = (iso) => (iso ? clock(Date.now() - Date.parse(iso)) : "");
  const time24 = (iso) => I18n.dateTime(iso);  // on the centre's clock, 24-hour
  const ICONS = { voice: "☎", video: "▶", app: "✉", app_sos: "⚠", telegram: "✈", whatsapp: "✆",
    kiosk: "⚑", school_alarm: "⌂", camera: "◉", callback: "↺" };
  const channelName = (ch) => I18n.channel(ch);
  const channelIcon = (ch) => el("span", { class: "ch-icon ch-" + ch, role: "img", "aria-label": channelName(ch), title: channelName(ch) }, ICONS[ch] || "•");
  const districtName = (d) => I18n.district(d);
  const callerText = (caller) => (!caller ? "" : caller.name ? `${caller.name} · ${caller.id}` : caller.id);
  const tr = (key, fallback) => { const said = t(key); return said === key ? fallback : said; };
  const typing = (target) => target && (target.tagName === "TEXTAREA" || target.tagName === "INPUT" || target.tagName === "SELECT" || target.isContentEditable);

  function showPresence(presence) {
    $("presence").textContent = I18n.presence(presence, I18n.gender);  // in her own form
    $("presence").dataset.presence = presence;
  }

  const waiting = (c) => c && (c.state === "queued" || c.state === "offered");

  // --- the queue ----------------------------------------------------------------------------
  function renderSoon() {            // many pushes in one frame: one render
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(() => { renderQueued = false; renderQueue(); });
  }

  function queueRow(c) {
    const kw = keywords.get(c.id);
    const p = previews.get(c.id);
    const who = el("div", { class: "q-who" }, channelIcon(c.channel), " ",
      el("span", { class: "q-caller" }, p ? callerText(p.caller) || channelName(c.channel) : channelName(c.channel)));
    who.append(el("span", { class: "q-lang", title: t("ui.language") }, (c.language || "—").toUpperCase()));
    const place = p && p.district ? el("div", { class: "q-district" }, districtName(p.district)) : "";
    const what = el("div", { class: "q-snippet" + (p && p.snippet_source === "transcript" ? " heard" : "") },
      p ? p.snippet || "" : "…");
    if (kw) what.prepend(keywordBadge(kw), " ");
    return el("tr", { "data-id": c.id, class: "p" + c.priority + (kw ? " alarming" : "") + (c.state === "offered" ? " offered" : "") },
      el("td", { class: "q-prio" }, priorityBadge(c),
        el("span", { class: "wait", "data-since": c.queued_at, title: t("ui.waiting") }, since(c.queued_at)),
        c.state === "offered" ? el("span", { class: "q-offered" }, t("ui.offered")) : ""),
      el("td", { class: "q-main" }, who, place, what));
  }

  function renderQueue() {
    const body = $("queue").querySelector("tbody");
    // most urgent first, then the longest waiting (live arrivals would otherwise go last)
    const rows = [...queue.values()]
      .filter(waiting)
      .sort((a, b) => a.priority - b.priority || Date.parse(a.queued_at) - Date.parse(b.queued_at) ||
        (a.queued_at < b.queued_at ? -1 : a.queued_at > b.queued_at ? 1 : a.id < b.id ? -1 : 1))
      .slice(0, PAGE);
    body.replaceChildren(...rows.map(queueRow));
    $("depth").textContent = Math.max(total, rows.length);
    $("queue-empty").classList.toggle("hidden", rows.length > 0);
    askPreviews(rows.map((c) => c.id).filter((id) => !previews.has(id) && !asked.has(id)));
    // the page drained while more wait on the server: read the next first page
    if (total > rows.length && rows.length < PAGE / 2 && !reloading) {
      reloading = setTimeout(() => { reloading = null; loadQueue().catch(() => {}); }, 500);
    }
  }

  let previewTimer = null;
  const previewWanted = new Set();
  function askPreviews(ids) {
    for (const id of ids) previewWanted.add(id);
    if (!previewWanted.size || previewTimer) return;
    previewTimer = setTimeout(async () => {
      previewTimer = null;
      const batch = [...previewWanted].slice(0, PAGE);
      for (const id of batch) { previewWanted.delete(id); asked.add(id); }
      try {
        const data = await api("GET", "/queue/previews?ids=" + batch.map(encodeURIComponent).join(","));
        for (const [id, p] of Object.entries(data.previews)) if (queue.has(id)) previews.set(id, p);
      } catch (err) {
        console.warn("previews:", err.message);
      } finally {
        for (const id of batch) asked.delete(id);
      }
      renderSoon();
      if (previewWanted.size) askPreviews([]);
    }, 250);  // one request (and one audit entry) for a whole burst of arrivals
  }

  // --- the offer ----------------------------------------------------------------------------
  let beeps = 0;
  const SOUND_KEY = "contact.offerSound." + me;  // her setting, in this browser
  const soundOn = () => localStorage.getItem(SOUND_KEY) === "on";
  function showSound() { $("offer-sound").setAttribute("aria-pressed", soundOn() ? "true" : "false"); }
  function beep() {                  // two soft tones: audible in a headset, not harsh at night
    beeps += 1;
    document.body.dataset.offerBeeps = String(beeps);
    try {
      const ctx = new AudioContext();
      const gain = ctx.createGain();
      gain.gain.value = 0;
      gain.connect(ctx.destination);
      for (const [at, hz] of [[0, 660], [0.25, 880]]) {
        const osc = ctx.createOscillator();
        osc.frequency.value = hz;
        osc.connect(gain);
        osc.start(ctx.currentTime + at);
        osc.stop(ctx.currentTime + at + 0.18);
      }
      gain.gain.setValueAtTime(0.1, ctx.currentTime);
      setTimeout(() => ctx.close(), 800);
    } catch (err) { /* no audio output: the card still shows */ }
  }

  function showOffer(contact, expiresAt) {
    const fresh = !offer || offer.id !== contact.id;
    offer = contact;
    offerEnds = expiresAt ? Date.parse(expiresAt) : fresh || !offerEnds ? Date.now() + OFFER_TIMEOUT_S * 1000 : offerEnds;
    const body = $("offer-body");
    const meta = el("dl", { id: "offer-meta", class: "cur-meta" });
    body.replaceChildren(el("p", { class: "offer-line" }, priorityBadge(contact), " ", channelIcon(contact.channel), " ",
      channelName(contact.channel), " · ", (contact.language || "—").toUpperCase(),
      contact.keyword ? keywordBadge(contact.keyword.category) : ""),
    meta, el("p", { class: "summary" }, contact.summary || ""));
    renderMeta(meta, contact);
    $("offer").className = "offer p" + contact.priority;
    $("idle").classList.add("hidden");
    document.title = `● ${t("ui.offer")} — ${title}`;
    tickOffer();
    $("accept").focus();
    if (fresh && soundOn()) beep();
  }

  function tickOffer() {
    if (!offer) return;
    const left = Math.max(0, offerEnds - Date.now());
    $("offer-countdown").textContent = I18n.duration(Math.ceil(left / 1000));
    $("offer-bar").style.width = `${Math.min(100, (100 * left) / (OFFER_TIMEOUT_S * 1000))}%`;
    $("offer").classList.toggle("ending", left < 5000);
  }

  function hideOffer() {
    offer = null;
    $("offer").classList.add("hidden");
    document.title = title;
    $("idle").classList.toggle("hidden", !!current);
  }

  // --- the contact being worked -------------------------------------------------------------
  function renderMeta(dl, contact) {
    dl.replaceChildren();
    const loc = contact.location;
    const rows = [[t("ui.citizen"), contact.citizen || "—"]];
    if (loc) {
      rows.push([t("ui.location"), `${loc.lat.toFixed(5)}, ${loc.lon.toFixed(5)}` +
        (loc.accuracy_m ? ` ±${t("fmt.metres", { m: Math.round(loc.accuracy_m) })}` : "")]);
    }
    if (contact.keyword) rows.push([t("ui.keyword"), keywordBadge(contact.keyword.category)]);
    for (const [k, v] of rows) dl.append(el("dt", {}, k), el("dd", {}, v));
  }

  function renderBadges(contact) {
    $("cur-badges").replaceChildren(priorityBadge(contact), " ", channelIcon(contact.channel), " ",
      el("span", {}, channelName(contact.channel)), " · ", el("span", { class: "q-lang" }, (contact.language || "—").toUpperCase()));
  }

  function showCurrent(contact) {
    const same = current && current.id === contact.id;
    current = contact;
    renderBadges(contact);
    renderMeta($("current-meta"), contact);
    const list = $("messages");
    list.replaceChildren();
    for (const m of contact.messages || []) renderMessage(list, m);
    $("current").className = "current p" + contact.priority;
    $("current").dataset.contact = contact.id;  // dispatch.js follows this attribute
    $("current").dataset.kind = Transcript.isCall(contact) ? "call" : "text";  // a call has no reply box
    $("dispatch").classList.remove("hidden");
    $("idle").classList.add("hidden");
    if (Transcript.isCall(contact)) transcript.open(contact.id); else transcript.close();
    $("messages").classList.toggle("hidden", Transcript.isCall(contact) && !(contact.messages || []).length);
    if (socket) socket.send({ op: "subscribe", topic: "contact:" + contact.id });
    // the server's moment (wrapped_up_at): a reload goes on counting, it does not restart at 0
    wrapSince = contact.state === "wrap_up" ? Date.parse(contact.wrapped_up_at) || (same && wrapSince) || Date.now() : 0;
    renderQuickReplies();
    if (!same) {
      $("incident-type").value = "";
      $("outcome").value = "";
      $("reply-text").value = "";
      loadHistory(contact.id);
      loadPlace(contact.id);
      loadCall(contact);
    }
    tickTimers();
    $("reply-text").focus();
  }

  function hideCurrent(notice) {
    current = null;
    wrapSince = 0;
    transcript.close();
    $("current").classList.add("hidden");
    $("dispatch").classList.add("hidden");
    $("call-bar").classList.add("hidden");
    delete $("current").dataset.contact;
    $("idle").classList.toggle("hidden", !!offer);
    if (notice) showNotice(notice);
  }

  function tickTimers() {
    if (!current) return;
    const opened = current.answered_at || current.created_at;
    $("open-timer").textContent = since(opened);
    $("wrap-box").classList.toggle("hidden", !wrapSince);
    if (wrapSince) $("wrap-timer").textContent = clock(Date.now() - wrapSince);
  }

  function showNotice(message) {    // refusals and what was done to me, until the next act
    $("op-notice").textContent = message || "";
    $("op-notice").classList.toggle("hidden", !message);
  }

  async function loadHistory(contactId) {
    const list = $("history-list");
    list.replaceChildren();
    $("history-count").textContent = "…";
    try {
      const data = await api("GET", `/contacts/${contactId}/history`);
      if (!current || current.id !== contactId) return;
      list.replaceChildren(...data.contacts.map((h) => el("li", { "data-id": h.id },
        el("time", {}, time24(h.created_at)), " ", channelIcon(h.channel), " ", priorityBadge(h), " ",
        el("span", { class: "h-what" }, [h.disposition ? closeLabel(h.disposition) : tr("ui.op_state_" + h.state, ""),
          h.summary].filter(Boolean).join(" — ")))));
      $("history-count").textContent = String(data.contacts.length);
      $("history").classList.toggle("has", data.contacts.length > 0);
    } catch (err) {
      $("history-count").textContent = "—";
    }
  }

  function closeLabel(disposition) {
    const [kind, outcome] = disposition.split("/");
    if (!outcome) return disposition;
    return `${tr("ui.it_" + kind, kind)} · ${tr("ui.outcome_" + outcome, outcome)}`;
  }

  async function loadPlace(contactId) {
    const line = $("place");
    line.replaceChildren(el("span", { class: "muted" }, current && current.location ? "…" : t("ui.dispatch_no_location")));
    if (!current || !current.location) { document.dispatchEvent(new CustomEvent("contact:district", { detail: null })); return; }
    let p;
    try {
      p = await api("GET", `/contacts/${contactId}/place?lang=${lang}`);
    } catch (err) {
      line.replaceChildren(el("span", { class: "muted" }, "—"));
      return;
    }
    if (!current || current.id !== contactId) return;
    const parts = [];
    if (p.address) parts.push(el("strong", { class: "address", "data-source": p.address_source }, p.address));
    if (p.district) parts.push(el("span", { class: "district" }, `${t("ui.dispatch_district")}: ${districtName(p.district)} (${p.district.department})`));
    if (p.nearest) {
      const name = p.nearest.kind === "kiosk" ? `${p.nearest.name}${p.nearest.address ? ", " + p.nearest.address : ""}` : p.nearest.name;
      parts.push(el("span", { class: "nearest", "data-kind": p.nearest.kind },
        `${t(p.nearest.kind === "kiosk" ? "ui.op_near_kiosk" : "ui.op_near_camera", { name })} · ${t("fmt.metres", { m: Math.round(p.nearest.distance_m) })}`));
    }
    if (!parts.length) parts.push(el("span", { class: "muted" }, t("ui.op_no_address")));
    line.replaceChildren(...parts.flatMap((x, i) => (i ? [" · ", x] : [x])));
    line.dataset.loaded = contactId;
    document.dispatchEvent(new CustomEvent("contact:district", { detail: p.district }));
  }

  // --- the call's controls (telephony API): hold, transfer with the incident, end --------------
  let callHeld = false;
  async function loadCall(contact) {
    const bar = $("call-bar");
    bar.classList.add("hidden");
    $("call-bar-status").textContent = "";
    if (!telephony() || !["voice", "video", "callback", "kiosk", "app_sos"].includes(contact.channel)) return;
    try {
      const data = await api("GET", `/calls/${contact.id}`);
      if (!current || current.id !== contact.id || !data.live) return;
      callHeld = data.live.state === "held";
      $("call-hold").setAttribute("aria-pressed", String(callHeld));
      $("call-hold").textContent = t(callHeld ? "ui.op_resume" : "ui.op_hold");
      bar.classList.remove("hidden");
    } catch (err) { /* no live call: no controls */ }
  }

  async function callAction(path, body, done) {
    if (!current) return;
    const status = $("call-bar-status");
    status.textContent = "…";
    try {
      const call = await api("POST", `/calls/${current.id}/${path}`, body);
      status.textContent = done(call);
    } catch (err) {
      status.textContent = err.message;
    }
  }

  $("call-hold").onclick = () => callAction(callHeld ? "resume" : "hold", undefined, () => {
    callHeld = !callHeld;
    $("call-hold").setAttribute("aria-pressed", String(callHeld));
    $("call-hold").textContent = t(callHeld ? "ui.op_resume" : "ui.op_hold");
    return t(callHeld ? "ui.call_state_held" : "ui.call_state_connected");
  });
  $("call-transfer").onclick = () => {
    const target = $("transfer-target").value;
    callAction("transfer", { target, mode: "blind" }, () => `${t("ui.call_state_transferring")}: ${target}`);
  };
  $("call-end").onclick = () => callAction("hangup", undefined, () => t("ui.sp_ended"));

  // --- quick replies ------------------------------------------------------------------------
  function repliesFor(contact) {
    const want = (contact && contact.language) || lang;
    return replies.filter((r) => r.language === want).slice(0, 9);
  }

  function renderQuickReplies() {
    const box = $("quick-replies");
    box.replaceChildren(...repliesFor(current).map((r, i) => {
      const b = el("button", { type: "button", class: "qr", "data-id": r.id, title: r.text, "aria-keyshortcuts": `Alt+${i + 1}` },
        el("kbd", {}, String(i + 1)), " ", r.label);
      b.onclick = () => useQuickReply(r);
      return b;
    }));
  }

  function useQuickReply(r) {
    const box = $("reply-text");
    box.value = box.value.trim() ? `${box.value.trim()} ${r.text}` : r.text;
    box.focus();
  }

  async function loadQuickReplies() {
    try {
      replies = (await api("GET", "/quick-replies")).replies;
    } catch (err) { replies = []; }
    if (current) renderQuickReplies();
  }

  async function loadCloseLists() {
    const lists = await api("GET", "/close-lists");
    for (const k of lists.incident_types) $("incident-type").append(el("option", { value: k }, t("ui.it_" + k)));
    for (const o of lists.outcomes) $("outcome").append(el("option", { value: o }, t("ui.outcome_" + o)));
  }

  // the server says what I am working on (/api/v1/me, and a push on every connect): a
  // reload, a second tab, a crash or a restart brings the same contact back
  async function resume(contactId) {
    if (contactId && (!current || current.id !== contactId)) {
      showCurrent(await api("GET", `/contacts/${contactId}`));
    } else if (!contactId && current) {
      hideCurrent();
    }
  }

  function awayReason(reason) {
    const key = "ui.away_reason_" + reason, said = t(key, { gender: I18n.gender });  // «Отошла» / «Отошёл»
    return said === key ? t("ui.away_reason_other", { gender: I18n.gender }) : said;
  }

  function onMessage(msg) {
    if (current && msg.unsubscribed === "contact:" + current.id) {
      hideCurrent(t("ui.contact_moved"));  // handed to someone else
      return;
    }
    if (!msg.topic) return;          // answers to our own subscribe requests
    // other panels of the page (dispatch.js) take what concerns them from here
    document.dispatchEvent(new CustomEvent("contact:push", { detail: msg }));
    const data = msg.data;
    if (msg.topic === "queue") {
      if (data.type === "keyword.alert") keywords.set(data.contact.id, data.keyword.category);
      if (pushedDuringLoad) pushedDuringLoad.set(data.contact.id, data.contact);
      const was = waiting(queue.get(data.contact.id)), now = waiting(data.contact);
      total = Math.max(0, total + (now && !was ? 1 : !now && was ? -1 : 0));
      if (now) queue.set(data.contact.id, data.contact);
      else {                                // gone from the queue: keep the maps bounded
        queue.delete(data.contact.id);
        keywords.delete(data.contact.id);
        previews.delete(data.contact.id);
      }
      renderSoon();
    } else if (msg.topic.startsWith("operator:")) {
      if (data.type === "contact.offered") showOffer(data.contact, data.expires_at);
      else if (data.type === "operator.working") resume(data.contact_id);
      else if (data.type === "contact.reassigned" && data.contact.operator_id === me) {
        showCurrent(data.contact);
        showNotice(t("ui.contact_assigned"));
      }
      else if (data.type === "operator.presence_changed") {
        showPresence(data.presence);
        if (data.presence !== "offered" && offer && data.reason) hideOffer();
        if (data.presence === "away" && data.reason && data.reason !== "operator") showNotice(awayReason(data.reason));
      }
    } else if (current && msg.topic === "contact:" + current.id && String(data.type).startsWith("transcript.")) {
      // transcript.js shows those (a degraded notice carries a `message` that is no chat message)
    } else if (current && msg.topic === "contact:" + current.id && data.message) {
      $("messages").classList.remove("hidden");
      renderMessage($("messages"), data.message);
    } else if (current && msg.topic === "contact:" + current.id && data.type === "keyword.alert") {
      showAlert($("current-meta"), $("messages"), current, data.keyword, data.contact);
      renderMeta($("current-meta"), current);
      renderBadges(current);
    } else if (current && msg.topic === "contact:" + current.id && data.type === "contact.located") {
      current.location = data.location;
      renderMeta($("current-meta"), current);
      loadPlace(current.id);
    } else if (current && msg.topic === "contact:" + current.id && data.contact) {
      const c = data.contact;
      if (c.operator_id !== me) hideCurrent(t("ui.contact_moved"));
      else if (c.state === "closed" || c.state === "abandoned") {
        hideCurrent(data.type === "contact.force_closed" ? t("ui.contact_force_closed") : "");
      } else if (c.state === "wrap_up" && !wrapSince) {
        current.state = "wrap_up";
        wrapSince = Date.parse(c.wrapped_up_at) || Date.parse(msg.data.at) || Date.now();
        tickTimers();
      }
    }
  }

  // pushes that arrive while the first page is being read are newer than that page: they
  // are applied again over it (a contact queued just after the read is not wiped out)
  let pushedDuringLoad = null;
  async function loadQueue() {
    const pushed = new Map();
    pushedDuringLoad = pushed;
    let data;
    try {
      data = await api("GET", `/queue?limit=${PAGE}`);
    } finally {
      if (pushedDuringLoad === pushed) pushedDuringLoad = null;
    }
    queue.clear();
    for (const c of data.contacts) queue.set(c.id, c);
    total = data.total;
    for (const [id, c] of pushed) {
      const listed = data.contacts.some((x) => x.id === id);
      if (waiting(c)) { queue.set(id, c); if (!listed) total += 1; }
      else if (listed) { queue.delete(id); total = Math.max(0, total - 1); }
    }
    for (const id of [...previews.keys()]) if (!queue.has(id)) previews.delete(id);
    renderQueue();
    // an offer pushed while the socket was down (or before the page loaded) is still mine,
    // on whichever page of the queue it stands
    const mine = data.offered_to_me;
    if (mine && (!offer || offer.id !== mine.id)) showOffer(await api("GET", `/contacts/${mine.id}`), data.offer_expires_at);
    else if (!mine && offer) hideOffer();
  }

  async function loadMe() {
    const me = await api("GET", "/me");
    showPresence(me.presence);
    await resume(me.contact_id);
  }

  // "ready" is refused while a contact is open: the server's reason, in my language
  const presence = (wanted) => () => {
    showNotice("");
    api("POST", "/me/presence", { presence: wanted }).then(loadMe, (err) => showNotice(err.message));
  };
  $("go-ready").onclick = presence("ready");
  $("go-away").onclick = presence("away");
  $("accept").onclick = async () => {
    if (!offer) return;
    const id = offer.id;
    let contact;
    try {
      contact = await api("POST", `/contacts/${id}/accept`);
    } catch (err) {                  // the offer expired or went to someone else
      hideOffer();
      loadQueue();
      showNotice(err.message);
      return;
    }
    hideOffer();
    showCurrent(contact);
  };
  $("decline").onclick = async () => {
    if (!offer) return;
    const id = offer.id;
    hideOffer();
    await api("POST", `/contacts/${id}/decline`);
  };
  $("reply-form").onsubmit = async (ev) => {
    ev.preventDefault();
    const text = $("reply-text").value.trim();
    if (!text || !current) return;
    const m = await api("POST", `/contacts/${current.id}/reply`, { text });
    $("messages").classList.remove("hidden");
    renderMessage($("messages"), m);
    $("reply-text").value = "";
  };
  $("reply-text").onkeydown = (ev) => {  // Ctrl+Enter sends
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) $("reply-form").requestSubmit();
  };
  // the incident type and the outcome are required (the browser says so on the field)
  $("close-form").onsubmit = async (ev) => {
    ev.preventDefault();
    if (!current) return;
    try {
      await api("POST", `/contacts/${current.id}/close`, { incident_type: $("incident-type").value, outcome: $("outcome").value });
    } catch (err) {
      showNotice(err.message);
      return;
    }
    hideCurrent();
  };
  $("offer-sound").onclick = () => {
    localStorage.setItem(SOUND_KEY, soundOn() ? "off" : "on");
    showSound();
  };

  // --- keys ---------------------------------------------------------------------------------
  const help = $("help");
  let helpFrom = null;
  function toggleHelp(open) {
    const show = open ?? help.classList.contains("hidden");
    help.classList.toggle("hidden", !show);
    if (show) { helpFrom = document.activeElement; $("help-close").focus(); }
    else if (helpFrom) helpFrom.focus();
  }
  $("help-open").onclick = () => toggleHelp(true);
  $("help-close").onclick = () => toggleHelp(false);

  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && !help.classList.contains("hidden")) { toggleHelp(false); ev.preventDefault(); return; }
    if (ev.altKey && !ev.ctrlKey && !ev.metaKey) {
      const k = ev.key.toLowerCase();
      const code = ev.code;
      if (ev.key === "Enter" && offer) { $("accept").click(); ev.preventDefault(); }
      else if (code === "KeyR" || k === "r") { $("go-ready").click(); ev.preventDefault(); }
      else if (code === "KeyA" || k === "a") { $("go-away").click(); ev.preventDefault(); }
      else if ((code === "KeyC" || k === "c") && current) {
        ev.preventDefault();
        if (!$("incident-type").value) $("incident-type").focus();
        else if (!$("outcome").value) $("outcome").focus();
        else $("close-form").requestSubmit();
      } else if ((code === "KeyD" || k === "d") && current) {
        ev.preventDefault();
        const first = document.querySelector("#dispatch-units button.dispatch-send:not([disabled])");
        if (first) first.click();
      } else if (/^Digit[1-9]$/.test(code) && current) {
        const r = repliesFor(current)[Number(code.slice(5)) - 1];
        if (r) { useQuickReply(r); ev.preventDefault(); }
      }
      return;
    }
    if (typing(ev.target) || ev.ctrlKey || ev.metaKey) return;
    if (ev.key === "?") { toggleHelp(); ev.preventDefault(); }
    else if (ev.key === "/" && current) { $("reply-text").focus(); ev.preventDefault(); }
  });
  help.addEventListener("keydown", (ev) => {  // the focus stays in the dialog while it is open
    if (ev.key === "Tab") { ev.preventDefault(); $("help-close").focus(); }
  });

  setInterval(() => {
    for (const cell of document.querySelectorAll("#queue .wait")) cell.textContent = since(cell.dataset.since);
    tickOffer();
    tickTimers();
  }, 1000);

  showSound();
  loadQuickReplies();
  loadCloseLists().catch((err) => console.warn("close lists:", err.message));
  let first = true;
  socket = connect(onMessage, () => {
    const loaded = Promise.all([loadQueue(), loadMe()]);
    if (first) {                     // interactive: the queue and my work are on the screen
      first = false;
      loaded.then(() => { document.body.dataset.ready = String(Math.round(performance.now())); });
    }
    if (current) socket.send({ op: "subscribe", topic: "contact:" + current.id });
    if (current) transcript.reload();
    document.dispatchEvent(new CustomEvent("contact:socket-open"));  // pushes may have been missed
  });
})();
