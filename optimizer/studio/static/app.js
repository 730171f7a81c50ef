// accelplan studio: the page. Plain JavaScript over the JSON API; Plotly for charts.
// Every name that comes from a file (instances, sites, accelerators, workloads) reaches the
// page as a text node, never as HTML: the page is built with el() below, and the server's
// Content-Security-Policy forbids inline script.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { instance: null, levers: null, selected: null, polling: {} };

function money(value) {
  if (value === null || value === undefined) return "-";
  const units = [[1e12, "T"], [1e9, "B"], [1e6, "M"], [1e3, "k"]];
  for (const [unit, label] of units) {
    if (Math.abs(value) >= unit) return (value / unit).toFixed(2) + " " + label;
  }
  return value.toFixed(2);
}

// el("p", {class: "note", on: {click: f}}, "text", child, ...): an element whose children are
// text nodes (strings, numbers) or elements; attributes are set as attributes, never as HTML.
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "on") {
      for (const [event, handler] of Object.entries(value)) node.addEventListener(event, handler);
    } else if (key === "dataset") {
      for (const [name, v] of Object.entries(value)) node.dataset[name] = String(v);
    } else if (key === "value") {
      node.value = value;
    } else {
      node.setAttribute(key, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function fill(node, ...children) {
  node.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false)
    .map((c) => (c instanceof Node ? c : document.createTextNode(String(c)))));
  return node;
}

async function api(path, options) {
  const response = await fetch(path, options);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw body;
  return body;
}

function cell(value) {
  if (typeof value === "number") return Math.abs(value) >= 1e4 ? money(value) : String(+value.toFixed(4));
  return value === null || value === undefined ? "" : String(value);
}

function table(rows, columns) {
  if (!rows || !rows.length) return el("p", {}, "none");
  columns = columns || Object.keys(rows[0]);
  return el("table", {},
    el("tr", {}, columns.map((c) => el("th", {}, c))),
    rows.map((r) => el("tr", {}, columns.map((c) => el("td", {}, cell(r[c]))))));
}

function errorText(error) {
  return (error.field ? error.field + ": " : "") + (error.error || JSON.stringify(error));
}

// ---- instances ---------------------------------------------------------------------------

async function loadInstances(select) {
  const list = await api("/api/instances");
  fill($("instance-select"), list.map((i) =>
    el("option", { value: i.id }, i.name + (i.error ? " (invalid)" : ""))));
  if (select) $("instance-select").value = select;
  if (list.length) await showInstance($("instance-select").value);
}

function leverInput(lever, value, attrs) {
  return el("input", { type: "number", dataset: { lever, default: value ?? "" }, value: value ?? "",
    ...(attrs || {}) });
}

