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

// Every chart's colours: 24 distinct ones, so a dozen sites never share a colour.
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
  "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d",
  "#31a354", "#756bb1", "#636363", "#fd8d3c", "#74c476", "#9e9ac8", "#e7969c"];

const count = (v) => Math.round(v).toLocaleString("en");
const plural = (n, one, many) => `${count(n)} ${n === 1 ? one : (many || one + "s")}`;
const MONEY_COLUMN = /capex|cost|npv|price|balance|deposit|money|salvage|objective|delta|due|opex|bound/;
const COUNT_COLUMN = /cards|units|count/;

// A value as its column means it: counts as counts, money as money, MW and shares as numbers.
function cell(value, column) {
  if (typeof value !== "number") return value === null || value === undefined ? "" : String(value);
  const name = String(column || "");
  if (COUNT_COLUMN.test(name) && !MONEY_COLUMN.test(name)) return count(value);
  if (MONEY_COLUMN.test(name)) return money(value);
  if (Math.abs(value) >= 1e6) return value.toExponential(3);
  return String(+value.toFixed(4));
}

// A column's name as a planner reads it: grid_mw -> grid MW, cost_per_card -> cost per card.
function label(column) {
  return String(column).replace(/_mw$/, " MW").replace(/_mwh$/, " MWh").replace(/_usd$/, " USD")
    .replace(/_/g, " ");
}

function table(rows, columns, attrs) {
  if (!rows || !rows.length) return el("p", {}, "none");
  columns = columns || Object.keys(rows[0]);
  return el("div", { class: "scroll" }, el("table", attrs || {},
    el("tr", {}, columns.map((c) => el("th", {}, label(c)))),
    rows.map((r) => el("tr", {}, columns.map((c) => el("td", {}, cell(r[c], c)))))));
}

// The layout every chart shares: a title, axis titles with units, periods as categories.
function layoutOf(title, xTitle, yTitle, extra) {
  return { title: { text: title, font: { size: 14 } }, colorway: PALETTE,
    xaxis: { type: "category", title: { text: xTitle }, automargin: true },
    yaxis: { title: { text: yTitle }, automargin: true, separatethousands: true },
    margin: { t: 36, l: 70, r: 10, b: 40 }, legend: { font: { size: 10 } }, ...(extra || {}) };
}

// The server's one-line error (it names the file and the field already).
function errorText(error) {
  if (error.error) return error.error;
  if (Array.isArray(error.detail)) return error.detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
  return typeof error.detail === "string" ? error.detail : "the request failed";
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
    el("p", {}, `${plural(d.periods.length, "period")} (${d.periods[0]}-${d.periods[d.periods.length - 1]}), ` +
      `${plural(d.workloads.length, "workload")}, ${plural(Object.values(d.accelerators_by_vendor).flat().length, "accelerator")}, ` +
      `${plural(d.sites.length, "site")}`),
    table(d.sites.map((s) => ({ site: s.site, region: s.region, grid_mw: s.grid_mw_max, max_cards: s.max_cards,
      existing_cards: s.existing_cards }))));
  const traces = Object.entries(data.demand).map(([w, series]) => ({
    x: Object.keys(series), y: Object.values(series), name: w, type: "scatter" }));
  const demandLayout = layoutOf("demand forecast", "period", "tokens per day (log)");
  demandLayout.yaxis.type = "log";
  Plotly.react("demand-chart", traces, demandLayout, { displayModeBar: false });
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
  state.tables = data.tables || [];
  state.edits = {};
  fill($("table-select"), state.tables.map((t) => el("option", { value: t.name }, t.title)));
  showEditTable();
}

// ---- tables edited in the page ---------------------------------------------------------------
// Each edited cell becomes an override: a row by period is sent whole (path = {period: v}), a
// single value as path = value. Pasting a block from a spreadsheet fills down and across.

function rowValue(row, input) {
  return input.value === "" ? null : Number(input.value);
}

