// Shared helpers for the operator and supervisor pages: API calls with the CSRF token,
// a WebSocket that reconnects by itself, texts in the page's language.
"use strict";
const Contact = (() => {
  const csrf = document.body.dataset.csrf;
  const t = I18n.t;  // t(key) or t(key, { count: 2 }): ICU messages in the page's language (i18n.js)

  async function api(method, path, body) {
    const opts = { method, headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    const res = await fetch("/api/v1" + path, opts);
    if (res.status === 401) { window.location = "/login"; throw new Error("login"); }
    const data = (res.headers.get("Content-Type") || "").includes("json") ? await res.json() : null;
    if (!res.ok) {
      const e = data && data.error;  // a refusal people read comes in every language of the pages
      const said = e && e.details && e.details.messages && e.details.messages[I18n.lang];
      throw new Error(said || (e && e.message) || res.statusText);
    }
    return data;
  }

  function connect(onMessage, onOpen) {
    const banner = document.getElementById("connection");
    let delay = 500;
    let socket = null;
    const open = () => {
      const proto = location.protocol === "https:" ? "wss:" : "ws:";
      socket = new WebSocket(`${proto}//${location.host}/ws`);
      socket.onopen = () => {
        delay = 500;
        banner.classList.add("hidden");
        document.body.dataset.connection = "open";
        if (onOpen) onOpen(socket);
      };
      socket.onmessage = (ev) => onMessage(JSON.parse(ev.data));
      socket.onclose = (ev) => {
        // 4401: the session ended (logout, expiry): log in again rather than reconnect
        if (ev.code === 4401) { window.location = "/login"; return; }
        banner.classList.remove("hidden");
        document.body.dataset.connection = "closed";
        setTimeout(open, delay);
        delay = Math.min(delay * 2, 10000);
      };
    };
    open();
    return { send: (obj) => socket && socket.readyState === 1 && socket.send(JSON.stringify(obj)) };
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v; else node.setAttribute(k, v);
    }
    for (const child of children) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
    }
    return node;
  }

  function waited(iso) {
    if (!iso) return "";
    return I18n.duration((Date.now() - Date.parse(iso)) / 1000);
  }

  function priorityBadge(contact) {
    return el("span", { class: "prio p" + contact.priority }, t("priority." + contact.priority_name));
  }

  // alarming words found by triage: a badge with the category, the words marked in the text
  function keywordBadge(category) {
    // the ⚠ is decoration; the words say what it is (for screen readers too)
    return el("span", { class: "kw", title: t("ui.keyword"), "data-category": category },
      el("span", { "aria-hidden": "true" }, "⚠ "), t("ui.kw_" + category));
  }

  function markWords(node, text, words) {
    node.replaceChildren();
    const wanted = (words || []).filter(Boolean).map((w) => w.toLowerCase());
    if (!wanted.length) { node.append(text); return; }
    const lower = text.toLowerCase();
    let at = 0;
    while (at < text.length) {
      let best = -1, size = 0;
      for (const w of wanted) {
        const i = lower.indexOf(w, at);
        if (i !== -1 && (best === -1 || i < best)) { best = i; size = w.length; }
      }
      if (best === -1) break;
      node.append(text.slice(at, best), el("mark", { class: "kw" }, text.slice(best, best + size)));
      at = best + size;
    }
    node.append(text.slice(at));
  }

  function renderMeta(dl, contact) {
    dl.replaceChildren();
    const rows = [
      [t("ui.channel"), I18n.channel(contact.channel)],
      [t("ui.priority"), priorityBadge(contact)],
      [t("ui.language"), I18n.language(contact.language)],
      [t("ui.citizen"), contact.citizen || "—"],
      [t("ui.location"), contact.location ? `${contact.location.lat.toFixed(5)}, ${contact.location.lon.toFixed(5)}` +
        (contact.location.accuracy_m ? ` ±${t("fmt.metres", { m: Math.round(contact.location.accuracy_m) })}` : "") : "—"],
    ];
    if (contact.keyword) rows.push([t("ui.keyword"), keywordBadge(contact.keyword.category)]);
    for (const [k, v] of rows) { dl.append(el("dt", {}, k), el("dd", {}, v)); }
  }

  function renderMessage(list, m) {
    if (list.querySelector(`[data-id="${m.id}"]`)) return;
    const text = el("span", { class: "text" }, m.text);
    if (m.keyword) markWords(text, m.text, m.keyword.words);
    list.append(el("li", { class: "msg " + m.direction + (m.keyword ? " alarming" : ""), "data-id": m.id },
      text, el("time", { datetime: m.created_at }, I18n.clock(m.created_at))));
    list.scrollTop = list.scrollHeight;
  }

  // a keyword.alert pushed on contact:<id>: badge on the contact, its words marked in messages
  function showAlert(dl, list, contact, keyword, now) {
    contact.keyword = keyword;
    if (now) Object.assign(contact, { priority: now.priority, priority_name: now.priority_name });
    renderMeta(dl, contact);
    for (const li of list.querySelectorAll("li.msg.inbound")) {
      const span = li.querySelector(".text");
      const said = span.textContent;
      if ((keyword.words || []).some((w) => said.toLowerCase().includes(w.toLowerCase()))) {
        li.classList.add("alarming");
        markWords(span, said, keyword.words);
      }
    }
  }

  return { api, connect, el, t, waited, priorityBadge, keywordBadge, renderMeta, renderMessage, showAlert };
})();