async function showInstance(id) {
  const data = await api(`/api/instances/${encodeURIComponent(id)}`);
  state.instance = id;
  $("instance-error").textContent = data.error ? `${data.field}: ${data.error}` : "";
  if (!data.description) { fill($("instance-info")); return; }
  const d = data.description;
  state.levers = data.levers;
  fill($("instance-info"),
    el("p", {}, `${d.periods.length} periods (${d.periods[0]}-${d.periods[d.periods.length - 1]}), ` +
      `${d.workloads.length} workloads, ${Object.values(d.accelerators_by_vendor).flat().length} accelerators, ` +
      `${d.sites.length} sites`),
    table(d.sites.map((s) => ({ site: s.site, region: s.region, grid_mw: s.grid_mw_max, max_cards: s.max_cards,
      existing_cards: s.existing_cards }))));
  const traces = Object.entries(data.demand).map(([w, series]) => ({
    x: Object.keys(series), y: Object.values(series), name: w, type: "scatter" }));
  Plotly.react("demand-chart", traces, { title: { text: "demand (tokens per day)" }, margin: { t: 30, l: 50, r: 10, b: 30 },
    xaxis: { type: "category" }, yaxis: { type: "log" } }, { displayModeBar: false });
  const lv = data.levers;
  fill($("site-levers"), el("div", { class: "grid2" }, el("b", {}, "site"), el("b", {}, "grid MW"),
    el("b", {}, "max cards"),
    lv.sites.map((s) => [el("span", {}, s.site), leverInput(`grid_mw:${s.site}`, s.grid_mw),
      leverInput(`max_cards:${s.site}`, s.max_cards, { step: 1 })])));
  fill($("acc-levers"), el("div", { class: "grid2" }, el("b", {}, "accelerator"),
    el("b", {}, "price per card (first period; a path keeps its shape)"), el("b", {}),
    lv.accelerators.map((a) => [el("span", {}, a.accelerator),
      leverInput(`price_per_card:${a.accelerator}`, a.price_per_card), el("span", {})])));
  const policy = [el("label", {}, "budget per period (largest; a path keeps its shape) ",
    leverInput("budget_per_period", lv.budget_per_period, { id: "lever-budget", placeholder: "none" }))];
  if (lv.tags.includes("domestic")) {
    policy.push(el("label", {}, "domestic share at least (0-1; the file's start kept) ",
      leverInput("domestic_share", lv.domestic_share, { id: "lever-domestic", step: 0.05,
        placeholder: "no rule in the file" })));
  }
  if (lv.tags.includes("imported")) {
    policy.push(el("label", {}, "also ban imported cards from ",
      el("select", { id: "lever-ban" }, el("option", { value: "" }, "never"),
        lv.periods.map((p) => el("option", { value: p }, p)))));
  }
  if (lv.scenarios) {
    policy.push(el("label", {}, "CVaR weight w (0: expected NPV only, 1: the worst tail only) ",
      leverInput("cvar_weight", lv.cvar_weight, { id: "lever-cvar", step: 0.1, min: 0, max: 1 })));
  }
  fill($("policy-levers"), policy);
}

function parseValue(text) {
  try { return JSON.parse(text); } catch (e) { return text; }
}

// The levers changed from the file's values (the server turns them into overrides and says
// what each changes), and the free path=value lines.
function collectLevers() {
  const levers = {};
  const scale = parseFloat($("lever-demand-scale").value);
  if (!isNaN(scale) && scale !== 1) levers.demand_scale = scale;
  document.querySelectorAll("#levers input[data-lever]").forEach((input) => {
    if (input.value !== "" && parseFloat(input.value) !== parseFloat(input.dataset.default)) {
      levers[input.dataset.lever] = parseFloat(input.value);
    }
  });
  const ban = $("lever-ban");
  if (ban && ban.value) levers.ban_imported_from = ban.value;
  return levers;
}

function collectOverrides() {
  const overrides = {};
  $("lever-custom").value.split("\n").map((l) => l.trim()).filter(Boolean).forEach((line) => {
    const at = line.indexOf("=");
    if (at > 0) overrides[line.slice(0, at).trim()] = parseValue(line.slice(at + 1).trim());
  });
  return overrides;
}

async function submit(levers, overrides) {
  $("submit-error").textContent = "";
  const limit = parseFloat($("lever-time-limit").value) || 60;
  try {
    const run = await api("/api/runs", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ instance: state.instance, levers, overrides, time_limit: limit }) });
    await refreshRuns();
    select(run.id);
    return run.id;
  } catch (error) {
    $("submit-error").textContent = errorText(error);
    return null;
  }
}

// ---- runs -----------------------------------------------------------------------------------

const DONE = ["optimal", "feasible", "infeasible", "no_solution", "error", "cancelled"];

function leverText(run) {
  const changes = run.changes || [];
  return changes.length ? changes.join("; ") : "as in the file";
}

