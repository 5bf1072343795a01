// Sempervirens public pages: draws the charts from /api/v1 with uPlot (vendored).
// No inline script anywhere: the CSP forbids it. Numbers are also shown as tables.
"use strict";

const COLORS = ["#2f6f4f", "#d9822b", "#3b6fb6", "#a33c6e", "#7a8b2e", "#5d4a9c", "#c0392b",
  "#1f8a8a", "#8c6d31", "#555"];

function api(path, params) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v) query.set(k, v);
  const url = path + (query.toString() ? "?" + query : "");
  return fetch(url, { headers: { Accept: "application/json" } }).then((r) => {
    if (!r.ok) throw new Error(url + ": " + r.status);
    return r.json();
  });
}

const seconds = (iso) => Date.parse(iso + "T00:00:00Z") / 1000;
const fmt = (n) => (n === null || n === undefined ? "–" : typeof n === "number" && !Number.isInteger(n)
  ? n.toLocaleString("en", { maximumFractionDigits: 3 }) : n.toLocaleString("en"));

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

// rows -> {periods: [...], series: {name: [values aligned on periods]},
//          bounds: {name: [[lows], [highs]]}}: each number's 95% interval, when given.
function pivot(rows, nameOf, valueOf, lowOf, highOf) {
  const periods = [...new Set(rows.map((r) => r.period_start))].sort();
  const index = new Map(periods.map((p, i) => [p, i]));
  const series = {};
  const bounds = {};
  for (const r of rows) {
    const name = nameOf(r);
    const i = index.get(r.period_start);
    series[name] = series[name] || periods.map(() => null);
    series[name][i] = valueOf(r);
    if (lowOf && highOf) {
      bounds[name] = bounds[name] || [periods.map(() => null), periods.map(() => null)];
      bounds[name][0][i] = lowOf(r);
      bounds[name][1][i] = highOf(r);
    }
  }
  return { periods, series, bounds };
}

// Ticks on period starts (at most `most` of them), labelled as the interval reads.
function periodAxis(periods, interval, most) {
  const step = Math.max(1, Math.ceil(periods.length / most));
  const ticks = periods.filter((_, i) => i % step === 0).map(seconds);
  const label = (iso) => interval === "month" ? iso.slice(0, 7) : interval === "week" ? "wk " + iso.slice(5) : iso.slice(5);
  return { splits: () => ticks, values: (u, splits) => splits.map((t) => label(new Date(t * 1000).toISOString().slice(0, 10))) };
}

// Breakdown values over time as stacked shares of each period (0-100%), each value's
// layer drawn between the cumulative shares below and above it.
function stackedShares(data) {
  const names = Object.keys(data.series);
  const totals = data.periods.map((_, i) => names.reduce((s, n) => s + Math.max(data.series[n][i] || 0, 0), 0));
  const out = { periods: data.periods, series: {}, bounds: {}, stacked: true };
  let below = data.periods.map(() => 0);
  for (const n of names) {
    const top = below.map((b, i) => (totals[i] > 0 ? b + 100 * Math.max(data.series[n][i] || 0, 0) / totals[i] : null));
    out.series[n] = top;
    out.bounds[n] = [below, top];
    below = top.map((t) => t || 0);
  }
  return out;
}

