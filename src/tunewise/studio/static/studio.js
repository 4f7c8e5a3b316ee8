// tunewise studio: small vanilla JS, no build step, no network beyond this server.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
const COLORS = ["#1d4ed8", "#dc2626", "#059669", "#9333ea", "#d97706", "#0891b2"];

function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") e.textContent = v;
    else if (k === "class") e.className = v;
    else e.setAttribute(k, v);
  }
  for (const k of kids) if (k != null) e.append(k);
  return e;
}

function say(msg) {
  const s = $("#status");
  if (s) s.textContent = msg;
}

async function api(method, url, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(url, opts);
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error((data.error && data.error.message) || `HTTP ${r.status}`);
  return data;
}

const cut = (t, n = 160) => (t.length > n ? t.slice(0, n) + "…" : t);

function fmt(v, d = 4) {
  return typeof v === "number" ? v.toFixed(d) : "–";
}

// -- an inline SVG line chart ---------------------------------------------------------------
function svgEl(tag, attrs) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function drawChart(svg, series, yLabel) {
  const W = 640, H = 260, L = 48, R = 130, T = 12, B = 30;
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const pts = series.flatMap((s) => s.points);
  svg.dataset.points = String(pts.length);
  if (!pts.length) {
    const t = svgEl("text", { x: W / 2, y: H / 2, "text-anchor": "middle", fill: "#475569" });
    t.textContent = "no points yet";
    svg.append(t);
    return;
  }
  const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
  let [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
  const sx = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const sy = (y) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  svg.append(svgEl("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#94a3b8" }));
  svg.append(svgEl("line", { x1: L, y1: T, x2: L, y2: H - B, stroke: "#94a3b8" }));
  for (const [v, y] of [[y1, sy(y1)], [y0, sy(y0)]]) {
    const t = svgEl("text", { x: L - 4, y: y + 4, "text-anchor": "end", "font-size": 10, fill: "#475569" });
    t.textContent = v.toPrecision(3);
    svg.append(t);
  }
  for (const [v, x] of [[x0, sx(x0)], [x1, sx(x1)]]) {
    const t = svgEl("text", { x, y: H - B + 14, "text-anchor": "middle", "font-size": 10, fill: "#475569" });
    t.textContent = String(v);
    svg.append(t);
  }
  const xl = svgEl("text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle", "font-size": 11, fill: "#475569" });
  xl.textContent = "step" + (yLabel ? ` · ${yLabel}` : "");
  svg.append(xl);
  series.forEach((s, i) => {
    const color = s.color || COLORS[i % COLORS.length];
    if (s.points.length) {
      const d = s.points.map((p, j) => `${j ? "L" : "M"}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join("");
      const path = svgEl("path", { d, fill: "none", stroke: color, "stroke-width": 2, class: "series" });
      path.setAttribute("data-name", s.name);
      svg.append(path);
      if (s.points.length === 1) svg.append(svgEl("circle", { cx: sx(s.points[0][0]), cy: sy(s.points[0][1]), r: 3, fill: color }));
    }
    const ly = T + 14 + i * 16;
    svg.append(svgEl("rect", { x: W - R + 8, y: ly - 9, width: 10, height: 10, fill: color }));
    const t = svgEl("text", { x: W - R + 22, y: ly, "font-size": 11, fill: "#0f172a" });
    t.textContent = s.name.slice(0, 18);
    svg.append(t);
  });
}

// -- buttons that POST and show their command line -----------------------------------------
function wireActions() {
  for (const b of $$("button[data-cli]")) {
    b.after(el("code", { class: "btn-cli", text: "$ " + b.dataset.cli }));
  }
  for (const b of $$("button[data-post]")) {
    b.addEventListener("click", async () => {
      b.disabled = true;
      try {
        const body = b.dataset.body ? JSON.parse(b.dataset.body) : undefined;
        const res = await api("POST", b.dataset.post, body);
        say(res.command ? `started: ${res.command}` : "done");
        if (b.hasAttribute("data-reload") || b.id === "resume") setTimeout(() => location.reload(), 600);
      } catch (e) {
        say(`error: ${e.message}`);
      } finally {
        b.disabled = false;
      }
    });
  }
}

// -- runs page: live status of running runs and jobs, updated in place ----------------------
function headText(h) {
  if (!h) return "no test metrics";
  let t = `${h.name} ${fmt(h.value)}`;
  if (h.ci) t += ` (95% CI ${fmt(h.ci[0])}–${fmt(h.ci[1])})`;
  for (const [b, v] of Object.entries(h.baselines)) t += `  ${b} ${fmt(v)}`;
  return t + (h.seeds > 1 ? `  ${h.seeds} seeds` : "  single seed");
}

function runsPage() {
  const live = () => $$("[data-status-of]").some((b) => b.textContent === "running") || $$(".jobs tbody tr").length;
  if (!live()) return;
  const timer = setInterval(async () => {
    try {
      const d = await api("GET", "/api/runs");
      const active = new Map(d.jobs.map((j) => [String(j.id), j.state]));
      for (const tr of $$(".jobs tbody tr")) {
        const state = active.get(tr.dataset.job) || "ended";
        tr.dataset.state = state;
        tr.children[2].textContent = state;
      }
      let unseen = 0;
      for (const r of d.runs) {
        const badge = $(`[data-status-of="${r.id}"]`);
        if (!badge) { unseen += 1; continue; }
        if (badge.textContent !== r.status) {
          badge.textContent = r.status;
          badge.className = `badge state-${r.status}`;
          badge.closest("tr").querySelector(".head").textContent = headText(r.headline);
        }
      }
      const note = $("#new-runs");
      if (unseen && note) { note.hidden = false; note.firstElementChild.textContent = `${unseen} new run(s): show them`; }
      if (!live() && !active.size) clearInterval(timer);
    } catch (e) { /* the next tick tries again */ }
  }, 2000);
}

// -- run page: live curve (server-sent events) and predictions -----------------------------
function curveSeries(records) {
  const loss = [], evals = {};
  for (const r of records) {
    if (r.type === "train" && typeof r.loss === "number") loss.push([r.step, r.loss]);
    if (r.type === "eval" && (r.split || "dev") === "dev") {
      for (const k of ["accuracy", "macro_f1", "micro_f1", "rmse", "perplexity"]) {
        if (typeof r[k] === "number") (evals[k] = evals[k] || []).push([r.step, r[k]]);
      }
    }
  }
  return [{ name: "train loss", points: loss }, ...Object.entries(evals).map(([k, p]) => ({ name: `dev ${k}`, points: p }))];
}

function runPage() {
  const svg = $("#curve"), dev = $("#curve-dev");
  const records = [];
  const draw = () => {
    const [loss, ...evals] = curveSeries(records);
    drawChart(svg, [loss], "train loss");
    drawChart(dev, evals, "dev");
  };
  const src = new EventSource(`/api/runs/${svg.dataset.run}/curve`);
  src.onmessage = (ev) => {
    records.push(...JSON.parse(ev.data));
    draw();
  };
  src.addEventListener("end", (ev) => {
    src.close();
    draw();
    svg.dataset.done = "1";
    const status = JSON.parse(ev.data).status;
    const badge = $("#run-status");
    if (badge && badge.textContent !== status) setTimeout(() => location.reload(), 300);
  });
  draw();
  const load = () => predictions($("#predictions").dataset.run, $("#pred-split").value, $("#pred-errors").checked);
  $("#pred-split").addEventListener("change", load);
  $("#pred-errors").addEventListener("change", load);
  load();
}

async function predictions(runId, split, errors) {
  const box = $("#predictions");
  try {
    const d = await api("GET", `/api/runs/${runId}/predictions?split=${split}&errors=${errors}`);
    $("#pred-summary").textContent = d.total
      ? `${d.total} ${split} rows, ${d.errors} wrong; showing ${d.rows.length} ${d.shown === "errors" ? "mistakes" : "rows"}.`
      : `no predictions/${split}.jsonl`;
    box.replaceChildren();
    if (!d.rows.length) return;
    const keys = Object.keys(d.rows[0]).filter((k) => k !== "error" && k !== "row");
    const head = el("tr", {}, ...keys.map((k) => el("th", { scope: "col", text: k })));
    const body = d.rows.map((r) => el("tr", { class: r.error ? "err" : "" },
      ...keys.map((k) => el("td", { text: typeof r[k] === "object" ? JSON.stringify(r[k]) : String(r[k] ?? "") }))));
    box.append(el("table", {}, el("thead", {}, head), el("tbody", {}, ...body)));
  } catch (e) {
    $("#pred-summary").textContent = e.message;
  }
}

// -- new run ------------------------------------------------------------------------------
function formBody() {
  const v = (id) => { const x = $("#" + id); return x && x.value.trim() !== "" ? x.value.trim() : null; };
  const num = (id) => (v(id) === null ? null : Number(v(id)));
  const body = {
    name: v("name") || "new-run", train: v("train") || "", dev: v("dev"), test: v("test"),
    task: v("task"), model: v("model") || "minilm", method: v("method"),
    text_column: v("text_column"), text_pair_column: v("text_pair_column"), label_column: v("label_column"),
    epochs: num("epochs"), max_steps: num("max_steps"), batch_size: num("batch_size"), lr: num("lr"),
    max_length: num("max_length"), seed: num("seed"), seeds: num("seeds"),
    extra: (v("extra") || "").split("\n").map((s) => s.trim()).filter(Boolean),
  };
  return body;
}

function showPreview(p) {
  const box = $("#preview");
  box.replaceChildren(el("p", { class: "muted", text: `${p.path}: ${p.total} rows; the first ${p.rows.length}:` }));
  if (p.columns.length) {
    const head = el("tr", {}, ...p.columns.map((c) => el("th", { scope: "col", text: c })));
    const rows = p.rows.map((r) => el("tr", {}, ...p.columns.map((c) => el("td", { text: cut(typeof r[c] === "object" ? JSON.stringify(r[c]) : String(r[c] ?? "")) }))));
    box.append(el("table", { id: "preview-table" }, el("thead", {}, head), el("tbody", {}, ...rows)));
  } else if (p.lines) {
    box.append(el("pre", { text: p.lines.join("\n") }));
  }
  for (const [id, guess, none] of [["text_column", p.text_column, "text"], ["text_pair_column", null, "none"], ["label_column", p.label_column, "label"]]) {
    const s = $("#" + id);
    s.replaceChildren(el("option", { value: "", text: none }), ...p.columns.map((c) => el("option", { value: c, text: c })));
    if (guess) s.value = guess;
  }
  updateCommand();
}

let cmdTimer = null;
function updateCommand() {
  clearTimeout(cmdTimer);
  cmdTimer = setTimeout(async () => {
    try {
      const d = await api("POST", "/api/command", formBody());
      $("#cli-line").textContent = d.command || `tunewise train ...   (${d.incomplete})`;
    } catch (e) {
      $("#cli-line").textContent = `tunewise train ...   (${e.message})`;
    }
  }, 150);
}

function newPage() {
  $("#name").value = `run-${new Date().toISOString().slice(0, 19).replace(/[-:T]/g, "")}`;
  $("#dataset").addEventListener("change", async (e) => {
    if (!e.target.value) return;
    say(`preparing ${e.target.value}…`);
    try {
      const d = await api("POST", `/api/datasets/${encodeURIComponent(e.target.value)}`);
      $("#train").value = d.files.train; $("#dev").value = d.files.dev; $("#test").value = d.files.test;
      showPreview(d.preview);
      say(`dataset ready ($ ${d.command})`);
    } catch (err) { say(`error: ${err.message}`); }
  });
  $("#upload").addEventListener("change", async (e) => {
    const f = e.target.files[0];
    if (!f) return;
    try {
      const r = await fetch(`/api/upload?filename=${encodeURIComponent(f.name)}`, { method: "POST", body: f });
      const d = await r.json();
      if (!r.ok) throw new Error(d.error.message);
      $("#train").value = d.path; $("#dev").value = ""; $("#test").value = "";
      showPreview(d.preview);
    } catch (err) { say(`error: ${err.message}`); }
  });
  $("#train").addEventListener("change", async () => {
    try { showPreview(await api("GET", `/api/preview?path=${encodeURIComponent($("#train").value)}`)); } catch (err) { say(`error: ${err.message}`); }
  });
  $("#new-run").addEventListener("input", updateCommand);
  $("#new-run").addEventListener("change", updateCommand);
  $("#run-doctor").addEventListener("click", async () => {
    const box = $("#doctor");
    box.replaceChildren(el("p", { text: "checking…" }));
    try {
      const d = await api("POST", "/api/doctor", formBody());
      const items = d.findings.filter((f) => !f.ok || f.severity === "error").map((f) =>
        el("li", { class: f.ok ? "ok" : "bad", text: `${f.check} (${f.severity}): ${f.title}` }));
      box.replaceChildren(el("p", { text: `${d.errors.length} error(s), ${d.findings.filter((f) => !f.ok).length} finding(s) to look at ($ ${d.command})` }),
        el("ul", { class: "findings", id: "doctor-findings" }, ...(items.length ? items : [el("li", { text: "every check passed" })])));
    } catch (err) { box.replaceChildren(el("p", { class: "error", text: err.message })); }
  });
  $("#new-run").addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const d = await api("POST", "/api/jobs", formBody());
      $("#launch-result").textContent = `queued job ${d.job.id}: ${d.command}`;
      location.href = `/watch/${d.job.id}`;
    } catch (err) { $("#launch-result").textContent = `error: ${err.message}`; }
  });
  updateCommand();
}

function watchPage() {
  const w = $("#watch");
  if (["queued", "running"].includes(w.dataset.state)) setTimeout(() => location.reload(), 1000);
}

// -- compare ------------------------------------------------------------------------------
function comparePage() {
  const svg = $("#compare-curve");
  if (!svg) return;
  const runs = JSON.parse(svg.dataset.series);
  drawChart(svg, runs.map((r) => ({ name: `${r.id} ${r.name}`, points: r.loss })), "train loss");
}

// -- playground ---------------------------------------------------------------------------
function renderResult(box, d) {
  const r = d.result;
  box.replaceChildren();
  if (r.entities) {
    const text = $("#play-text").value;
    const p = el("p", { class: "entities" });
    let at = 0;
    for (const e of r.entities) {
      p.append(text.slice(at, e.start));
      p.append(el("mark", { title: `${e.type} ${fmt(e.score, 2)}` }, text.slice(e.start, e.end), el("small", { text: e.type })));
      at = e.end;
    }
    p.append(text.slice(at));
    box.append(p, el("p", { class: "muted", text: `${r.entities.length} entit${r.entities.length === 1 ? "y" : "ies"}` }));
  } else if (r.scores) {
    const label = r.label !== undefined ? r.label : (r.labels || []).join(", ");
    box.append(el("p", {}, "prediction: ", el("strong", { class: "label", text: label }), r.score !== undefined ? ` (${fmt(r.score, 3)})` : ""));
    if (r.abstain !== undefined || r.abstained !== undefined) box.append(el("p", { class: "abstain", text: `abstains: ${r.abstain ?? r.abstained}` }));
    const rows = Object.entries(r.scores).sort((a, b) => b[1] - a[1]).map(([k, v]) =>
      el("tr", {}, el("th", { scope: "row", text: k }), el("td", {}, el("span", { class: "bar", style: `width:${Math.round(v * 120)}px` }), fmt(v, 3))));
    box.append(el("table", {}, el("tbody", {}, ...rows)));
  } else {
    box.append(el("pre", { text: JSON.stringify(r, null, 2) }));
  }
  box.append(el("code", { class: "btn-cli", text: "$ " + d.command }));
}

async function chat(box, runId, text) {
  const out = el("div", { class: "chat" });
  box.replaceChildren(out);
  const r = await fetch("/api/chat", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ run: Number(runId), messages: [{ role: "user", content: text }] }),
  });
  if (!r.ok) { out.textContent = (await r.json()).error.message; return; }
  const reader = r.body.getReader(), dec = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const ev = buf.slice(0, i); buf = buf.slice(i + 2);
      if (ev.startsWith("event: end")) { out.dataset.done = "1"; continue; }
      const line = ev.split("\n").find((l) => l.startsWith("data: "));
      if (line) out.textContent += JSON.parse(line.slice(6));
    }
  }
  out.dataset.done = "1";
}

function playgroundPage() {
  $("#play").addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = $("#play-text").value;
    await Promise.all(["a", "b"].map(async (side) => {
      const sel = $(`#run-${side}`), box = $(`#answer-${side}`);
      if (!sel.value) { box.replaceChildren(); return; }
      box.replaceChildren(el("p", { class: "muted", text: "thinking…" }));
      try {
        if (sel.selectedOptions[0].dataset.generates === "1") { await chat(box, sel.value, text); return; }
        renderResult(box, await api("POST", "/api/predict", { run: Number(sel.value), text }));
      } catch (err) {
        box.replaceChildren(el("p", { class: "error", text: err.message }));
      }
    }));
  });
}

document.addEventListener("DOMContentLoaded", () => {
  wireActions();
  const page = document.body.dataset.page;
  ({ runs: runsPage, run: runPage, new: newPage, watch: watchPage, compare: comparePage, playground: playgroundPage }[page] || (() => {}))();
});