async function refreshRuns() {
  const runs = await api("/api/runs");
  fill($("runs").querySelector("tbody"), runs.slice().reverse().map((r) =>
    el("tr", { dataset: { run: r.id }, class: r.id === state.selected ? "selected" : null },
      el("td", {}, el("a", { href: "#", on: { click: (e) => { e.preventDefault(); select(r.id); } } }, r.id)),
      el("td", {}, r.name), el("td", {}, leverText(r)),
      el("td", { class: `status-${r.status}` }, r.status),
      el("td", { class: "npv" }, money(r.objective)), el("td", {}, r.seconds ? r.seconds.toFixed(1) : ""),
      el("td", {}, DONE.includes(r.status) ? null :
        el("button", { class: "small", on: { click: () => cancelRun(r.id) } }, "cancel")))));
  const done = runs.filter((r) => ["optimal", "feasible", "infeasible"].includes(r.status));
  for (const id of ["compare-a", "compare-b"]) {
    const keep = $(id).value;
    fill($(id), done.map((r) => el("option", { value: r.id }, `${r.id} ${r.name} (${leverText(r)})`)));
    if (keep) $(id).value = keep;
  }
  runs.filter((r) => !DONE.includes(r.status)).forEach((r) => poll(r.id));
  return runs;
}

function poll(id) {
  if (state.polling[id]) return;
  state.polling[id] = setInterval(async () => {
    const run = await api(`/api/runs/${id}`);
    if (id === state.selected) showProgress(run);
    if (DONE.includes(run.status)) {
      clearInterval(state.polling[id]);
      delete state.polling[id];
      await refreshRuns();
      if (id === state.selected) showPlan(id);
    }
  }, 400);
}

async function cancelRun(id) {
  await api(`/api/runs/${id}/cancel`, { method: "POST" });
  refreshRuns();
}

function select(id) {
  state.selected = id;
  document.querySelectorAll("#runs tr").forEach((tr) => tr.classList.toggle("selected", tr.dataset.run === id));
  showPlan(id);
}

function showProgress(run) {
  const last = run.progress.length ? run.progress[run.progress.length - 1] : null;
  fill($("plan"), el("h2", {}, `Run ${run.id}: ${run.status}`),
    el("p", { id: "progress" }, last ? `after ${last[0].toFixed(1)} s: best plan ${money(last[1])}, ` +
      `proven bound ${money(last[2])}` : "starting"));
}

async function tableOf(id, name) {
  try { return await api(`/api/runs/${id}/tables/${name}`); } catch (e) { return []; }
}

function stacked(div, rows, x, group, value, title) {
  const groups = [...new Set(rows.map((r) => r[group]))];
  const xs = [...new Set(rows.map((r) => String(r[x])))];
  const traces = groups.map((g) => ({ type: "bar", name: String(g), x: xs, y: xs.map((v) =>
    rows.filter((r) => String(r[x]) === v && r[group] === g).reduce((s, r) => s + r[value], 0)) }));
  Plotly.react(div, traces, { barmode: "stack", title: { text: title }, xaxis: { type: "category" },
    margin: { t: 30, l: 60, r: 10, b: 30 } }, { displayModeBar: false });
}

function currency(summary) { return ((summary || {}).instance || {}).currency || ""; }

// One decision of the first period (a row of first_stage.csv) as a planner reads it.
function decisionCells(r, cur) {
  const due = (v) => (v === null || v === undefined ? "" : `${money(v)} ${cur}`);
  const cards = (v) => `${Math.round(v).toLocaleString("en")} cards`;
  if (r.decision === "order") {
    const now = r.deposit === null || r.deposit === undefined ? r.capex : r.deposit;
    return ["order", r.period, r.accelerator, `${r.site} (${r.cooling})`, cards(r.cards), due(now),
      r.balance ? due(r.balance) : "", r.delivery_period || ""];
  }
  if (r.decision === "rental") return ["rent", r.period, r.accelerator, r.rental, cards(r.cards), due(r.cost), "", ""];
  if (r.decision === "build") return ["build", r.period, `${r.cooling} cooling`, r.site,
    `${(+r.it_mw).toLocaleString("en", { maximumFractionDigits: 3 })} MW`, due(r.capex), "", ""];
  return ["open", r.period, "site", r.site, "", due(r.capex), "", ""];
}

