// Texts and forms in the page's language (kk, ru, en), for every page. The catalogue's texts
// (contact/i18n.py, sent as JSON in base.html) are ICU messages: numbers with the plural form
// they need and people in their grammatical form are formatted by intl-messageformat with
// the browser's CLDR rules (Intl.PluralRules), times on the centre's clock (24-hour,
// data-zone) by Intl.DateTimeFormat. A sentence is never glued from pieces here.
"use strict";
const I18n = (() => {
  const body = document.body;
  const lang = body.dataset.lang || document.documentElement.lang || "ru";
  const zone = body.dataset.zone || "Asia/Almaty";
  const gender = body.dataset.gender || "other";
  const node = document.getElementById("i18n");
  const texts = node ? JSON.parse(node.textContent) : {};
  const compiled = new Map();
  // Chromium's ICU data has Kazakh plural rules but not Kazakh number symbols (it writes
  // 68,000); CLDR writes Kazakh numbers as Russian ones (68 000, 0,5), as the server does
  const numbers = lang === "kk" && new Intl.NumberFormat("kk").format(1000.5) === "1,000.5" ? "ru" : lang;
  const formatters = {
    getNumberFormat: (locales, opts) => new Intl.NumberFormat(numbers, opts),
    getDateTimeFormat: (...args) => new Intl.DateTimeFormat(...args),
    getPluralRules: (...args) => new Intl.PluralRules(...args),
  };

  // t("ui.units_count", { count: 21 }) → «21 наряд»; a key without a text shows the key
  function t(key, values) {
    const text = texts[key];
    if (text === undefined) return key;
    if (!text.includes("{") || typeof IntlMessageFormat === "undefined") return text;
    let format = compiled.get(key);
    if (!format) {
      format = new IntlMessageFormat(text, lang, undefined, { formatters });
      compiled.set(key, format);
    }
    try {
      return String(format.format({ gender: "other", ...values }));
    } catch (err) {
      console.error("i18n", key, err);
      return text;
    }
  }

  // 43 → «43 с», 420 → «7 мин», 103 → «1 мин 43 с», 4000 → «1 ч 6 мин» (contact.i18n.duration, same rule)
  function duration(seconds) {
    if (seconds == null || !isFinite(seconds)) return "—";
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return t("fmt.duration_s", { s });
    if (s < 3600 && s % 60 === 0) return t("fmt.duration_m", { m: s / 60 });  // «7 мин», not «7 мин 0 с»
    if (s < 3600) return t("fmt.duration_ms", { m: Math.floor(s / 60), s: s % 60 });
    return t("fmt.duration_hm", { h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60) });
  }

  const clocks = {
    true: new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZone: zone }),
    false: new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: zone }),
  };
  // a time of day on the centre's clock: «04:48:24», never «4:48:24 AM»
  function clock(at, seconds = true) {
    const date = at instanceof Date ? at : new Date(at);
    return isNaN(date) ? "" : clocks[Boolean(seconds)].format(date);
  }

  // a moment as the centre's wall clock shows it, and back: {y, mo, d, h, mi, s}
  const partsFmt = new Intl.DateTimeFormat("en-GB", { timeZone: zone, hourCycle: "h23",
    year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric" });
  function wall(at) {
    const p = {};
    for (const { type, value } of partsFmt.formatToParts(at instanceof Date ? at : new Date(at))) p[type] = +value;
    return { y: p.year, mo: p.month, d: p.day, h: p.hour, mi: p.minute, s: p.second };
  }
  function fromWall(y, mo, d, h, mi) {   // the moment the centre's clock reads this
    const guess = Date.UTC(y, mo - 1, d, h, mi);
    let at = guess;
    for (let i = 0; i < 2; i++) {          // twice: across a change of the zone's offset
      const w = wall(new Date(at));
      at = guess - (Date.UTC(w.y, w.mo - 1, w.d, w.h, w.mi, w.s) - at);
    }
    return new Date(at);
  }
  const pad = (n) => String(n).padStart(2, "0");
  // «07.12.2026 16:05» on the centre's clock, in every language (the report's own form)
  const dateTime = (at) => { const w = wall(at); return `${pad(w.d)}.${pad(w.mo)}.${w.y} ${pad(w.h)}:${pad(w.mi)}`; };

  const number = new Intl.NumberFormat(numbers);
  const known = (key, fallback) => (key in texts ? t(key) : fallback);
  return {
    lang, zone, gender, t, duration, clock, wall, fromWall, dateTime,
    number: (n) => number.format(n),
    channel: (kind) => known("ui.ch_" + kind, kind || "—"),
    language: (code) => (code ? known("ui.lang_" + code, code) : "—"),
    // a person's state in her or his form (gender: female, male, other = neutral wording)
    presence: (state, form) => (("presence." + state) in texts ? t("presence." + state, { gender: form || "other" }) : state),
    event: (type) => known("event." + type, type),
    // a district's name in the page's language (name_kk, name_ru, name_en; else the Russian one)
    district: (d) => (d ? d["name_" + lang] || d.name_ru || d.district_id || "" : ""),
  };
})();

// a signed-in user's choice of language is kept with her account (the link alone: this browser)
document.addEventListener("click", (ev) => {
  const link = ev.target.closest && ev.target.closest(".langs a[data-lang]");
  const csrf = document.body.dataset.csrf;
  if (!link || !csrf || document.body.dataset.signedIn !== "true") return;
  ev.preventDefault();
  fetch("/api/v1/me/preferences", {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: JSON.stringify({ ui_language: link.dataset.lang }),
  }).finally(() => { window.location.href = link.href; });
});