function recordEdit(t, row, column, input) {
  const file = row.cells[column].value;
  input.classList.toggle("edited", input.value !== "" && Number(input.value) !== Number(file));
  if (row.row_path) {
    const inputs = [...document.querySelectorAll(`#edit-table input[data-row="${CSS.escape(row.label)}"]`)];
    const whole = {};
    inputs.forEach((i) => { whole[i.dataset.column] = rowValue(row, i); });
    const same = inputs.every((i) => Number(i.value) === Number(row.cells[i.dataset.column].value));
    if (same) delete state.edits[row.row_path]; else state.edits[row.row_path] = whole;
  } else {
    const path = row.cells[column].path;
    if (input.value === "" || Number(input.value) === Number(file)) delete state.edits[path];
    else state.edits[path] = Number(input.value);
  }
  fill($("edit-count"), Object.keys(state.edits).length ? plural(Object.keys(state.edits).length, "edit") + " (sent with the next solve)" : "");
}

function showEditTable() {
  const t = (state.tables || []).find((x) => x.name === $("table-select").value) || (state.tables || [])[0];
  if (!t) { fill($("edit-grid")); return; }
  const shown = (row, c) => {
    if (row.row_path && state.edits[row.row_path]) return state.edits[row.row_path][c];
    const path = row.cells[c].path;
    return path && path in state.edits ? state.edits[path] : row.cells[c].value;
  };
  fill($("edit-grid"), el("div", { class: "scroll" }, el("table", { id: "edit-table", dataset: { table: t.name } },
    el("tr", {}, el("th", {}, ""), t.columns.map((c) => el("th", {}, label(c)))),
    t.rows.map((row, r) => el("tr", {}, el("th", {}, row.label), t.columns.map((c, ci) => {
      const input = el("input", { type: "number", step: "any", value: shown(row, c) ?? "", dataset: { row: row.label, column: c, r, c: ci },
        on: { change: (e) => recordEdit(t, row, c, e.target), paste: (e) => pasteBlock(e, t) } });
      if (shown(row, c) !== row.cells[c].value) input.classList.add("edited");
      return el("td", {}, input);
    }))))));
}

// A block pasted from a spreadsheet (rows by newlines, columns by tabs) fills from the cell.
function pasteBlock(event, t) {
  const text = (event.clipboardData || window.clipboardData).getData("text");
  if (!/[\t\n]/.test(text.trim())) return;          // one value: the browser pastes it
  event.preventDefault();
  const r0 = Number(event.target.dataset.r), c0 = Number(event.target.dataset.c);
  text.replace(/\r/g, "").split("\n").filter((line, i, all) => line !== "" || i < all.length - 1).forEach((line, dr) => {
    line.split("\t").forEach((value, dc) => {
      const input = document.querySelector(`#edit-table input[data-r="${r0 + dr}"][data-c="${c0 + dc}"]`);
      if (!input) return;
      input.value = value.trim().replace(/,/g, "");
      recordEdit(t, t.rows[r0 + dr], t.columns[c0 + dc], input);
    });
  });
}

async function downloadEdited() {
  const overrides = collectOverrides();
  try {
    const response = await fetch(`/api/instances/${encodeURIComponent(state.instance)}/yaml`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ overrides }) });
    if (!response.ok) throw await response.json();
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", { href: url, download: (response.headers.get("Content-Disposition") || "").split('filename="')[1]?.replace('"', "") || "instance.yaml" });
    document.body.appendChild(link);
    link.click();
    link.remove();
    $("edit-error").textContent = "";
  } catch (error) { $("edit-error").textContent = errorText(error); }
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
  const overrides = { ...(state.edits || {}) };
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

// A run's status as a planner should read it: an interrupted run's plan is the best so far.
function statusText(r) {
  if (r.interrupted) return `interrupted (best plan so far${r.mip_gap !== null && r.mip_gap !== undefined ? `, gap ${(100 * r.mip_gap).toFixed(2)} %` : ""})`;
  if (r.status === "running" && r.phase && r.phase !== "solving") return `running: ${r.phase}`;
  return r.status;
}

const RUNS_PAGE = 15;