async function showFirstDecisions(id, cur) {
  let first;
  try { first = await api(`/api/runs/${id}/first`); } catch (e) { return; }
  const head = ["decision", "period", "what", "where", "amount", "due then", "due on delivery", "delivered"];
  if (first.scenario_plan) head.push("used in (share of futures)");
  if (!first.rows.length) { fill($("orders"), el("p", {}, "nothing to order, rent, build or open")); return; }
  $("first-title").textContent = first.scenario_plan ? "First stage: the same in every future" :
    (first.period === first.first_period ? `What to do in ${first.period}` :
      `Nothing to do in ${first.first_period}; first decisions in ${first.period}`);
  fill($("orders"), el("table", { id: "first-decisions" }, el("tr", {}, head.map((c) => el("th", {}, c))),
    first.rows.map((r) => el("tr", {}, decisionCells(r, cur).concat(first.scenario_plan ?
      [r.used_in_share === null || r.used_in_share === undefined ? "" : `${(100 * r.used_in_share).toFixed(0)} %`] : [])
      .map((c) => el("td", {}, c))))));
}

// A scenario plan: the NPV of each future, the CVaR tail marked, with expected NPV, VaR and CVaR.
async function showDistribution(id, cur) {
  let d;
  try { d = await api(`/api/runs/${id}/distribution`); } catch (e) { return; }
  const alpha = d.cvar_alpha === null || d.cvar_alpha === undefined ? "" : ` at alpha ${d.cvar_alpha}`;
  fill($("distribution"), el("h3", {}, "NPV across futures"),
    el("p", { id: "risk-figures" }, `expected ${money(d.expected_npv)} ${cur}; VaR${alpha} ${money(d.var_npv)}; ` +
      `CVaR${alpha} ${money(d.cvar_npv)}; worst ${money(d.worst_npv)}; best ${money(d.best_npv)}`,
      d.out_of_sample && d.out_of_sample.mean !== undefined ? `; out of sample ${money(d.out_of_sample.mean)} ` +
        `(95 % CI ${money(d.out_of_sample.ci95_low)} to ${money(d.out_of_sample.ci95_high)}, ${d.out_of_sample.count} futures)` : ""),
    el("div", { id: "c-distribution", class: "chart" }));
  const marks = [["expected", d.expected_npv, "#333"], ["VaR", d.var_npv, "#d62728"], ["CVaR", d.cvar_npv, "#9467bd"]]
    .filter((m) => m[1] !== null && m[1] !== undefined);
  const tail = (f) => f.in_cvar_tail === "yes";
  let traces, layout;
  if (d.futures.length > 12) {
    traces = [false, true].map((inTail) => ({ type: "histogram", name: inTail ? "in the CVaR tail" : "other futures",
      x: d.futures.filter((f) => tail(f) === inTail).map((f) => f.npv), nbinsx: 30 }));
    layout = { barmode: "stack", xaxis: { title: { text: `NPV (${cur})` } }, yaxis: { title: { text: "futures" } },
      shapes: marks.map((m) => ({ type: "line", x0: m[1], x1: m[1], yref: "paper", y0: 0, y1: 1, line: { color: m[2], dash: "dash" } })),
      annotations: marks.map((m) => ({ x: m[1], yref: "paper", y: 1, text: m[0], showarrow: false, yanchor: "bottom" })) };
  } else {
    const futures = d.futures.slice().sort((a, b) => a.npv - b.npv);
    traces = [{ type: "bar", name: "NPV", x: futures.map((f) => String(f.scenario)), y: futures.map((f) => f.npv),
      marker: { color: futures.map((f) => (tail(f) ? "#d62728" : "#1f77b4")) },
      text: futures.map((f) => `p ${(+f.probability).toFixed(2)}`), hovertemplate: "%{x}: %{y:,.0f}<extra></extra>" }];
    layout = { xaxis: { type: "category", title: { text: "future (red: in the CVaR tail)" } }, yaxis: { title: { text: `NPV (${cur})` } },
      shapes: marks.map((m) => ({ type: "line", xref: "paper", x0: 0, x1: 1, y0: m[1], y1: m[1], line: { color: m[2], dash: "dash" } })),
      annotations: marks.map((m) => ({ xref: "paper", x: 1, y: m[1], text: m[0], showarrow: false, xanchor: "left" })) };
  }
  Plotly.react("c-distribution", traces, { ...layout, title: { text: "NPV of each future" },
    margin: { t: 30, l: 70, r: 60, b: 50 } }, { displayModeBar: false });
}

