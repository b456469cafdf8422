// Charts of a period (/api/v1/supervisor/stats, drawn with uPlot bundled in /static/dist):
// contacts per hour by channel, answer times against 10 s, response times against 7 min and
// per district; the shift report form (CSV, printable page) for the same period. Series are
// told apart by their legend words and dash/fill patterns, not by colour alone.
"use strict";
(() => {
  const { api, t } = Contact;
  const $ = (id) => document.getElementById(id);
  if (!$("sv-charts") || typeof uPlot === "undefined") return;
  const lang = I18n.lang;
  const zone = I18n.zone;            // the centre's clock (configured), not the browser's
  const hourFmt = new Intl.DateTimeFormat(lang,
    { day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: zone });
  const PALETTE = ["#1f5fa8", "#b3261e", "#2e7d32", "#8e44ad", "#c05600", "#00796b", "#5d4037", "#37474f", "#ad1457", "#455a64"];
  const DASHES = [[], [6, 3], [2, 2], [8, 3, 2, 3], [1, 3], [10, 4]];
  const COUNTS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];  // whole contacts
  const charts = new Map();          // element id -> uPlot, replaced on each period
  let within = null;                 // {from, to} of the charts shown

  // 24-hour times on the centre's clock typed as ДД.ММ.ГГГГ ЧЧ:ММ (a browser's own date
  // pickers follow its locale and may show AM/PM)
  const localInput = I18n.dateTime;
  function parseLocal(text) {
    const m = /^\s*(\d{1,2})\.(\d{1,2})\.(\d{4})\s+(\d{1,2}):(\d{2})\s*$/.exec(text);
    if (!m) throw new Error(t("ui.period_format"));
    const d = I18n.fromWall(+m[3], +m[2], +m[1], +m[4], +m[5]);
    const w = I18n.wall(d);
    if (w.d !== +m[1] || w.mo !== +m[2] || +m[4] > 23) throw new Error(t("ui.period_format"));
    return d;
  }
  const secs = (s) => (s == null ? "—" : s < 60 ? `${Math.round(s)} ${t("ui.unit_sec")}`
    : `${Math.floor(s / 60)} ${t("ui.unit_min")}` + (Math.round(s % 60) ? ` ${Math.round(s % 60)} ${t("ui.unit_sec")}` : ""));
  const binLabel = (b, minutes) => (b.le_s == null ? t("ui.chart_more")
    : `≤ ${minutes ? b.le_s / 60 : b.le_s} ${minutes ? t("ui.unit_min") : t("ui.unit_sec")}`);

  function width(id) {
    return Math.max(280, $(id).clientWidth || $(id).parentElement.clientWidth || 480);
  }

  const fromZero = { auto: true, range: (u, min, max) => [0, Math.max(1, max) * 1.1] };
  // the chart's figures in words, for a screen reader (the canvas itself is an image)
  function describe(id, text) {
    let p = $(id + "-desc");
    if (!p) {
      p = Contact.el("p", { id: id + "-desc", class: "visually-hidden" });
      $(id).after(p);
      $(id).setAttribute("aria-describedby", p.id);
    }
    p.textContent = text;
  }
  const inWords = (pairs) => pairs.map(([k, v]) => `${k}: ${v}`).join("; ");

  function draw(id, opts, data) {
    opts.scales = { ...opts.scales, y: fromZero };
    const old = charts.get(id);
    if (old) old.destroy();
    const target = $(id);
    target.replaceChildren();
    charts.set(id, new uPlot({ width: width(id), height: 220, ...opts }, data, target));
  }

  const categoryAxis = (labels) => ({
    values: (u, splits) => splits.map((i) => (Number.isInteger(i) && labels[i] !== undefined ? labels[i] : "")),
    splits: () => labels.map((_, i) => i),
    gap: 4,
  });
  const bars = (size, align) => uPlot.paths.bars({ size: [size, 60], align: align || 0 });

  function perHour(stats) {
    const channels = Object.keys(stats.by_channel);
    const xs = stats.per_hour.map((h) => Date.parse(h.hour) / 1000);
    const data = [xs, ...channels.map((ch) => stats.per_hour.map((h) => h.channels[ch] || 0))];
    draw("ch-hour", {
      scales: { x: { time: true } },
      series: [
        { label: t("ui.report_hour"), value: (u, v) => (v == null ? "—" : hourFmt.format(new Date(v * 1000))) },
        ...channels.map((ch, i) => ({
          label: t("ui.ch_" + ch), stroke: PALETTE[i % PALETTE.length], width: 2,
          paths: uPlot.paths.stepped({ align: 1 }),
          dash: DASHES[i % DASHES.length], points: { show: xs.length < 50 },
        })),
      ],
      axes: [
        { values: (u, splits) => splits.map((s) => hourFmt.format(new Date(s * 1000))), space: 90 },
        { label: t("ui.chart_contacts"), incrs: COUNTS },
      ],
    }, data);
  }

  // a distribution: the bins within the target and those above it as two labelled series
  function distribution(id, dist, minutes, unitKey) {
    const labels = dist.bins.map((b) => binLabel(b, minutes));
    const inside = dist.bins.map((b) => (b.le_s != null && b.le_s <= dist.target_s ? b.n : null));
    const over = dist.bins.map((b) => (b.le_s == null || b.le_s > dist.target_s ? b.n : null));
    draw(id, {
      scales: { x: { time: false, range: [-0.5, labels.length - 0.5] } },
      series: [
        { label: t("ui.chart_bin"), value: (u, v) => (v == null ? "—" : labels[v]) },
        { label: `${t("ui.chart_within")} (≤ ${secs(dist.target_s)})`, stroke: "#2e7d32", fill: "rgba(46,125,50,.55)", paths: bars(0.7) },
        { label: t("ui.chart_over"), stroke: "#b3261e", fill: "rgba(179,38,30,.25)", dash: [4, 2], paths: bars(0.7) },
      ],
      axes: [categoryAxis(labels), { label: t(unitKey), incrs: COUNTS }],
    }, [labels.map((_, i) => i), inside, over]);
  }

  function perDistrict(stats) {
    const r = stats.response_times;
    const names = r.districts.map((d) => I18n.district(d) || "—");
    const minutesOf = (s) => (s == null ? null : Math.round(s / 6) / 10);
    draw("ch-district", {
      scales: { x: { time: false, range: [-0.5, Math.max(names.length, 1) - 0.5] } },
      series: [
        { label: t("ui.dispatch_district"), value: (u, v) => (v == null ? "—" : names[v]) },
        { label: `${t("ui.chart_median")}, ${t("ui.unit_min")}`, stroke: "#1f5fa8", fill: "rgba(31,95,168,.6)", paths: bars(0.35, -1) },
        { label: `${t("ui.chart_p90")}, ${t("ui.unit_min")}`, stroke: "#c05600", fill: "rgba(192,86,0,.2)", dash: [4, 2], paths: bars(0.35, 1) },
        { label: `${t("ui.chart_target")} ${secs(r.target_s)}`, stroke: "#b3261e", width: 2, dash: [8, 4], points: { show: false } },
      ],
      axes: [categoryAxis(names), { label: t("ui.unit_min") }],
    }, [names.map((_, i) => i), r.districts.map((d) => minutesOf(d.median_s)),
      r.districts.map((d) => minutesOf(d.p90_s)), names.map(() => r.target_s / 60)]);
  }

  let toNow = true;                  // "to" left as it came: up to this second, not the minute
  function period() {
    const from = parseLocal($("sv-from").value);
    const to = toNow ? new Date() : parseLocal($("sv-to").value);
    if (toNow) $("sv-to").value = localInput(to);
    return { from: from.toISOString(), to: to.toISOString() };
  }

  function query(p) {
    return new URLSearchParams({ from: p.from, to: p.to, tz: zone }).toString();
  }

  async function show() {
    const status = $("sv-charts-status");
    let p;
    try { p = period(); } catch (err) { status.textContent = err.message; return; }
    $("sv-from-iso").value = p.from;
    $("sv-to-iso").value = p.to;
    $("sv-tz").value = zone;
    $("sv-csv").href = `/api/v1/supervisor/report.csv?${query(p)}`;
    try {
      const stats = await api("GET", `/supervisor/stats?${query(p)}`);
      within = p;
      perHour(stats);
      distribution("ch-answer", stats.answer_times, false, "ui.chart_contacts");
      distribution("ch-response", stats.response_times, true, "ui.chart_arrivals");
      perDistrict(stats);
      describe("ch-hour", inWords(Object.entries(stats.by_channel).map(([ch, n]) => [t("ui.ch_" + ch), n])));
      for (const [id, d, minutes] of [["ch-answer", stats.answer_times, false], ["ch-response", stats.response_times, true]]) {
        describe(id, inWords(d.bins.map((b) => [binLabel(b, minutes), b.n])));
      }
      describe("ch-district", inWords(stats.response_times.districts.map((d) =>
        [I18n.district(d) || "—", `${t("ui.chart_median")} ${secs(d.median_s)}, ${t("ui.chart_p90")} ${secs(d.p90_s)}`])));
      status.textContent = stats.contacts ? `${t("ui.report_contacts")}: ${stats.contacts}` : t("ui.chart_empty");
      $("sv-charts").dataset.rendered = String(Date.now());
    } catch (err) {
      status.textContent = `${t("ui.chart_failed")}: ${err.message}`;
    }
  }

  const now = new Date();
  $("sv-to").value = localInput(now);
  $("sv-from").value = localInput(new Date(now.getTime() - 24 * 3600 * 1000));
  $("sv-to").addEventListener("input", () => { toNow = false; });
  $("sv-show").addEventListener("click", show);
  $("sv-period").addEventListener("submit", (ev) => {   // the printable page of the chosen period
    let p;
    try { p = period(); } catch (err) { ev.preventDefault(); $("sv-charts-status").textContent = err.message; return; }
    $("sv-from-iso").value = p.from;
    $("sv-to-iso").value = p.to;
    $("sv-tz").value = zone;
  });
  let resizing = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => { for (const [id, u] of charts) u.setSize({ width: width(id), height: 220 }); }, 200);
  });
  show();
  setInterval(() => { if (within && toNow) show(); }, 60000);  // a live period follows the clock
})();