async function refreshRuns() {
  const runs = await api("/api/runs");
  state.runs = runs;
  const words = ($("runs-filter").value || "").toLowerCase().trim();
  const matching = runs.slice().reverse().filter((r) => !words ||
    [r.id, r.name, leverText(r), statusText(r)].join(" ").toLowerCase().includes(words));
  const shown = state.allRuns ? matching : matching.slice(0, RUNS_PAGE);
  fill($("runs").querySelector("tbody"), shown.map((r) =>
    el("tr", { dataset: { run: r.id }, class: r.id === state.selected ? "selected" : null },
      el("td", {}, el("a", { href: "#", on: { click: (e) => { e.preventDefault(); select(r.id); } } }, r.id)),
      el("td", {}, r.name), el("td", {}, leverText(r)),
      el("td", { class: r.interrupted ? "status-interrupted" : `status-${r.status}` }, statusText(r)),
      el("td", { class: "npv" }, money(r.objective)), el("td", {}, r.seconds ? r.seconds.toFixed(1) : ""),
      el("td", {}, DONE.includes(r.status) ? null :
        el("button", { class: "small", on: { click: () => cancelRun(r.id) } }, "cancel")))));
  fill($("runs-count"), matching.length > shown.length ?
    el("a", { href: "#", on: { click: (e) => { e.preventDefault(); state.allRuns = true; refreshRuns(); } } },
      `showing ${shown.length} of ${matching.length} runs: show all`) :
    `${plural(matching.length, "run")}${words ? " matching" : ""}`);
  const done = runs.filter((r) => ["optimal", "feasible", "infeasible"].includes(r.status)).reverse();
  state.compareChosen = state.compareChosen || {};
  ["compare-a", "compare-b"].forEach((id, i) => {
    const keep = state.compareChosen[id];               // what the planner picked, if anything
    fill($(id), done.map((r) => el("option", { value: r.id }, `${r.id} ${r.name} (${leverText(r)})`)));
    if (keep && done.some((r) => r.id === keep)) $(id).value = keep;
    else if (done.length) $(id).value = done[Math.min(i, done.length - 1)].id;   // a: the latest, b: the one before
  });
  runs.filter((r) => !DONE.includes(r.status)).forEach((r) => poll(r.id));
  return runs;
}