async function showPlan(id) {
  const run = await api(`/api/runs/${id}`);
  if (!DONE.includes(run.status)) { showProgress(run); poll(id); return; }
  const s = run.summary || {};
  const k = s.kpis || {};
  const parts = [el("h2", {}, `Run ${run.id}: `, el("span", { class: `status-${run.status}` }, run.status)),
    el("p", {}, "levers: " + leverText(run))];
  if (run.error) parts.push(el("p", { class: "error" }, run.error));
  if (run.explanation && run.explanation.length) {
    parts.push(el("h3", {}, "No plan: what would have to give"),
      el("ul", {}, run.explanation.map((r) => el("li", {}, r.message))));
  }
  const hasPlan = s.objective !== null && s.objective !== undefined;
  if (hasPlan) {
    const cur = currency(s);
    parts.push(
      el("p", {}, "NPV ", el("span", { class: "kpi", id: "npv", dataset: { value: s.objective } },
        `${money(s.objective)} ${cur}`),
        s.mip_gap !== null && s.mip_gap !== undefined ? ` within ${(100 * s.mip_gap).toFixed(3)} % of the proven bound` : "",
        "; cost per million tokens ", el("b", {}, k.cost_per_million_tokens ? k.cost_per_million_tokens.toFixed(4) : "-")),
      el("p", {}, el("a", { href: `/api/runs/${id}/download/report`, target: "_blank" }, "report"), " · ",
        el("a", { href: `/api/runs/${id}/download/xlsx` }, "spreadsheet"), " · ",
        el("a", { href: `/api/runs/${id}/download/zip` }, "results (zip)")),
      el("h3", { id: "first-title" }, "What to do first"), el("div", { id: "orders" }),
      el("div", { id: "distribution" }),
      el("div", { id: "c-purchases", class: "chart" }), el("div", { id: "c-fleet", class: "chart" }),
      el("div", { id: "c-power", class: "chart" }), el("div", { id: "c-costs", class: "chart" }),
      el("h3", {}, "Marginal cost per million tokens"), el("div", { id: "marginal" }),
      el("h3", {}, "Binding caps and their shadow prices"), el("div", { id: "binding" }));
  }
  fill($("plan"), parts);
  if (!hasPlan) return;
  const loaded = await Promise.all(
    ["purchases", "fleet", "sites", "costs", "marginal_costs", "binding", "scenarios"].map((n) => tableOf(id, n)));
  showFirstDecisions(id, currency(s));
  showDistribution(id, currency(s));
  // a scenario plan's tables hold every future: the charts show the most probable one, named
  const futures = loaded[6];
  const shown = futures.length ? futures.reduce((a, b) => (b.probability > a.probability ? b : a)).scenario : null;
  const [purchases, fleet, sites, costs, marginal, binding] = loaded.slice(0, 6).map((rows) =>
    shown === null ? rows : rows.filter((r) => r.scenario === undefined || r.scenario === null || String(r.scenario) === String(shown)));
  const of = shown === null ? "" : ` (future ${shown}, the most probable)`;
  stacked("c-purchases", purchases, "period", "vendor", "cards", "cards delivered by period and vendor" + of);
  stacked("c-fleet", fleet.map((r) => ({ ...r, where: r.site + " " + r.cooling })), "period", "where", "cards", "installed cards by site and cooling" + of);
  const power = [...new Set(sites.map((r) => r.site))].flatMap((site) => {
    const rows = sites.filter((r) => r.site === site);
    const xs = [...new Set(rows.map((r) => String(r.period)))];
    return [{ type: "bar", name: `${site} provisioned`, x: xs, y: xs.map((p) => rows.filter((r) => String(r.period) === p).reduce((a, r) => a + r.facility_mw, 0)) },
      { type: "scatter", name: `${site} grid cap`, x: xs, y: xs.map((p) => rows.find((r) => String(r.period) === p).grid_mw) }];
  });
  Plotly.react("c-power", power, { title: { text: "site power (MW at the meter) against its cap" + of }, xaxis: { type: "category" },
    margin: { t: 30, l: 60, r: 10, b: 30 } }, { displayModeBar: false });
  const kinds = ["capex_cards", "capex_cooling", "capex_sites", "on_order_balance", "energy", "maintenance", "fixed", "unmet", "rental", "carbon", "water"];
  Plotly.react("c-costs", kinds.filter((kind) => costs.some((r) => r[kind])).map((kind) => ({
    type: "bar", name: kind, x: costs.map((r) => String(r.period)), y: costs.map((r) => r[kind]) })),
    { barmode: "stack", title: { text: "cost by kind and period (undiscounted)" + of }, xaxis: { type: "category" },
      margin: { t: 30, l: 60, r: 10, b: 30 } }, { displayModeBar: false });
  fill($("marginal"), table(marginal));
  fill($("binding"), table(binding, ["message", "shadow_price", "shadow_price_unit", "basis"]));
}

