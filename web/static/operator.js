// The operator's page: live queue, offers, the contact being worked (messages, reply, close).
"use strict";
(() => {
  const { api, connect, el, t, waited, priorityBadge, renderMeta, renderMessage } = Contact;
  const me = document.querySelector("[data-operator]").dataset.operator;
  const title = document.title;
  const queue = new Map();           // contact id -> public contact
  let offer = null;                  // the contact offered to me (with details)
  let current = null;                // the contact I work on
  let socket = null;

  const $ = (id) => document.getElementById(id);

  function showPresence(presence) {
    $("presence").textContent = t("ui." + presence);
    $("presence").dataset.presence = presence;
  }

  function renderQueue() {
    const body = $("queue").querySelector("tbody");
    body.replaceChildren();
    // most urgent first, then the longest waiting (live arrivals would otherwise go last)
    const rows = [...queue.values()]
      .filter((c) => c.state === "queued" || c.state === "offered")
      .sort((a, b) => a.priority - b.priority || Date.parse(a.queued_at) - Date.parse(b.queued_at));
    for (const c of rows) {
      body.append(el("tr", { "data-id": c.id, class: "p" + c.priority },
        el("td", {}, priorityBadge(c)), el("td", {}, c.channel),
        el("td", {}, c.language || "—"), el("td", { class: "wait", "data-since": c.queued_at }, waited(c.queued_at)),
        el("td", {}, c.state === "offered" ? t("ui.offered") : "")));
    }
    $("depth").textContent = rows.length;
    $("queue-empty").classList.toggle("hidden", rows.length > 0);
  }

  function showOffer(contact) {
    offer = contact;
    const body = $("offer-body");
    body.replaceChildren(el("dl", { id: "offer-meta" }), el("p", { class: "summary" }, contact.summary || ""));
    renderMeta(body.querySelector("dl"), contact);
    $("offer").className = "offer p" + contact.priority;
    document.title = `● ${t("ui.offer")} — ${title}`;
    $("accept").focus();
  }

  function hideOffer() {
    offer = null;
    $("offer").classList.add("hidden");
    document.title = title;
  }

  function showCurrent(contact) {
    current = contact;
    renderMeta($("current-meta"), contact);
    const list = $("messages");
    list.replaceChildren();
    for (const m of contact.messages || []) renderMessage(list, m);
    $("current").className = "current p" + contact.priority;
    $("current").dataset.contact = contact.id;  // dispatch.js follows this attribute
    if (socket) socket.send({ op: "subscribe", topic: "contact:" + contact.id });
    $("reply-text").focus();
  }

  function onMessage(msg) {
    if (!msg.topic) return;          // answers to our own subscribe requests
    // other panels of the page (dispatch.js) take what concerns them from here
    document.dispatchEvent(new CustomEvent("contact:push", { detail: msg }));
    const data = msg.data;
    if (msg.topic === "queue") {
      queue.set(data.contact.id, data.contact);
      renderQueue();
    } else if (msg.topic.startsWith("operator:")) {
      if (data.type === "contact.offered") showOffer(data.contact);
      else if (data.type === "operator.presence_changed") {
        showPresence(data.presence);
        if (data.presence !== "offered" && offer && data.reason) hideOffer();
      }
    } else if (current && msg.topic === "contact:" + current.id && data.message) {
      renderMessage($("messages"), data.message);
    }
  }

  async function loadQueue() {
    const data = await api("GET", "/queue");
    queue.clear();
    for (const c of data.contacts) queue.set(c.id, c);
    renderQueue();
    // an offer pushed while the socket was down (or before the page loaded) is still mine
    const mine = data.contacts.find((c) => c.state === "offered" && c.operator_id === me);
    if (mine && (!offer || offer.id !== mine.id)) showOffer(await api("GET", `/contacts/${mine.id}`));
    else if (!mine && offer) hideOffer();
  }

  async function loadMe() {
    const me = await api("GET", "/me");
    showPresence(me.presence);
    if (me.presence === "busy" && me.contact_id && !current) {
      showCurrent(await api("GET", `/contacts/${me.contact_id}`));  // resume after a reload
    }
  }

  $("go-ready").onclick = () => api("POST", "/me/presence", { presence: "ready" }).then(loadMe);
  $("go-away").onclick = () => api("POST", "/me/presence", { presence: "away" }).then(loadMe);
  $("accept").onclick = async () => {
    if (!offer) return;
    const id = offer.id;
    let contact;
    try {
      contact = await api("POST", `/contacts/${id}/accept`);
    } catch (err) {                  // the offer expired or went to someone else
      hideOffer();
      loadQueue();
      throw err;
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
    renderMessage($("messages"), m);
    $("reply-text").value = "";
  };
  $("reply-text").onkeydown = (ev) => {  // Ctrl+Enter sends
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) $("reply-form").requestSubmit();
  };
  $("close").onclick = async () => {
    if (!current) return;
    await api("POST", `/contacts/${current.id}/close`, {});
    current = null;
    $("current").classList.add("hidden");
    delete $("current").dataset.contact;
  };

  setInterval(() => {
    for (const cell of document.querySelectorAll("td.wait")) cell.textContent = waited(cell.dataset.since);
  }, 1000);

  socket = connect(onMessage, () => {
    loadQueue();
    loadMe();
    if (current) socket.send({ op: "subscribe", topic: "contact:" + current.id });
    document.dispatchEvent(new CustomEvent("contact:socket-open"));  // pushes may have been missed
  });
})();
