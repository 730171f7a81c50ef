// accelplan studio: the page. Plain JavaScript over the JSON API; Plotly for charts.
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

async function api(path, options) {
  const response = await fetch(path, options);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw body;
  return body;
}

function table(rows, columns) {
  if (!rows || !rows.length) return "<p>none</p>";
  columns = columns || Object.keys(rows[0]);
  const head = "<tr>" + columns.map((c) => `<th>${c}</th>`).join("") + "</tr>";
  const body = rows.map((r) => "<tr>" + columns.map((c) => {
    const v = r[c];
    return `<td>${typeof v === "number" ? (Math.abs(v) >= 1e4 ? money(v) : +v.toFixed(4)) : (v ?? "")}</td>`;
  }).join("") + "</tr>").join("");
  return `<table>${head}${body}</table>`;
}

// ---- instances ---------------------------------------------------------------------------

async function loadInstances(select) {
  const list = await api("/api/instances");
  $("instance-select").innerHTML = list.map((i) =>
    `<option value="${i.id}">${i.name}${i.error ? " (invalid)" : ""}</option>`).join("");
  if (select) $("instance-select").value = select;
  if (list.length) await showInstance($("instance-select").value);
}

async function showInstance(id) {
  const data = await api(`/api/instances/${id}`);
  state.instance = id;
  $("instance-error").textContent = data.error ? `${data.field}: ${data.error}` : "";
  if (!data.description) { $("instance-info").innerHTML = ""; return; }
  const d = data.description;
  state.levers = data.levers;
  $("instance-info").innerHTML =
    `<p>${d.periods.length} periods (${d.periods[0]}-${d.periods[d.periods.length - 1]}), ` +
    `${d.workloads.length} workloads, ${Object.values(d.accelerators_by_vendor).flat().length} accelerators, ` +
    `${d.sites.length} sites</p>` +
    table(d.sites.map((s) => ({ site: s.site, region: s.region, grid_mw: s.grid_mw_max, max_cards: s.max_cards,
      existing_cards: s.existing_cards })));
  const traces = Object.entries(data.demand).map(([w, series]) => ({
    x: Object.keys(series), y: Object.values(series), name: w, type: "scatter" }));
  Plotly.react("demand-chart", traces, { title: { text: "demand (tokens per day)" }, margin: { t: 30, l: 50, r: 10, b: 30 },
    yaxis: { type: "log" } }, { displayModeBar: false });
  const lv = data.levers;
  $("site-levers").innerHTML = "<div class=grid2><b>site</b><b>grid MW</b><b>max cards</b>" +
    lv.sites.map((s) => `<span>${s.site}</span>` +
      `<input type=number data-path="sites.${s.site}.grid_mw" data-default="${s.grid_mw}" value="${s.grid_mw}">` +
      `<input type=number data-path="sites.${s.site}.max_cards" data-default="${s.max_cards}" value="${s.max_cards}">`
    ).join("") + "</div>";
  $("acc-levers").innerHTML = "<div class=grid2><b>accelerator</b><b>price per card</b><b></b>" +
    lv.accelerators.map((a) => `<span>${a.accelerator}</span>` +
      `<input type=number data-path="accelerators.${a.accelerator}.price_per_card" data-default="${a.price_per_card}" value="${a.price_per_card}"><span></span>`
    ).join("") + "</div>";
  const periods = lv.periods.map((p) => `<option>${p}</option>`).join("");
  $("policy-levers").innerHTML =
    `<label>budget per period <input type=number id="lever-budget" value="${lv.budget_per_period ?? ""}" placeholder="none"></label>` +
    (lv.tags.includes("domestic") ? `<label>domestic share at least (0-1) <input type=number step=0.05 id="lever-domestic" placeholder="as in the file"></label>` : "") +
    (lv.tags.includes("imported") ? `<label>no imported cards from <select id="lever-ban"><option value="">never</option>${periods}</select></label>` : "");
}

function parseValue(text) {
  try { return JSON.parse(text); } catch (e) { return text; }
}