// ---- compare and sweep -------------------------------------------------------------------

async function compare() {
  const a = $("compare-a").value, b = $("compare-b").value;
  if (!a || !b) return;
  const out = await api(`/api/runs/${a}/compare/${b}`);
  fill($("compare-out"), el("h3", {}, `${a} against ${b}`), table(out.kpis, ["kpi", "a", "b", "delta", "relative"]),
    el("h4", {}, "purchases that changed (cards)"), table(out.purchases),
    Object.keys(out.no_plan || {}).length ? el("p", { class: "error" }, JSON.stringify(out.no_plan)) : null);
}

async function sweep() {
  const path = $("sweep-path").value.trim();
  const values = $("sweep-values").value.split(",").map((v) => parseValue(v.trim()));
  const ids = [];
  for (const value of values) {
    const id = await submit(collectLevers(), { ...collectOverrides(), [path]: value });
    if (id) ids.push([value, id]);
  }
  const timer = setInterval(async () => {
    const runs = await Promise.all(ids.map(([, id]) => api(`/api/runs/${id}`)));
    const done = runs.every((r) => DONE.includes(r.status));
    const points = runs.map((r, i) => [ids[i][0], r.summary ? r.summary.objective : null]).filter((p) => p[1] !== null);
    Plotly.react("sweep-chart", [{ type: "scatter", x: points.map((p) => p[0]), y: points.map((p) => p[1]) }],
      { title: { text: `NPV against ${path}` }, margin: { t: 30, l: 60, r: 10, b: 30 } }, { displayModeBar: false });
    if (done) clearInterval(timer);
  }, 700);
}

// ---- wiring ---------------------------------------------------------------------------------

$("instance-select").addEventListener("change", (e) => showInstance(e.target.value));
$("solve").addEventListener("click", () => submit(collectLevers(), collectOverrides()));
$("compare").addEventListener("click", compare);
$("sweep").addEventListener("click", sweep);
$("upload").addEventListener("change", async (e) => {
  const file = e.target.files[0];
  if (!file) return;
  const form = new FormData();
  form.append("file", file);
  try {
    const entry = await api("/api/instances", { method: "POST", body: form });
    await loadInstances(entry.id);
  } catch (error) { $("instance-error").textContent = errorText(error); }
});
loadInstances().then(refreshRuns);
