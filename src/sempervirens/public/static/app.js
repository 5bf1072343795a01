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
    bands.push({ series: [first + 1, first], fill: COLORS[i % COLORS.length] + "33" });
  }
  const plot = new uPlot({
    width, height: opts.height || 300,
    scales: { x: { time: true } },
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"), // periods are UTC days
    legend: { show: opts.legend !== false },
    axes: opts.spark ? [{ show: false }, { show: false }]
      : [{}, { size: 60, values: (u, ticks) => ticks.map((t) => fmt(t) + (opts.unit || "")) }],
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
    for (const p of ["p50", "p90", "p99"]) {
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

function readForm(form) {
  const data = new FormData(form);
  return Object.fromEntries(["metric", "breakdown", "name", "interval", "from", "to"]
    .map((k) => [k, data.get(k) || ""]));
}

function fillForm(form, params) {
  for (const k of ["metric", "breakdown", "name", "interval", "from", "to"]) {
    if (form.elements[k]) form.elements[k].value = params.get(k) || (k === "metric" ? "installs" : k === "interval" ? "day" : "");
  }
}

let drawing = 0;  // the latest query: an answer to an earlier one, arriving late, is dropped

async function drawProject(form) {
  const project = form.dataset.project;
  const q = readForm(form);
  const base = `/api/v1/projects/${encodeURIComponent(project)}/`;
  const periods = { interval: q.interval, from: q.from, to: q.to };
  const [path, extra, shape, unit] = QUERIES[q.metric](q);
  const current = ++drawing;
  const answer = await api(base + path, { ...periods, ...extra });
  if (current !== drawing) return;
  const data = shape(answer.rows);
  document.getElementById("main-title").textContent =
    form.elements.metric.selectedOptions[0].textContent + (data.title ? ` — ${data.title}` : "") +
    (q.metric === "installs" && q.breakdown ? ` by ${form.elements.breakdown.selectedOptions[0].textContent.toLowerCase()}` : "");
  chart(document.getElementById("main-chart"), data, { unit });
  table(document.getElementById("main-table"), data, "main-table");
  const query = new URLSearchParams({ ...periods, ...extra });
  for (const [k, v] of [...query]) if (!v) query.delete(k);
  document.getElementById("main-json").href = base + path + "?" + query;
  query.set("format", "csv");
  document.getElementById("main-csv").href = base + path + "?" + query;
  await drawGlance(base, periods);
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
        return el("div", { class: "bar", "data-value": r.value },
          el("span", { class: "name" }, r.value), el("span", { class: "track" }, bar),
          el("span", { class: "num", title: `95%: ${fmt(r.installs_low)}–${fmt(r.installs_high)}` }, fmt(r.installs)));
      }));
  }
  const optOuts = await api(base + "opt-outs", periods);
  chart(document.getElementById("optout-chart"),
    pivot(optOuts.rows, () => "opt-out ratio", (r) => r.ratio, (r) => r.ratio_low, (r) => r.ratio_high),
    { height: 180, legend: false });
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
      for (const [k, v] of Object.entries(q)) if (v) params.set(k, v);
      history.pushState(null, "", location.pathname + "?" + params);
      drawProject(form).catch(report);
    });
    form.addEventListener("change", () => form.requestSubmit());
    window.addEventListener("popstate", () => {
      fillForm(form, new URLSearchParams(location.search));
      drawProject(form).catch(report);
    });
    drawProject(form).catch(report);
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
