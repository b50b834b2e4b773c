// The lineage dashboard: every figure comes from the GraphQL API at /graphql, with the
// reader token entered in the page (none is needed on loopback when the server has none).
"use strict";

const TOKEN_KEY = "lineage-token";
const POINTS = 8; // points of the event log charted for "when did taint enter"
const state = { mode: "PRECISE", selected: null, head: 0 };

function token() { return localStorage.getItem(TOKEN_KEY) || ""; }

async function gql(query, variables = {}) {
  const headers = { "Content-Type": "application/json" };
  if (token()) headers.Authorization = "Bearer " + token();
  const response = await fetch("/graphql", {
    method: "POST", headers, body: JSON.stringify({ query, variables }),
  });
  const body = await response.json().catch(() => ({ errors: [{ message: response.statusText }] }));
  if (body.errors && body.errors.length) throw new Error(body.errors[0].message);
  if (!response.ok || !body.data) {
    const hint = response.status === 401 ? ": enter a reader token above" : "";
    throw new Error((body.error || response.statusText || "no answer") + hint);
  }
  return body.data;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child));
  return node;
}

function showError(error) {
  const box = document.getElementById("error");
  box.hidden = !error;
  box.textContent = error ? String(error.message || error) : "";
}

function graphiqlLink(query) {
  return el("a", { href: "/graphql?query=" + encodeURIComponent(query), class: "muted" }, "query");
}

// -- datasets ---------------------------------------------------------------------------

const STATS = `query Stats($mode: Mode!) { stats(mode: $mode) {
  headSeq headTime policyHash asOf taintedByDataset { dataset tainted examples } } }`;
const GATE = `query Gate($dataset: String!, $mode: Mode!, $asOf: String) {
  gate(dataset: $dataset, mode: $mode, asOf: $asOf) {
    dataset passed policyHash asOf counts { examples tainted unknown clean }
    byTool { tool model examples } byRepo { repo tainted unknown clean } } }`;

async function loadDatasets() {
  const { stats } = await gql(STATS, { mode: state.mode });
  state.head = stats.headSeq;
  document.getElementById("freshness").textContent =
    `head event ${stats.headSeq}` + (stats.headTime ? ` at ${stats.headTime}` : "") +
    ` · policy ${stats.policyHash || "none in force"}`;
  const body = document.querySelector("#datasets tbody");
  body.replaceChildren();
  const reports = await Promise.all(stats.taintedByDataset.map(
    (d) => gql(GATE, { dataset: d.dataset, mode: state.mode }).then((r) => r.gate),
  ));
  for (const gate of reports) {
    const c = gate.counts;
    const verdict = gate.passed ? "PASSED" : "FAILED";
    body.append(el("tr", { "data-dataset": gate.dataset, onclick: () => select(gate) },
      el("td", {}, gate.dataset),
      el("td", {}, el("span", { class: "status " + verdict }, verdict)),
      el("td", { class: "num", "data-count": "examples" }, c.examples),
      el("td", { class: "num", "data-count": "tainted" }, c.tainted),
      el("td", { class: "num", "data-count": "unknown" }, c.unknown),
      el("td", { class: "num", "data-count": "clean" }, c.clean),
      el("td", { class: "muted" }, `event ${gate.asOf}`)));
  }
  const again = reports.find((g) => g.dataset === (state.selected && state.selected.dataset));
  const first = again || reports.find((g) => !g.passed) || reports[0];
  if (first) await select(first);
  document.body.dataset.loaded = "datasets";
}

// -- breakdowns -------------------------------------------------------------------------