const charts = new Map();
function chart(container, data, opts) {
  const old = charts.get(container);
  if (old) old.plot.destroy();
  charts.delete(container);
  container.replaceChildren();
  const names = Object.keys(data.series);
  if (!data.periods.length) {
    container.append(el("p", { class: "empty" }, "No published numbers for this query."));
    return;
  }
  if (data.periods.length === 1 && !opts.spark) {
    single(container, data, opts.unit);  // a value, not a dot on an empty time axis
    return;
  }
  // A sparkline fits its card whatever the card's width; a full chart keeps a readable minimum
  // (its container scrolls sideways rather than squeezing the axes).
  const minWidth = opts.spark ? 0 : 260;
  const width = Math.max(container.clientWidth, minWidth);
  // Each series with an interval gets two invisible series (its 95% bounds) and a
  // shaded band between them.
  const lines = names.map((n, i) => ({
    label: n, stroke: COLORS[i % COLORS.length], width: 2,
    points: { show: !opts.spark && data.periods.length < 40 }, spanGaps: false,
  }));
  const values = names.map((n) => data.series[n]);
  const bands = [];
  const bounded = opts.spark ? [] : names.filter((n) => data.bounds && data.bounds[n]);
  for (const n of bounded) {
    const i = names.indexOf(n);
    const first = lines.length + 1;
    lines.push({ label: `${n} (95% low)`, stroke: "transparent", width: 0, points: { show: false } },
      { label: `${n} (95% high)`, stroke: "transparent", width: 0, points: { show: false } });
    values.push(data.bounds[n][0], data.bounds[n][1]);
    // A stacked layer is filled solid; an interval is a light band.
    bands.push({ series: [first + 1, first], fill: COLORS[i % COLORS.length] + (data.stacked ? "bb" : "33") });
  }
  if (data.stacked) lines.forEach((line) => { line.points = { show: false }; });
  const xAxis = opts.interval ? { ...periodAxis(data.periods, opts.interval, opts.ticks || 8) } : {};
  const yAxis = { size: 60, label: opts.yLabel, labelSize: opts.yLabel ? 18 : 0,
    values: (u, ticks) => ticks.map((t) => fmt(t) + (opts.unit || "")) };
  const plot = new uPlot({
    width, height: opts.height || 300,
    scales: { x: { time: true }, ...(data.stacked ? { y: { range: [0, 100] } } : {}) },
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"), // periods are UTC days
    legend: { show: opts.legend !== false },
    axes: opts.spark ? [{ show: false }, { show: false }]
      : [xAxis, yAxis],
    cursor: { show: !opts.spark },
    bands,
    series: [{}, ...lines],
  }, [data.periods.map(seconds), ...values], container);
  // The bounds draw the bands only: their legend entries (after the x value and the
  // series) are hidden.
  plot.root.querySelectorAll(".u-legend .u-series").forEach((entry, i) => {
    if (i > names.length) entry.style.display = "none"; // CSSOM: allowed by the CSP
  });
  charts.set(container, { plot, minWidth });
}

function table(container, data, testid) {
  const names = Object.keys(data.series);
  const bounded = (n) => data.bounds && data.bounds[n];
  const head = el("tr", {}, el("th", {}, "period"), ...names.flatMap((n) =>
    bounded(n) ? [el("th", {}, n), el("th", {}, "95% interval")] : [el("th", {}, n)]));
  const body = data.periods.map((p, i) =>
    el("tr", {}, el("td", {}, p), ...names.flatMap((n) => {
      const cells = [el("td", { class: "num" }, fmt(data.series[n][i]))];
      if (bounded(n)) {
        cells.push(el("td", { class: "num interval" },
          data.series[n][i] === null ? "" : `${fmt(data.bounds[n][0][i])}–${fmt(data.bounds[n][1][i])}`));
      }
      return cells;
    })));
  container.replaceChildren(el("table", { "data-testid": testid }, el("thead", {}, head), el("tbody", {}, ...body)));
}

// The query of the main chart: what each metric fetches and how it is drawn.
const QUERIES = {
  installs: (q) => ["active-installs", { breakdown: q.breakdown },
    (rows) => pivot(rows, (r) => r.value || "installations", (r) => r.installs,
      (r) => r.installs_low, (r) => r.installs_high), ""],
  features: (q) => ["features", { metric: q.name },
    (rows) => pivot(rows, (r) => r.label ? `${r.metric} [${r.label}]` : r.metric, (r) => r.users,
      (r) => r.users_low, (r) => r.users_high), ""],
  timings: (q) => ["timings", { metric: q.name }, (rows) => {
    const metric = q.name || (rows[0] && rows[0].metric);
    const mine = rows.filter((r) => r.metric === metric);
    const ms = (v) => (v === null ? null : v / 1000);
    const data = { periods: [], series: {}, bounds: {} };
    // The percentiles the API answers with (p50_us, ...: the catalogue's), not a list here.
    const percentiles = Object.keys(mine[0] || {}).filter((k) => /^p\d+_us$/.test(k));
    for (const p of percentiles.map((k) => k.slice(0, -3))) {
      const one = pivot(mine, () => p, (r) => ms(r[p + "_us"]), (r) => ms(r[p + "_us_low"]),
        (r) => ms(r[p + "_us_high"]));
      data.periods = one.periods;
      Object.assign(data.series, one.series);
      Object.assign(data.bounds, one.bounds);
    }
    data.title = `${metric || "timing"}: installations' median durations (milliseconds)`;
    return data;
  }, " ms"],
  crashes: () => ["crashes", {}, (rows) => pivot(rows, (r) => `${r.exception_type} ${r.version}`,
    (r) => r.crashes, (r) => r.crashes_low, (r) => r.crashes_high), ""],
  "opt-outs": () => ["opt-outs", {}, (rows) => pivot(rows, () => "opt-out ratio", (r) => r.ratio,
    (r) => r.ratio_low, (r) => r.ratio_high), ""],
};

