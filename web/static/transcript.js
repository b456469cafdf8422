// The live transcript of a call, for the operator's contact panel and the supervisor's live
// calls alike: the stored segments (GET /contacts/{id}/transcript), then finals and the current
// partial of each speaker as pushed on contact:<id> (pages re-dispatch pushes as "contact:push").
// Only finals enter the aria-live list; partials sit outside it so a screen reader is not
// flooded with every guess of the recogniser.
"use strict";
const Transcript = (() => {
  const { api, el, t } = Contact;
  const KEEP = 500;                  // segments rendered at most: a long call stays light
  const SPEAKERS = ["caller", "operator"];
  const lang = document.documentElement.lang;

  // root: an empty element to fill; returns {open(contactId), close()}
  function panel(root) {
    let contactId = null;
    let follow = true;               // scroll along unless the reader scrolled up
    const heading = el("h3", { id: root.id + "-title" }, t("ui.transcript"));
    const notice = el("p", { class: "tr-notice hidden", role: "status" });
    const list = el("ol", { class: "tr-segments", "aria-live": "polite", "aria-relevant": "additions",
      "aria-labelledby": heading.id });
    const partials = el("div", { class: "tr-partials", "aria-hidden": "true" });
    const live = {};
    for (const s of SPEAKERS) {
      live[s] = el("p", { class: "tr-partial hidden", "data-speaker": s },
        el("span", { class: "tr-who" }, t("ui.transcript_" + s) + " …"), " ", el("span", { class: "tr-text" }));
      partials.append(live[s]);
    }
    const empty = el("p", { class: "tr-empty muted" }, t("ui.transcript_empty"));
    const box = el("div", { class: "tr-box" }, list, partials);
    root.replaceChildren(heading, notice, empty, box);
    root.classList.add("transcript");
    box.addEventListener("scroll", () => {
      follow = box.scrollTop + box.clientHeight >= box.scrollHeight - 8;
    });

    const scroll = () => { if (follow) box.scrollTop = box.scrollHeight; };

    // before: a stored segment loaded on opening, older than finals pushed meanwhile
    function addSegment(s, before) {
      if (list.querySelector(`[data-id="${CSS.escape(s.id)}"]`)) return;
      list.insertBefore(el("li", { class: "tr-seg", "data-id": s.id, "data-speaker": s.speaker },
        el("span", { class: "tr-who" }, t("ui.transcript_" + s.speaker) + ":"), " ",
        el("span", { class: "tr-text" }, s.text)), before || null);
      while (list.children.length > KEEP) list.firstChild.remove();
      empty.classList.add("hidden");
      scroll();
    }

    function showPartial(speaker, text) {
      const p = live[speaker];
      if (!p) return;
      p.querySelector(".tr-text").textContent = text;
      p.classList.toggle("hidden", !text);
      scroll();
    }

    function showNotice(message) {
      notice.textContent = message ? `⚠ ${message[lang] || message.ru || ""}` : "";
      notice.classList.toggle("hidden", !message);
    }

    // alarming words of a transcript segment: the same badge and marks as for messages
    function alert(keyword) {
      const words = (keyword.words || []).map((w) => w.toLowerCase());
      for (const li of list.querySelectorAll("li.tr-seg[data-speaker=caller]")) {
        const span = li.querySelector(".tr-text");
        const said = span.textContent;
        if (!words.some((w) => said.toLowerCase().includes(w))) continue;
        li.classList.add("alarming");
        span.replaceChildren(...mark(said, words));
        if (!li.querySelector(":scope > .kw")) li.append(" ", Contact.keywordBadge(keyword.category));
      }
    }

    function onPush(ev) {
      const msg = ev.detail;
      if (!contactId || msg.topic !== "contact:" + contactId) return;
      const d = msg.data;
      if (d.type === "transcript.partial") showPartial(d.speaker, d.text);
      else if (d.type === "transcript.segment") {
        showPartial(d.speaker, "");
        addSegment({ id: d.segment_id, speaker: d.speaker, text: d.text });
      } else if (d.type === "transcript.degraded") showNotice(d.level === "recovered" ? null : d.message);
      else if (d.type === "keyword.alert" && d.keyword && d.keyword.source === "transcript") alert(d.keyword);
    }
    document.addEventListener("contact:push", onPush);

    async function load(opening) {
      const asked = contactId;
      let data;
      try {
        data = await api("GET", `/contacts/${asked}/transcript`);
      } catch (e) {
        return;                      // no transcription on this center: the panel stays empty
      }
      if (asked !== contactId) return;
      const pushed = opening ? list.firstChild : null;
      for (const s of data.segments) addSegment(s, pushed);
    }

    return {
      open(id) {
        if (id === contactId) return;
        contactId = id;
        follow = true;
        list.replaceChildren();
        for (const s of SPEAKERS) showPartial(s, "");
        showNotice(null);
        empty.classList.remove("hidden");
        root.classList.remove("hidden");
        root.dataset.contact = id;
        load(true);
      },
      close() {
        contactId = null;
        delete root.dataset.contact;
        root.classList.add("hidden");
      },
      reload() { if (contactId) load(false); },  // after a reconnect: pushes may have been missed
    };
  }

  function mark(text, words) {
    const out = [];
    const lower = text.toLowerCase();
    let at = 0;
    for (;;) {
      let best = -1, size = 0;
      for (const w of words) {
        const i = w ? lower.indexOf(w, at) : -1;
        if (i !== -1 && (best === -1 || i < best)) { best = i; size = w.length; }
      }
      if (best === -1) break;
      out.push(text.slice(at, best), el("mark", { class: "kw" }, text.slice(best, best + size)));
      at = best + size;
    }
    out.push(text.slice(at));
    return out;
  }

  // supervisors: full-text search over every transcript (each search is audited server-side)
  function search(form, input, status, results) {
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const q = input.value.trim();
      if (!q) return;
      results.replaceChildren();
      status.textContent = "…";
      let data;
      try {
        data = await api("GET", `/transcripts/search?q=${encodeURIComponent(q)}`);
      } catch (e) {
        status.textContent = e.message;
        return;
      }
      const words = q.toLowerCase().split(/\s+/).filter(Boolean);
      status.textContent = data.segments.length ? "" : t("ui.transcript_search_none");
      for (const s of data.segments) {
        results.append(el("li", { class: "tr-seg", "data-id": s.id, "data-contact": s.contact_id, "data-speaker": s.speaker },
          el("time", { datetime: s.created_at }, I18n.dateTime(s.created_at)), " ",
          el("span", { class: "tr-who" }, t("ui.transcript_" + s.speaker) + ":"), " ",
          el("span", { class: "tr-text" }, ...mark(s.text, words))));
      }
    });
  }

  const isCall = (contact) => contact && (contact.channel === "voice" || contact.channel === "video");

  return { panel, search, isCall };
})();
