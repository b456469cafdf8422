// The control room's contacts in progress: operator, stage, age, whether its operator is gone;
// reassign (to an operator present, or back to the queue), take over, force-close (a reason
// is required; audited). Paged from /api/v1/supervisor/in-progress; pushes refresh it.
"use strict";
(() => {
  const { api, el, t, priorityBadge } = Contact;
  const $ = (id) => document.getElementById(id);
  const rows = new Map();            // contact id -> row of the API
  let cursor = null;                 // the next page's, or null
  let fetchedAt = Date.now();        // ages are the server's at this time, then ticked here from
                                     // when each began (data-since)
  let acting = null;                 // {kind, contact} while the dialog is open

  const duration = I18n.duration;

  function status(message, kind) {
    const box = $("sv-progress-status");
    box.replaceChildren(...(Array.isArray(message) ? message : [message || ""]));
    box.dataset.kind = kind || "info";
    box.classList.toggle("hidden", !message);
  }

  async function load(more) {
    const query = more && cursor ? `?cursor=${encodeURIComponent(cursor)}` : "";
    const page = await api("GET", "/supervisor/in-progress" + query);
    if (!more) rows.clear();
    fetchedAt = Date.now();
    for (const c of page.contacts) rows.set(c.id, c);
    cursor = page.next_cursor;
    render();
  }

  // what a row shows, but its age (which ticks here): a row whose words did not change is kept
  const look = (c) => [c.priority, c.channel, c.operator_id, c.operator_name, c.state, c.escalated_at, c.orphaned_at].join("|");

  function row(c) {
    const flags = c.escalated_at ? t("ui.ip_escalated") : c.orphaned_at ? t("ui.ip_orphaned") : "";
    return el("tr", { "data-id": c.id, "data-state": c.state, "data-look": look(c), class: flags ? "orphaned" : "" },
      el("td", {}, priorityBadge(c)),
      el("td", {}, I18n.channel(c.channel)),
      el("td", { class: "who" }, c.operator_name || "—"),
      el("td", { class: "state" }, t("ui.ip_" + c.state), flags ? el("span", { class: "flag" }, " · " + flags) : ""),
      el("td", { class: "num age", "data-since": fetchedAt - c.age_s * 1000 }, duration(c.age_s)),
      el("td", { class: "ip-actions" },
        button("reassign", c), button("take_over", c), button("force_close", c)));
  }

  function render() {
    const body = $("sv-progress-table").querySelector("tbody");
    // a contact whose operator is gone, and above all one handed to us, comes first
    const weight = (c) => (c.escalated_at ? 0 : c.orphaned_at ? 1 : 2);
    const list = [...rows.values()].sort((a, b) => weight(a) - weight(b) || b.age_s - a.age_s);
    // pushes reload the list several times a second at a busy hour: only the rows that
    // changed are built again, and the table is touched only when something moved
    const shown = new Map([...body.children].map((tr) => [tr.dataset.id, tr]));
    const wanted = list.map((c) => {
      const tr = shown.get(c.id);
      return tr && tr.dataset.look === look(c) ? tr : row(c);
    });
    if (wanted.length !== body.children.length || wanted.some((tr, i) => body.children[i] !== tr)) {
      body.replaceChildren(...wanted);
    }
    $("sv-progress-count").textContent = list.length;
    $("sv-progress-empty").classList.toggle("hidden", list.length > 0);
    $("sv-progress-more").classList.toggle("hidden", !cursor);
  }

  function button(kind, c) {
    const b = el("button", { type: "button", class: "ip-" + kind.replace("_", "-"), "data-action": kind }, t("ui." + kind));
    b.onclick = () => (kind === "take_over" ? takeOver(c) : ask(kind, c));
    return b;
  }

  async function takeOver(c) {
    status("");
    try {
      await api("POST", `/contacts/${c.id}/take-over`);
    } catch (err) {
      status(err.message, "error");
      return;
    }
    // the operator page of this supervisor opens it (/api/v1/me names it)
    status([t("ui.taken_over"), " ", el("a", { href: "/", target: "_blank", id: "sv-open-workplace" }, t("ui.open_workplace"))]);
    load(false);
  }

  async function ask(kind, c) {
    acting = { kind, contact: c };
    $("sv-act-title").textContent = t("ui." + kind);
    const reassigning = kind === "reassign";
    for (const id of ["sv-act-to", "sv-act-to-label"]) $(id).classList.toggle("hidden", !reassigning);
    for (const id of ["sv-act-reason", "sv-act-reason-label"]) $(id).classList.toggle("hidden", reassigning);
    $("sv-act-reason").value = "";
    $("sv-act-reason").required = !reassigning;
    $("sv-act-error").classList.add("hidden");
    if (reassigning) {
      const room = await api("GET", "/supervisor/overview");
      const to = $("sv-act-to");
      to.replaceChildren(el("option", { value: "" }, t("ui.to_queue")),
        ...room.operators.filter((s) => s.operator_id !== c.operator_id).map((s) =>
          el("option", { value: s.operator_id }, `${s.display_name} — ${I18n.presence(s.presence, s.gender)}`)));
    }
    $("sv-act").showModal();
    (reassigning ? $("sv-act-to") : $("sv-act-reason")).focus();
  }

  $("sv-act-cancel").onclick = () => { acting = null; $("sv-act").close(); };
  $("sv-act-form").onsubmit = async (ev) => {
    ev.preventDefault();
    if (!acting) return;
    const { kind, contact } = acting;
    try {
      if (kind === "reassign") {
        await api("POST", `/contacts/${contact.id}/reassign`, { operator_id: $("sv-act-to").value || null });
      } else {
        await api("POST", `/contacts/${contact.id}/force-close`, { reason: $("sv-act-reason").value });
      }
    } catch (err) {                  // the server's reason, in the page's language
      $("sv-act-error").textContent = err.message;
      $("sv-act-error").classList.remove("hidden");
      return;
    }
    acting = null;
    $("sv-act").close();
    load(false);
  };
  $("sv-progress-more").onclick = () => load(true);

  // a contact comes into progress, or its operator or stage changes...
  const ENTERS = /^contact\.(accepted|reassigned|orphaned|reclaimed)$/;
  // ...or it leaves: a change of the list only when it is one of the rows shown (a waiting
  // contact abandoned, 20 a second at a busy hour, is none of this list's business)
  const LEAVES = /^contact\.(wrapped_up|closed|abandoned|force_closed)$/;
  let scheduled = null;
  // supervisor.js owns the page's socket and passes every push on
  document.addEventListener("contact:push", (ev) => {
    const msg = ev.detail;
    if (msg.topic !== "supervisor" || !msg.data) return;
    const { type, contact } = msg.data;
    const shown = contact && rows.has(contact.id);
    if (!ENTERS.test(type) && !(LEAVES.test(type) && shown)) return;
    scheduled = scheduled || setTimeout(() => { scheduled = null; load(false); }, 300);
  });
  document.addEventListener("contact:socket-open", () => load(false));
  setInterval(() => {
    const now = Date.now();
    for (const cell of document.querySelectorAll("#sv-progress-table td.age")) {
      cell.textContent = duration((now - Number(cell.dataset.since)) / 1000);
    }
  }, 1000);
  setInterval(() => { if (!$("sv-act").open) load(false).catch(() => {}); }, 15000);
})();