const FIELDS = ["metric", "breakdown", "name", "interval", "from", "to"];

// The form's values; a choice hidden for the metric is disabled, hence absent.
function readForm(form) {
  const data = new FormData(form);
  return Object.fromEntries(FIELDS.map((k) => [k, data.get(k) || ""]));
}

// Show (and send) only the choices that make sense for the metric.
function showRelevant(form) {
  const metric = form.elements.metric.value;
  for (const label of form.querySelectorAll("label[data-for]")) {
    const relevant = label.dataset.for === metric;
    label.hidden = !relevant;
    for (const control of label.querySelectorAll("select")) control.disabled = !relevant;
  }
}

function fillForm(form, params) {
  const defaults = { metric: "installs", interval: "day" };
  for (const k of ["metric", "interval", "from", "to"]) form.elements[k].value = params.get(k) || defaults[k] || "";
  showRelevant(form);
  for (const control of form.querySelectorAll("select[name=breakdown], select[name=name]")) {
    if (!control.disabled) control.value = params.get(control.name) || "";
  }
}

// A reversed range is refused with a message, not drawn as nothing.
function rangeError(q) {
  return q.from && q.to && q.from > q.to ? `The range is reversed: “from” (${q.from}) is after “to” (${q.to}).` : "";
}

let drawing = 0;  // the latest query: an answer to an earlier one, arriving late, is dropped

async function drawProject(form) {
  const project = form.dataset.project;
  const q = readForm(form);
  const problem = document.getElementById("form-error");
  problem.textContent = rangeError(q);
  problem.hidden = !problem.textContent;
  if (problem.textContent) return;
  const base = `/api/v1/projects/${encodeURIComponent(project)}/`;
  const periods = { interval: q.interval, from: q.from, to: q.to };
  const [path, extra, shape, unit] = QUERIES[q.metric](q);
  const current = ++drawing;
  const answer = await api(base + path, { ...periods, ...extra });
  const ranked = q.metric === "features" && !q.name;
  const totals = ranked ? await api(base + "active-installs", periods) : null;
  if (current !== drawing) return;
  const data = shape(answer.rows);
  const byBreakdown = q.metric === "installs" && q.breakdown;
  document.getElementById("main-title").textContent =
    form.elements.metric.selectedOptions[0].textContent + (data.title ? ` — ${data.title}` : "") +
    (byBreakdown ? ` by ${form.elements.breakdown.selectedOptions[0].textContent.toLowerCase()}, as shares of each period` : "") +
    (ranked ? ": share of installations using each feature, latest period" : "");
  const main = document.getElementById("main-chart");
  const ranking = document.getElementById("main-ranking");
  ranking.hidden = true;
  main.hidden = false;
  if (ranked) {
    main.hidden = true;
    chart(main, { periods: [], series: {} }, {});
    rank(ranking, answer.rows, totals.rows, q.interval);
  } else {
    const stacked = byBreakdown && data.periods.length > 1;
    chart(main, stacked ? stackedShares(data) : data,
      { unit: stacked ? "%" : unit, interval: q.interval, yLabel: stacked ? "share of installations" : YLABELS[q.metric] });
  }
  table(document.getElementById("main-table"), data, "main-table");
  const query = new URLSearchParams({ ...periods, ...extra });
  for (const [k, v] of [...query]) if (!v) query.delete(k);
  document.getElementById("main-json").href = base + path + "?" + query;
  query.set("format", "csv");
  document.getElementById("main-csv").href = base + path + "?" + query;
  await drawGlance(base, periods);
}

const YLABELS = { installs: "installations", features: "installations using it", timings: "milliseconds",
  crashes: "crashes", "opt-outs": "opt-outs per installation" };

// One period's numbers, each with its 95% interval.
function single(container, data, unit) {
  container.replaceChildren(el("p", { class: "period" }, `period of ${data.periods[0]} (the only one in this range)`),
    ...Object.keys(data.series).map((n) => el("div", { class: "one", "data-testid": "single-value" },
      el("span", { class: "big-inline" }, fmt(data.series[n][0]) + (unit || "")), " ", n,
      data.bounds && data.bounds[n] ? el("span", { class: "interval" },
        ` (95%: ${fmt(data.bounds[n][0][0])}–${fmt(data.bounds[n][1][0])}${unit || ""})`) : "")));
}

