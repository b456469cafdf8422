// Shared helpers for the operator and supervisor pages: API calls with the CSRF token,
// a WebSocket that reconnects by itself, texts in the page's language.
"use strict";
const Contact = (() => {
  const csrf = document.body.dataset.csrf;
  const i18n = JSON.parse(document.getElementById("i18n").textContent);
  const t = (key) => i18n[key] || key;

  async function api(method, path, body) {
    const opts = { method, headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    const res = await fetch("/api/v1" + path, opts);
    if (res.status === 401) { window.location = "/login"; throw new Error("login"); }
    const data = (res.headers.get("Content-Type") || "").includes("json") ? await res.json() : null;
    if (!res.ok) { throw new Error((data && data.error && data.error.message) || res.statusText); }
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
      socket.onclose = () => {
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
    const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
  }

  function priorityBadge(contact) {
    return el("span", { class: "prio p" + contact.priority }, t("priority." + contact.priority_name));
  }

  function renderMeta(dl, contact) {
    dl.replaceChildren();
    const rows = [
      [t("ui.channel"), contact.channel],
      [t("ui.priority"), priorityBadge(contact)],
      [t("ui.language"), contact.language || "—"],
      [t("ui.citizen"), contact.citizen || "—"],
      [t("ui.location"), contact.location ? `${contact.location.lat.toFixed(5)}, ${contact.location.lon.toFixed(5)}` +
        (contact.location.accuracy_m ? ` ±${Math.round(contact.location.accuracy_m)} m` : "") : "—"],
    ];
    for (const [k, v] of rows) { dl.append(el("dt", {}, k), el("dd", {}, v)); }
  }

  function renderMessage(list, m) {
    if (list.querySelector(`[data-id="${m.id}"]`)) return;
    list.append(el("li", { class: "msg " + m.direction, "data-id": m.id },
      el("span", { class: "text" }, m.text), el("time", {}, new Date(m.created_at).toLocaleTimeString())));
    list.scrollTop = list.scrollHeight;
  }

  return { api, connect, el, t, waited, priorityBadge, renderMeta, renderMessage };
})();