function collectOverrides() {
  const overrides = {};
  const scale = parseFloat($("lever-demand-scale").value);
  if (!isNaN(scale) && scale !== 1) overrides.demand_scale = scale;
  document.querySelectorAll("#site-levers input, #acc-levers input").forEach((input) => {
    if (input.value !== "" && parseFloat(input.value) !== parseFloat(input.dataset.default)) {
      overrides[input.dataset.path] = parseFloat(input.value);
    }
  });
  const budget = $("lever-budget");
  const current = state.levers && state.levers.budget_per_period;
  if (budget && budget.value !== "" && parseFloat(budget.value) !== current) {
    overrides["policies.budget_per_period"] = parseFloat(budget.value);
  }
  const domestic = $("lever-domestic");
  if (domestic && domestic.value !== "") {
    overrides["policies.min_share"] = [{ tags: ["domestic"], share: parseFloat(domestic.value) }];
  }
  const ban = $("lever-ban");
  if (ban && ban.value) overrides["policies.ban"] = [{ tags: ["imported"], from: ban.value }];
  $("lever-custom").value.split("\n").map((l) => l.trim()).filter(Boolean).forEach((line) => {
    const at = line.indexOf("=");
    if (at > 0) overrides[line.slice(0, at).trim()] = parseValue(line.slice(at + 1).trim());
  });
  return overrides;
}

async function submit(overrides) {
  $("submit-error").textContent = "";
  const limit = parseFloat($("lever-time-limit").value) || 60;
  try {
    const run = await api("/api/runs", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ instance: state.instance, overrides, time_limit: limit }) });
    await refreshRuns();
    select(run.id);
    return run.id;
  } catch (error) {
    $("submit-error").textContent = (error.field ? error.field + ": " : "") + (error.error || JSON.stringify(error));
    return null;
  }
}

// ---- runs -----------------------------------------------------------------------------------

const DONE = ["optimal", "feasible", "infeasible", "no_solution", "error", "cancelled"];

function leverText(overrides) {
  const entries = Object.entries(overrides || {});
  return entries.length ? entries.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join("; ") : "as in the file";
}