// Features ranked by the share of the latest period's installations that used each,
// with its 95% interval and a sparkline of its share over the range.
function rank(container, rows, totalRows, interval) {
  container.hidden = false;
  const totals = new Map(totalRows.filter((r) => r.value === "").map((r) => [r.period_start, r]));
  const name = (r) => (r.label ? `${r.metric} [${r.label}]` : r.metric);
  const share = (v, t) => (v === null || !t ? null : Math.min(100, 100 * Math.max(v, 0) / Math.max(t, 1)));
  const latest = rows.length ? rows[rows.length - 1].period_start : null;
  const total = totals.get(latest);
  if (!latest || !total) {
    container.replaceChildren(el("p", { class: "empty" }, "No published numbers for this query."));
    return;
  }
  const now = rows.filter((r) => r.period_start === latest).map((r) => ({
    name: name(r), users: r.users, share: share(r.users, total.installs),
    low: share(r.users_low, total.installs_high), high: share(r.users_high, total.installs_low),
  })).sort((a, b) => (b.users ?? -1) - (a.users ?? -1));  // the share, before capping at 100%
  const pct = (v) => (v === null ? "< k" : v.toFixed(v < 10 ? 1 : 0) + "%");
  container.replaceChildren(el("p", { class: "period" }, `${interval} of ${latest}, of ${fmt(total.installs)} active installations`),
    ...now.map((f) => {
      const bar = el("span", { class: "fill" });
      bar.style.width = (f.share || 0).toFixed(1) + "%"; // CSSOM: allowed by the CSP
      const band = el("span", { class: "band" });
      band.style.left = (f.low || 0).toFixed(1) + "%";
      band.style.width = Math.max(0, (f.high || 0) - (f.low || 0)).toFixed(1) + "%";
      const spark = el("span", { class: "spark-line", "aria-hidden": "true" });
      const item = el("div", { class: "rank", "data-feature": f.name },
        el("span", { class: "name", title: f.name }, f.name), el("span", { class: "track" }, bar, band),
        el("span", { class: "num" }, pct(f.share)),
        el("span", { class: "interval" }, f.share === null ? "" : `95%: ${pct(f.low)}–${pct(f.high)}`), spark);
      return item;
    }));
  // Sparklines after layout, so that each knows its width.
  for (const item of container.querySelectorAll(".rank")) {
    const mine = rows.filter((r) => name(r) === item.dataset.feature);
    const series = pivot(mine, () => "share", (r) => share(r.users, (totals.get(r.period_start) || {}).installs));
    if (series.periods.length > 1) chart(item.querySelector(".spark-line"), series, { height: 28, legend: false, spark: true });
  }
}

async function drawGlance(base, periods) {
  const names = { day: "daily", week: "weekly", month: "monthly" };
  document.getElementById("glance-title").textContent = `Latest ${names[periods.interval]} period at a glance`;
  for (const box of document.querySelectorAll(".bars[data-breakdown]")) {
    const { rows } = await api(base + "active-installs", { ...periods, breakdown: box.dataset.breakdown });
    const latest = rows.length ? rows[rows.length - 1].period_start : null;
    const parts = rows.filter((r) => r.period_start === latest).sort((a, b) => b.installs - a.installs);
    const total = parts.reduce((s, r) => s + Math.max(r.installs, 0), 0);
    box.replaceChildren(...(parts.length ? [el("p", { class: "period" }, `period of ${latest}`)] : [el("p", { class: "empty" }, "Nothing published.")]),
      ...parts.map((r) => {
        const bar = el("span", { class: "fill" });
        bar.style.width = (total > 0 ? 100 * Math.max(r.installs, 0) / total : 0).toFixed(1) + "%"; // CSSOM: allowed by the CSP
        // Its 95% interval, on the same scale (capped at the track's end).
        const band = el("span", { class: "band" });
        const at = (v) => (total > 0 ? Math.min(100, 100 * Math.max(v || 0, 0) / total) : 0);
        band.style.left = at(r.installs_low).toFixed(1) + "%";
        band.style.width = Math.max(0, at(r.installs_high) - at(r.installs_low)).toFixed(1) + "%";
        return el("div", { class: "bar", "data-value": r.value },
          el("span", { class: "name" }, r.value), el("span", { class: "track" }, bar, band),
          el("span", { class: "num", title: `95%: ${fmt(r.installs_low)}–${fmt(r.installs_high)}` }, fmt(r.installs)));
      }));
  }
  const optOuts = await api(base + "opt-outs", periods);
  chart(document.getElementById("optout-chart"),
    pivot(optOuts.rows, () => "opt-out ratio", (r) => r.ratio, (r) => r.ratio_low, (r) => r.ratio_high),
    { height: 180, legend: false, interval: periods.interval, ticks: 4 });
  const crashes = await api(base + "crashes", periods);
  table(document.getElementById("crash-table"),
    pivot(crashes.rows, (r) => r.exception_type, (r) => r.crashes, (r) => r.crashes_low,
      (r) => r.crashes_high), "crash-table");
}