function bars(container, rows) {
  // rows: [{label, parts: [{value, color}]}]; a horizontal stacked bar per row
  const width = 440, row = 22, left = 150;
  const max = Math.max(1, ...rows.map((r) => r.parts.reduce((a, p) => a + p.value, 0)));
  const svgNS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(svgNS, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${Math.max(1, rows.length) * row + 4}`);
  rows.forEach((r, i) => {
    const label = document.createElementNS(svgNS, "text");
    label.setAttribute("x", 0); label.setAttribute("y", i * row + 15);
    label.setAttribute("class", "bar-label");
    label.textContent = r.label.length > 24 ? r.label.slice(0, 23) + "…" : r.label;
    svg.append(label);
    let x = left;
    for (const p of r.parts) {
      const w = ((width - left - 90) * p.value) / max;
      const rect = document.createElementNS(svgNS, "rect");
      rect.setAttribute("x", x); rect.setAttribute("y", i * row + 3);
      rect.setAttribute("width", Math.max(w, 0)); rect.setAttribute("height", row - 6);
      rect.setAttribute("fill", p.color);
      svg.append(rect);
      x += w;
    }
    const total = document.createElementNS(svgNS, "text");
    total.setAttribute("x", x + 4); total.setAttribute("y", i * row + 15);
    total.setAttribute("class", "bar-label");
    total.textContent = r.note || r.parts.map((p) => p.value).join(" / ");
    svg.append(total);
  });
  container.replaceChildren(rows.length ? svg : el("p", { class: "muted" }, "nothing tainted"));
}

const RED = "#cf222e", YELLOW = "#d4a72c", GREEN = "#2da44e";

async function select(gate) {
  state.selected = gate;
  for (const tr of document.querySelectorAll("#datasets tr[data-dataset]")) {
    tr.classList.toggle("selected", tr.dataset.dataset === gate.dataset);
  }
  document.getElementById("breakdown-of").textContent = `${gate.dataset}, ${state.mode.toLowerCase()}`;
  bars(document.getElementById("by-tool"), gate.byTool.map((t) => ({
    label: `${t.tool || "?"} ${t.model || "(model unknown)"}`,
    parts: [{ value: t.examples, color: RED }],
  })));
  bars(document.getElementById("by-repo"), gate.byRepo.map((r) => ({
    label: r.repo,
    parts: [{ value: r.tainted, color: RED }, { value: r.unknown, color: YELLOW },
            { value: r.clean, color: GREEN }],
  })));
  const points = [...new Set(Array.from({ length: POINTS }, (_, i) =>
    Math.max(1, Math.round((state.head * (i + 1)) / POINTS))))];
  const rows = [];
  for (const seq of points) {
    try {
      const { gate: g } = await gql(GATE, { dataset: gate.dataset, mode: state.mode, asOf: String(seq) });
      rows.push({ label: `event ${seq}`, parts: [{ value: g.counts.tainted, color: RED }] });
    } catch (error) { // no policy, or the dataset not yet built, at that point
      const note = /no policy/.test(error.message) ? "no policy yet" : "not built yet";
      rows.push({ label: `event ${seq}`, parts: [], note });
    }
  }
  bars(document.getElementById("over-log"), rows);
}

// -- an example -------------------------------------------------------------------------

const VERDICT = `query Verdict($example: String!, $mode: Mode!) {
  verdict(example: $example, mode: $mode) {
    example status mode policyHash asOf sources reason
    waivers { node reason approver expires }
    paths(first: 1) { steps { node { key kind } edge span { start end unit }
      evidence { seq source id origin } lines } } } }`;
const EVENT = `query Event($after: Int!) { events(after: $after, first: 1) {
  events { seq id source type origin payload receivedAt } } }`;

// nodes of the witness path drawn by kind
const KIND_COLORS = {
  output: "#ffebe9", session: "#fbefff", commit: "#fff8c5", file_version: "#ddf4ff",
  dataset: "#dafbe1", example: "#dafbe1", other: "#f6f8fa",
};

function mermaidText(text) {
  // the characters Mermaid would read as markup or as a quoted label's end, as entity codes
  return String(text).replace(/["#<>&]/g, (c) => `#${c.charCodeAt(0)};`);
}

function spanText(span) {
  if (!span) return "";
  return ` [${span.unit === "line" ? "lines" : "bytes"} ${span.start}-${span.end ?? "end"}]`;
}

async function lookUp(example) {
  const [precise, strict] = await Promise.all(["PRECISE", "STRICT"].map(
    (mode) => gql(VERDICT, { example, mode }).then((r) => r.verdict)));
  const box = document.getElementById("verdicts");
  box.replaceChildren(...[precise, strict].map((v) => el("p", {},
    el("span", { class: "status " + v.status }, v.status), ` ${v.mode.toLowerCase()}: ${v.example}`,
    v.sources.length ? ` ← ${v.sources.join(", ")}` : "",
    v.reason ? el("span", { class: "muted" }, ` (${v.reason})`) : "",
    ...v.waivers.map((w) => el("span", { class: "muted" }, ` waived: ${w.node} by ${w.approver}`)))));
  box.append(graphiqlLink(`{ verdict(example: ${JSON.stringify(example)}) { status sources ` +
    "paths(first: 1) { steps { node { key kind } edge span { start end unit } } } } }"));
  const path = (precise.paths[0] || strict.paths[0] || { steps: [] }).steps;
  await drawPath(path);
  document.body.dataset.loaded = "example";
}

async function drawPath(steps) {
  const box = document.getElementById("witness");
  box.replaceChildren();
  if (!steps.length) return;
  const lines = ["flowchart TD"];
  for (const [kind, color] of Object.entries(KIND_COLORS)) {
    lines.push(`  classDef ${kind} fill:${color},stroke:#57606a`);
  }
  steps.forEach((s, n) => {
    const kind = s.node.kind in KIND_COLORS ? s.node.kind : "other";
    lines.push(`  n${n}["${mermaidText(s.node.kind)}<br/>${mermaidText(s.node.key)}"]:::${kind}`);
    if (n) lines.push(`  n${n - 1} -->|"${mermaidText((s.edge || "") + spanText(s.span))}"| n${n}`);
  });
  const { svg } = await mermaid.render("witness-" + Date.now(), lines.join("\n"));
  const drawing = el("div", { id: "witness-drawing" });
  drawing.innerHTML = svg;
  const list = el("ol", { class: "steps" });
  for (const s of steps) {
    const restricted = (s.lines || []).map((iv) =>
      el("span", { class: "lines" }, `lines ${iv.start}-${iv.end ?? "end"} (${iv.evidence})`));
    list.append(el("li", {},
      `${s.edge ? s.edge + spanText(s.span) + " → " : ""}${s.node.kind} ${s.node.key} `,
      ...restricted,
      s.evidence && s.evidence.seq ? el("button", { onclick: () => showEvent(s.evidence.seq) },
        `evidence: event ${s.evidence.seq}`) : ""));
  }
  box.append(el("h3", {}, "witness path"), drawing, list);
}

async function showEvent(seq) {
  const { events } = await gql(EVENT, { after: seq - 1 });
  const pre = document.getElementById("evidence");
  pre.hidden = false;
  pre.textContent = JSON.stringify(events.events[0], null, 2);
}

// -- policy and waivers -----------------------------------------------------------------

const POLICIES = `{ policies { version hash seq setAt toml
  waivers { node reason approver expires expired } } }`;

async function loadPolicy() {
  const { policies } = await gql(POLICIES);
  const box = document.getElementById("policy");
  box.replaceChildren();
  if (!policies.length) {
    box.append(el("p", { class: "muted" }, "no policy set: run `lineage policy set FILE.toml`"));
    return;
  }
  const current = policies[policies.length - 1];
  box.append(el("p", {}, `in force: version ${current.version}, ${current.hash}, set at event ${current.seq} (${current.setAt})`));
  const waivers = el("table", { id: "waivers" }, el("tr", {},
    el("th", {}, "waived node"), el("th", {}, "reason"), el("th", {}, "approver"), el("th", {}, "expires")));
  for (const w of current.waivers) {
    waivers.append(el("tr", {}, el("td", {}, w.node), el("td", {}, w.reason),
      el("td", {}, w.approver),
      el("td", w.expired ? { class: "expired" } : {}, (w.expires || "never") + (w.expired ? " (expired)" : ""))));
  }
  box.append(el("h3", {}, "waivers"), current.waivers.length ? waivers : el("p", { class: "muted" }, "none"));
  box.append(el("h3", {}, "history"), el("ul", {}, ...policies.slice().reverse().map((p) =>
    el("li", {}, `version ${p.version}: ${p.hash} at event ${p.seq}, ${p.waivers.length} waivers`))));
  box.append(el("details", {}, el("summary", {}, "policy TOML"), el("pre", {}, current.toml)));
}

// -- wiring -----------------------------------------------------------------------------

async function refresh() {
  try {
    showError(null);
    await Promise.all([loadDatasets(), loadPolicy()]);
  } catch (error) {
    showError(error);
  }
}

document.getElementById("token").value = token();
document.getElementById("token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  localStorage.setItem(TOKEN_KEY, document.getElementById("token").value.trim());
  refresh();
});
document.getElementById("mode").addEventListener("change", (e) => {
  state.mode = e.target.value;
  refresh();
});
document.getElementById("example-form").addEventListener("submit", (e) => {
  e.preventDefault();
  lookUp(document.getElementById("example").value.trim()).catch(showError);
});
mermaid.initialize({ startOnLoad: false, securityLevel: "strict" });
refresh();