async function refreshRuns() {
  const runs = await api("/api/runs");
  const body = $("runs").querySelector("tbody");
  body.innerHTML = runs.slice().reverse().map((r) =>
    `<tr data-run="${r.id}" class="${r.id === state.selected ? "selected" : ""}">` +
    `<td><a href="#" onclick="select('${r.id}');return false">${r.id}</a></td><td>${r.name}</td>` +
    `<td>${leverText(r.overrides)}</td><td class="status-${r.status}">${r.status}</td>` +
    `<td class="npv">${money(r.objective)}</td><td>${r.seconds ? r.seconds.toFixed(1) : ""}</td>` +
    `<td>${DONE.includes(r.status) ? "" : `<button class=small onclick="cancelRun('${r.id}')">cancel</button>`}</td></tr>`).join("");
  const options = runs.filter((r) => ["optimal", "feasible", "infeasible"].includes(r.status))
    .map((r) => `<option value="${r.id}">${r.id} ${r.name} (${leverText(r.overrides)})</option>`).join("");
  for (const id of ["compare-a", "compare-b"]) {
    const keep = $(id).value;
    $(id).innerHTML = options;
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
  $("plan").innerHTML = `<h2>Run ${run.id}: ${run.status}</h2><p id="progress">` +
    (last ? `after ${last[0].toFixed(1)} s: best plan ${money(last[1])}, proven bound ${money(last[2])}` : "starting") + "</p>";
}

async function tableOf(id, name) {
  try { return await api(`/api/runs/${id}/tables/${name}`); } catch (e) { return []; }
}

function stacked(div, rows, x, group, value, title) {
  const groups = [...new Set(rows.map((r) => r[group]))];
  const xs = [...new Set(rows.map((r) => r[x]))];
  const traces = groups.map((g) => ({ type: "bar", name: g, x: xs, y: xs.map((v) =>
    rows.filter((r) => r[x] === v && r[group] === g).reduce((s, r) => s + r[value], 0)) }));
  Plotly.react(div, traces, { barmode: "stack", title: { text: title }, margin: { t: 30, l: 60, r: 10, b: 30 } }, { displayModeBar: false });
}

async function showPlan(id) {
  const run = await api(`/api/runs/${id}`);
  if (!DONE.includes(run.status)) { showProgress(run); poll(id); return; }
  const s = run.summary || {};
  const k = s.kpis || {};
  let html = `<h2>Run ${run.id}: <span class="status-${run.status}">${run.status}</span></h2>` +
    `<p>levers: ${leverText(run.overrides)}</p>`;
  if (run.error) html += `<p class=error>${run.error}</p>`;
  if (run.explanation && run.explanation.length) {
    html += "<h3>No plan: what would have to give</h3><ul>" +
      run.explanation.map((r) => `<li>${r.message}</li>`).join("") + "</ul>";
  }
  if (s.objective !== null && s.objective !== undefined) {
    html += `<p>NPV <span class="kpi" id="npv" data-value="${s.objective}">${money(s.objective)} ${s.instance.currency}</span>` +
      (s.mip_gap !== null && s.mip_gap !== undefined ? ` within ${(100 * s.mip_gap).toFixed(3)} % of the proven bound` : "") +
      `; cost per million tokens <b>${k.cost_per_million_tokens ? k.cost_per_million_tokens.toFixed(4) : "-"}</b></p>` +
      `<p><a href="/api/runs/${id}/download/report" target="_blank">report</a> · ` +
      `<a href="/api/runs/${id}/download/xlsx">spreadsheet</a> · <a href="/api/runs/${id}/download/zip">results (zip)</a></p>` +
      `<h3>What to order now</h3><div id="orders"></div>` +
      `<div id="c-purchases" class="chart"></div><div id="c-fleet" class="chart"></div>` +
      `<div id="c-power" class="chart"></div><div id="c-costs" class="chart"></div>` +
      `<h3>Marginal cost per million tokens</h3><div id="marginal"></div>` +
      `<h3>Binding caps and their shadow prices</h3><div id="binding"></div>`;
  }
  $("plan").innerHTML = html;
  if (s.objective === null || s.objective === undefined) return;
  const [purchases, fleet, sites, costs, marginal, binding] = await Promise.all(
    ["purchases", "fleet", "sites", "costs", "marginal_costs", "binding"].map((n) => tableOf(id, n)));
  const orderPeriod = (r) => r.order_period || r.period;
  const first = purchases.length ? purchases.map(orderPeriod).sort()[0] : null;
  $("orders").innerHTML = first ? `<p>orders placed in ${first}:</p>` + table(purchases.filter((r) => orderPeriod(r) === first),
    ["accelerator", "vendor", "site", "cooling", "cards", "delivery_period", "capex"].filter((c) => c in purchases[0])) : "<p>nothing to order</p>";
  stacked("c-purchases", purchases, "period", "vendor", "cards", "cards delivered by period and vendor");
  stacked("c-fleet", fleet.map((r) => ({ ...r, where: r.site + " " + r.cooling })), "period", "where", "cards", "installed cards by site and cooling");
  const power = [...new Set(sites.map((r) => r.site))].flatMap((site) => {
    const rows = sites.filter((r) => r.site === site);
    const xs = [...new Set(rows.map((r) => r.period))];
    return [{ type: "bar", name: `${site} provisioned`, x: xs, y: xs.map((p) => rows.filter((r) => r.period === p).reduce((a, r) => a + r.facility_mw, 0)) },
      { type: "scatter", name: `${site} grid cap`, x: xs, y: xs.map((p) => rows.find((r) => r.period === p).grid_mw) }];
  });
  Plotly.react("c-power", power, { title: { text: "site power (MW at the meter) against its cap" }, margin: { t: 30, l: 60, r: 10, b: 30 } }, { displayModeBar: false });
  const kinds = ["capex_cards", "capex_cooling", "capex_sites", "energy", "maintenance", "fixed", "unmet", "rental", "carbon", "water"];
  Plotly.react("c-costs", kinds.filter((kind) => costs.some((r) => r[kind])).map((kind) => ({
    type: "bar", name: kind, x: costs.map((r) => r.period), y: costs.map((r) => r[kind]) })),
    { barmode: "stack", title: { text: "cost by kind and period (undiscounted)" }, margin: { t: 30, l: 60, r: 10, b: 30 } }, { displayModeBar: false });
  $("marginal").innerHTML = table(marginal);
  $("binding").innerHTML = table(binding, ["message", "shadow_price", "shadow_price_unit"]);
}

// ---- compare and sweep -------------------------------------------------------------------

async function compare() {
  const a = $("compare-a").value, b = $("compare-b").value;
  if (!a || !b) return;
  const out = await api(`/api/runs/${a}/compare/${b}`);
  $("compare-out").innerHTML = `<h3>${a} against ${b}</h3>` + table(out.kpis, ["kpi", "a", "b", "delta", "relative"]) +
    "<h4>purchases that changed (cards)</h4>" + table(out.purchases) +
    (Object.keys(out.no_plan || {}).length ? `<p class=error>${JSON.stringify(out.no_plan)}</p>` : "");
}

async function sweep() {
  const path = $("sweep-path").value.trim();
  const values = $("sweep-values").value.split(",").map((v) => parseValue(v.trim()));
  const ids = [];
  for (const value of values) {
    const overrides = { ...collectOverrides(), [path]: value };
    const id = await submit(overrides);
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
$("solve").addEventListener("click", () => submit(collectOverrides()));
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
  } catch (error) { $("instance-error").textContent = error.error || JSON.stringify(error); }
});
loadInstances().then(refreshRuns);