async function drawIndex() {
  const cards = document.querySelectorAll(".card[data-project]");
  if (!cards.length) return;
  const { projects } = await api("/api/v1/projects");
  for (const card of cards) {
    const p = projects.find((x) => x.project === card.dataset.project);
    if (p) chart(card.querySelector(".spark"), pivot(p.daily, () => "daily", (r) => r.installs),
      { height: 70, legend: false, spark: true });
  }
}

// Across every project: each breakdown's shares over time (stacked) and the latest
// period's shares with their 95% intervals.
async function drawEcosystem(root) {
  const interval = root.dataset.interval;
  for (const box of root.querySelectorAll("[data-breakdown]")) {
    const { rows } = await api("/api/v1/ecosystem", { interval, breakdown: box.dataset.breakdown });
    const latest = rows.length ? rows[rows.length - 1].period_start : null;
    const now = rows.filter((r) => r.period_start === latest).sort((a, b) => (b.share || 0) - (a.share || 0));
    const pct = (v) => (v === null ? "–" : (100 * v).toFixed(1) + "%");
    const bars = box.querySelector(".bars");
    bars.replaceChildren(...(now.length ? [el("p", { class: "period" }, `${interval} of ${latest}: ${fmt(now.reduce((s, r) => s + Math.max(r.installs, 0), 0))} installations of ${now.reduce((m, r) => Math.max(m, r.projects), 0)} project(s)`)]
      : [el("p", { class: "empty" }, "Nothing released yet.")]),
    ...now.map((r) => {
      const bar = el("span", { class: "fill" });
      bar.style.width = (100 * (r.share || 0)).toFixed(1) + "%"; // CSSOM: allowed by the CSP
      const band = el("span", { class: "band" });
      band.style.left = (100 * (r.share_low || 0)).toFixed(1) + "%";
      band.style.width = (100 * Math.max(0, (r.share_high || 0) - (r.share_low || 0))).toFixed(1) + "%";
      return el("div", { class: "bar wide", "data-value": r.value }, el("span", { class: "name" }, r.value),
        el("span", { class: "track" }, bar, band), el("span", { class: "num" }, pct(r.share)),
        el("span", { class: "interval" }, `95%: ${pct(r.share_low)}–${pct(r.share_high)}`));
    }));
    const data = pivot(rows, (r) => r.value, (r) => r.installs);
    const shares = box.querySelector(".chart");
    box.querySelector(".over-time").hidden = data.periods.length < 2;
    if (data.periods.length > 1) chart(shares, stackedShares(data), { unit: "%", interval, yLabel: "share", height: 220 });
    table(box.querySelector(".table-wrap"), pivot(rows, (r) => r.value, (r) => r.installs, (r) => r.installs_low, (r) => r.installs_high), `ecosystem-${box.dataset.breakdown}`);
  }
}

function report(error) {
  const main = document.querySelector("main");
  main.prepend(el("p", { class: "error", role: "alert" }, "Could not load the statistics: " + error.message));
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("query");
  if (form) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const q = readForm(form);
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(q)) if (v) params.set(k, v);  // only what matters
      if (!rangeError(q)) history.pushState(null, "", location.pathname + "?" + params);
      drawProject(form).catch(report);
    });
    form.elements.metric.addEventListener("change", () => showRelevant(form));
    form.addEventListener("change", () => form.requestSubmit());
    window.addEventListener("popstate", () => {
      fillForm(form, new URLSearchParams(location.search));
      drawProject(form).catch(report);
    });
    showRelevant(form);
    drawProject(form).catch(report);
  } else if (document.getElementById("ecosystem")) {
    drawEcosystem(document.getElementById("ecosystem")).catch(report);
  } else {
    drawIndex().catch(report);
  }
  let pending;
  window.addEventListener("resize", () => {
    clearTimeout(pending);
    pending = setTimeout(() => {
      for (const [container, { plot, minWidth }] of charts) {
        plot.setSize({ width: Math.max(container.clientWidth, minWidth), height: plot.height });
      }
    }, 150);
  });
});