async function clearRuns() {
  await api("/api/runs", { method: "DELETE" });
  state.allRuns = false;
  if (state.selected && !(await refreshRuns()).some((r) => r.id === state.selected)) {
    state.selected = null;
    fill($("plan"), el("p", { class: "prompt" }, "Runs cleared. Choose an instance, set the levers and press Solve."));
  }
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

// A live clock against the time limit, what is being solved, and (while the plan is being
// solved) the best plan's NPV and the proven bound.
function showProgress(run) {
  const last = run.progress.length ? run.progress[run.progress.length - 1] : null;
  const clock = run.elapsed_seconds === null || run.elapsed_seconds === undefined ? "waiting for a free solver" :
    `${run.elapsed_seconds.toFixed(0)} s of ${run.time_limit ? run.time_limit.toFixed(0) + " s" : "no limit"}`;
  const stage = last && last[3] && last[3] !== "plan" ? last[3] : null;
  let text;
  if (run.status === "queued") text = "queued behind other runs";
  else if (!last) text = run.phase === "starting the solver" ? "starting the solver (building the model)" : run.phase;
  else if (stage) text = stage;
  else text = `best plan so far: NPV ${money(last[1])}; proven bound ${last[2] === null || last[2] === undefined ? "none yet" : money(last[2])}`;
  fill($("plan"), el("h2", {}, `Run ${run.id}: ${run.status}`),
    el("p", { id: "progress" }, el("span", { id: "clock" }, clock), " · ", text));
}

// A table of the run's results; null when the run did not write it (not computed).
async function tableOf(id, name, written) {
  if (written && !written.includes(name)) return null;
  try { return await api(`/api/runs/${id}/tables/${name}`); } catch (e) { return null; }
}

function stacked(div, rows, x, group, value, title, yTitle, periods) {
  const groups = [...new Set(rows.map((r) => r[group]))];
  const xs = periods && periods.length ? periods : [...new Set(rows.map((r) => String(r[x])))];
  const traces = groups.map((g) => ({ type: "bar", name: String(g), x: xs, y: xs.map((v) =>
    rows.filter((r) => String(r[x]) === v && r[group] === g).reduce((s, r) => s + r[value], 0)),
    hovertemplate: `${g} %{x}: %{y:,.0f}<extra></extra>` }));
  Plotly.react(div, traces, layoutOf(title, "period", yTitle, { barmode: "stack" }), { displayModeBar: false });
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
  const parts = [el("h2", {}, `Run ${run.id}: `, el("span", { class: run.interrupted ? "status-interrupted" : `status-${run.status}` },
    statusText({ ...run, mip_gap: s.mip_gap }))),
    el("p", {}, "levers: " + leverText(run))];
  if (run.error) parts.push(el("p", { class: "error" }, run.error));
  if (run.interrupted) {
    parts.push(el("p", { class: "warning", id: "interrupted-note" }, "This run was interrupted: its plan is the best found " +
      "before it stopped" + (s.mip_gap !== null && s.mip_gap !== undefined ? `, within ${(100 * s.mip_gap).toFixed(2)} % of the proven bound` : "") +
      ", and its analysis (marginal costs, binding caps) was not run."));
  }
  const relaxations = run.explanation || [];
  if (relaxations.length) {
    // every way out, as the CLI lists them: each relaxation of the least-cost explanation,
    // then the other ways out found (each would give a plan alone)
    parts.push(el("h3", {}, "No plan: what would have to give"),
      el("ul", { id: "explanation" }, relaxations.map((r) => el("li", {}, r.message))));
    const others = (s.alternatives || []).filter((alt) => alt && alt.length);
    if (others.length) {
      parts.push(el("p", {}, "or, instead:"), el("ul", { id: "alternatives" },
        others.map((alt) => el("li", {}, alt.map((r) => r.message).join("; and ")))));
    }
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
      el("h3", {}, "What else costs almost the same"),
      (run.tables || []).includes("scenarios") ? el("p", { class: "note" }, "ranges and contingencies are of plans of one future") :
        el("div", { id: "studies" },
          el("button", { id: "run-ranges", class: "small", type: "button", on: { click: () => startStudy(id, "ranges") } },
            "near-optimal ranges by vendor (within 1 % and 5 %)"), " ",
          el("label", { class: "inline" }, "lose a vendor from ", el("select", { id: "lose-from" },
            ((state.levers || {}).periods || []).slice(1).map((p) => el("option", { value: p }, p)))),
          el("button", { id: "run-contingency", class: "small", type: "button", on: { click: () => startStudy(id, "contingency") } },
            "what losing each vendor costs"),
          el("div", { id: "ranges-out" }), el("div", { id: "contingency-out" })),
      el("h3", {}, "Marginal cost per million tokens"), el("div", { id: "marginal" }),
      el("h3", {}, "Binding caps and their shadow prices"), el("div", { id: "binding" }));
  }
  fill($("plan"), parts);
  if (!hasPlan) return;
  const loaded = await Promise.all(
    ["purchases", "fleet", "sites", "costs", "marginal_costs", "binding", "scenarios"].map((n) => tableOf(id, n, run.tables)));
  showFirstDecisions(id, currency(s));
  if ((run.tables || []).includes("scenarios")) showDistribution(id, currency(s));
  // a scenario plan's tables hold every future: the charts show the most probable one, named
  const futures = loaded[6] || [];
  const shown = futures.length ? futures.reduce((a, b) => (b.probability > a.probability ? b : a)).scenario : null;
  const [purchases, fleet, sites, costs, marginal, binding] = loaded.slice(0, 6).map((rows) =>
    rows === null || shown === null ? rows : rows.filter((r) => r.scenario === undefined || r.scenario === null || String(r.scenario) === String(shown)))
    .map((rows, i) => (rows === null && i < 4 ? [] : rows));
  const of = shown === null ? "" : ` (future ${shown}, the most probable)`;
  const periods = [...new Set(costs.map((r) => String(r.period)))];
  const cur = currency(s);
  stacked("c-purchases", purchases, "period", "vendor", "cards", "cards delivered by period and vendor" + of, "cards", periods);
  stacked("c-fleet", fleet.map((r) => ({ ...r, where: r.site + " " + r.cooling })), "period", "where", "cards",
    "installed cards by site and cooling" + of, "cards", periods);
  // each site's provisioned MW as a bar and its grid cap as a mark on that very bar: the
  // x axis is (period, site), so a dozen sites never put a cap line beside another's bar
  const siteNames = [...new Set(sites.map((r) => r.site))];
  const at = [[], []], mw = [], cap = [];
  for (const period of periods) {
    for (const site of siteNames) {
      const rows = sites.filter((r) => r.site === site && String(r.period) === period);
      if (!rows.length) continue;
      at[0].push(period); at[1].push(site);
      mw.push(rows.reduce((a, r) => a + r.facility_mw, 0));
      cap.push(rows[0].grid_mw);
    }
  }
  const powerLayout = layoutOf("site power at the meter against its grid cap" + of, "period and site", "MW");
  powerLayout.xaxis = { type: "multicategory", title: { text: "period and site" }, automargin: true };
  Plotly.react("c-power", [
    { type: "bar", name: "provisioned (MW)", x: at, y: mw, marker: { color: PALETTE[0] },
      hovertemplate: "%{x}: %{y:,.2f} MW<extra></extra>" },
    { type: "scatter", mode: "markers", name: "grid cap (MW)", x: at, y: cap,
      marker: { symbol: "line-ew-open", size: 18, line: { width: 3, color: PALETTE[3] } },
      hovertemplate: "cap %{x}: %{y:,.2f} MW<extra></extra>" }], powerLayout, { displayModeBar: false });
  const kinds = ["capex_cards", "capex_cooling", "capex_sites", "on_order_balance", "energy", "maintenance", "fixed", "unmet", "rental", "carbon", "water"];
  Plotly.react("c-costs", kinds.filter((kind) => costs.some((r) => r[kind])).map((kind) => ({
    type: "bar", name: label(kind), x: costs.map((r) => String(r.period)), y: costs.map((r) => r[kind]),
    hovertemplate: `${label(kind)} %{x}: %{y:,.0f} ${cur}<extra></extra>` })),
    layoutOf("cost by kind and period (undiscounted)" + of, "period", cur || "money", { barmode: "stack" }),
    { displayModeBar: false });
  const notRun = run.interrupted ? "not run: the run was interrupted" : "not computed for this plan";
  fill($("marginal"), marginal === null ? el("p", { class: "note" }, notRun) : table(marginal));
  fill($("binding"), binding === null ? el("p", { class: "note" }, notRun) :
    binding.length ? table(binding, ["message", "shadow_price", "shadow_price_unit", "basis"]) :
      el("p", {}, "no cap binds"));
}

// ---- studies of a plan: near-optimal ranges, vendor contingencies ----------------------------

async function startStudy(id, kind) {
  const body = kind === "ranges" ? { slacks: [0.01, 0.05], groups: ["vendor"] } : { from_period: $("lose-from").value };
  const out = $(kind === "ranges" ? "ranges-out" : "contingency-out");
  try {
    await api(`/api/runs/${id}/studies/${kind}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  } catch (error) { fill(out, el("p", { class: "error" }, errorText(error))); return; }
  fill(out, el("p", { class: "note" }, kind === "ranges" ? "solving each range end (two solves a member and slack)..." : "re-planning without each vendor..."));
  const timer = setInterval(async () => {
    const study = await api(`/api/runs/${id}/studies/${kind}`);
    if (study.state === "running") return;
    clearInterval(timer);
    if (study.state === "error") { fill(out, el("p", { class: "error" }, study.error)); return; }
    (kind === "ranges" ? showRanges : showContingencies)(id, study.rows, out);
  }, 700);
}

async function openStudyPlan(id, kind, dir) {
  const made = await api(`/api/runs/${id}/studies/${kind}/open`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ dir }) });
  await refreshRuns();
  select(made.id);
}

// A bar per member from its least to its most cards, a mark at the optimum, a panel per slack;
// an end that is not proven says so beside its number. Clicking an end opens its plan.
function showRanges(id, rows, out) {
  const slacks = [...new Set(rows.map((r) => r.slack))];
  const opener = (r, side) => r[`${side}_dir`] ? el("a", { href: "#", class: "range-end", dataset: { dir: r[`${side}_dir`] },
    on: { click: (e) => { e.preventDefault(); openStudyPlan(id, "ranges", r[`${side}_dir`]); } } },
    count(r[`${side}_cards`]) + (r[`${side}_status`] === "optimal" ? "" : ` (not proven; bound ${count(r[`${side}_cards_bound`] ?? 0)})`)) : "no plan";
  fill(out, el("div", { id: "c-ranges", class: "chart" }),
    el("div", { class: "scroll" }, el("table", { id: "ranges-table" },
      el("tr", {}, ["slack", "member", "optimum", "least", "most", "status"].map((c) => el("th", {}, c))),
      rows.map((r) => el("tr", {}, el("td", {}, `${(100 * r.slack).toFixed(1)} %`), el("td", {}, r.member),
        el("td", {}, count(r.optimum_cards)), el("td", {}, opener(r, "min")), el("td", {}, opener(r, "max")),
        el("td", {}, r.status + (r.gap ? ` (gap ${(100 * r.gap).toFixed(2)} %)` : "")))))));
  const traces = slacks.flatMap((slack, i) => {
    const part = rows.filter((r) => r.slack === slack);
    const axis = i === 0 ? "" : String(i + 1);
    return [{ type: "bar", orientation: "h", name: `within ${(100 * slack).toFixed(1)} %`, y: part.map((r) => r.member),
      base: part.map((r) => r.min_cards), x: part.map((r) => (r.max_cards ?? 0) - (r.min_cards ?? 0)), xaxis: "x" + axis, yaxis: "y" + axis,
      marker: { color: PALETTE[i] }, hovertemplate: "%{y}: %{base:,.0f} to %{x:,.0f} more<extra></extra>" },
    { type: "scatter", mode: "markers", name: "the optimum", showlegend: i === 0, y: part.map((r) => r.member), x: part.map((r) => r.optimum_cards),
      xaxis: "x" + axis, yaxis: "y" + axis, marker: { symbol: "line-ns-open", size: 16, color: "#000" } }];
  });
  const layout = { title: { text: `cards installed in ${rows[0].period}: least to most within each slack`, font: { size: 14 } },
    grid: { rows: 1, columns: slacks.length, pattern: "independent" }, margin: { t: 40, l: 90, r: 10, b: 40 }, showlegend: true };
  slacks.forEach((slack, i) => { layout[`xaxis${i === 0 ? "" : i + 1}`] = { title: { text: "cards" } }; });
  Plotly.react("c-ranges", traces, layout, { displayModeBar: false });
}

function showContingencies(id, rows, out) {
  const cur = "";
  fill(out, el("div", { class: "scroll" }, el("table", { id: "contingency-table" },
    el("tr", {}, ["vendor lost", "from", "extra cost", "unserved tokens a day", "buy instead", "plan"].map((c) => el("th", {}, c))),
    rows.map((r) => el("tr", {}, el("td", {}, r.vendor), el("td", {}, r.from),
      el("td", {}, r.extra_cost === null || r.extra_cost === undefined ? "no plan" : money(r.extra_cost)),
      el("td", {}, r.unmet_tokens_per_day === null || r.unmet_tokens_per_day === undefined ? "-" : count(r.unmet_tokens_per_day)),
      el("td", {}, r.buy_instead),
      el("td", {}, el("a", { href: "#", class: "contingency-plan", on: { click: (e) => { e.preventDefault(); openStudyPlan(id, "contingency", r.results_dir); } } }, "open")))))),
    el("p", { class: "note" }, "decisions before the period stand; costs are NPV from that period on, against the optimum's own re-plan" + cur));
}

// ---- compare and sweep -------------------------------------------------------------------

async function compare() {
  const a = $("compare-a").value, b = $("compare-b").value;
  if (!a || !b) return;
  const out = await api(`/api/runs/${a}/compare/${b}`);
  const missing = Object.entries(out.no_plan || {});
  if (missing.length) {   // a side without a plan has nothing to compare line by line
    fill($("compare-out"), el("h3", {}, `${a} against ${b}`), el("ul", { class: "error", id: "compare-no-plan" },
      missing.map(([side, why]) => el("li", {}, `run ${side === "a" ? a : b} has no plan: ${Array.isArray(why) ? why.join("; ") : String(why)}`))));
    return;
  }
  fill($("compare-out"), el("h3", {}, `${a} against ${b}`), table(out.kpis, ["kpi", "a", "b", "delta", "relative"]),
    el("h4", {}, "purchases that changed (cards)"), table(out.purchases));
}

// One run per value; the chart draws each value with a plan as its NPV and each without one
// as a red x on the axis, listed below with a link to its run (the reason one click away).
async function sweep() {
  const path = $("sweep-path").value.trim();
  const values = $("sweep-values").value.split(",").map((v) => parseValue(v.trim()));
  const ids = [];
  for (const value of values) {
    const id = await submit(collectLevers(), { ...collectOverrides(), [path]: value });
    if (id) ids.push([value, id]);
  }
  const draw = async () => {
    const runs = await Promise.all(ids.map(([, id]) => api(`/api/runs/${id}`)));
    const has = (r) => r.summary && r.summary.objective !== null && r.summary.objective !== undefined;
    const planned = runs.map((r, i) => [ids[i][0], r]).filter(([, r]) => has(r));
    const without = runs.map((r, i) => [ids[i][0], r]).filter(([, r]) => DONE.includes(r.status) && !has(r));
    const cur = currency((planned[0] || [null, {}])[1].summary);
    const floor = planned.length ? Math.min(...planned.map(([, r]) => r.summary.objective)) : 0;
    const layout = layoutOf(`NPV against ${path}`, path, `NPV (${cur || "money"})`);
    layout.xaxis = { title: { text: path }, automargin: true, type: values.every((v) => typeof v === "number") ? "linear" : "category" };
    Plotly.react("sweep-chart", [
      { type: "scatter", mode: "lines+markers", name: "NPV", x: planned.map(([v]) => v), y: planned.map(([, r]) => r.summary.objective),
        hovertemplate: `${path} = %{x}: NPV %{y:,.0f} ${cur}<extra></extra>` },
      { type: "scatter", mode: "markers", name: "no plan", x: without.map(([v]) => v), y: without.map(() => floor),
        marker: { symbol: "x", size: 12, color: "#d62728" }, hovertemplate: `${path} = %{x}: no plan<extra></extra>` }],
      layout, { displayModeBar: false });
    fill($("sweep-no-plan"), without.map(([v, r]) => el("li", {}, `${path} = ${v}: ${r.status === "infeasible" ? "no plan exists" : "no plan found"} (`,
      el("a", { href: "#", on: { click: (e) => { e.preventDefault(); select(r.id); } } }, `why: run ${r.id}`), ")")));
    return runs.every((r) => DONE.includes(r.status));
  };
  const timer = setInterval(async () => { if (await draw()) clearInterval(timer); }, 700);
}

// ---- wiring ---------------------------------------------------------------------------------

$("instance-select").addEventListener("change", (e) => showInstance(e.target.value));
$("solve").addEventListener("click", () => submit(collectLevers(), collectOverrides()));
$("compare").addEventListener("click", compare);
for (const id of ["compare-a", "compare-b"]) {
  $(id).addEventListener("change", (e) => { state.compareChosen = { ...(state.compareChosen || {}), [id]: e.target.value }; });
}
$("sweep").addEventListener("click", sweep);
$("runs-filter").addEventListener("input", () => { state.allRuns = false; refreshRuns(); });
$("clear-runs").addEventListener("click", clearRuns);
$("table-select").addEventListener("change", showEditTable);
$("download-edited").addEventListener("click", downloadEdited);
$("reset-edits").addEventListener("click", () => { state.edits = {}; fill($("edit-count")); showEditTable(); });
$("upload").addEventListener("change", async (e) => {
  const file = e.target.files[0];
  if (!file) return;
  const form = new FormData();
  form.append("file", file);
  try {
    const entry = await api("/api/instances", { method: "POST", body: form });
    await loadInstances(entry.id);
  } catch (error) {
    // nothing was kept: say why, and show no instance's levers or chart under the error
    state.instance = null;
    $("instance-select").value = "";
    for (const id of ["instance-info", "site-levers", "acc-levers", "policy-levers"]) fill($(id));
    Plotly.purge("demand-chart");
    $("instance-error").textContent = "upload refused: " + errorText(error);
  }
  e.target.value = "";
});
loadInstances().then(refreshRuns);
