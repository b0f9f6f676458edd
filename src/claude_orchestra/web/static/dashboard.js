// claude-orchestra's dashboard: draws what the run pushes as server-sent events.
// No framework, no build step. Text goes in through textContent only (never as HTML):
// task names and screens come from the instances, which may be hostile.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const COLUMNS = ["name", "role", "state", "task", "lastEvent", "credential", "cost", "rate", "toMerge"];
let skew = 0; // browser clock minus server clock, in seconds
let latest = null;

function $(id) { return document.getElementById(id); }

function el(tag, attributes, text) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes || {})) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function serverNow() { return Date.now() / 1000 - skew; }

function ago(at) { return at == null ? "-" : `${Math.max(0, serverNow() - at).toFixed(0)} s ago`; }

function minutes(seconds) {
  seconds = Math.max(0, seconds);
  return seconds >= 90 ? `${(seconds / 60).toFixed(0)} min` : `${seconds.toFixed(0)} s`;
}

function clock(at) { return new Date(at * 1000).toLocaleTimeString([], { hour12: false }); }

function cell(instance, column) {
  switch (column) {
    case "lastEvent": return `${instance.lastEvent || "-"} ${ago(instance.lastEventAt)}`;
    case "credential":
      return instance.coolingUntil
        ? `${instance.credential} (cooling ${minutes(instance.coolingUntil - serverNow())})`
        : instance.credential;
    case "toMerge": return instance.toMerge ? String(instance.toMerge) : "";
    default: return String(instance[column] ?? "");
  }
}

function drawInstances(run) {
  const body = $("instances").tBodies[0];
  const rows = new Map([...body.rows].map((row) => [row.dataset.name, row]));
  run.instances.forEach((instance, index) => {
    let row = rows.get(instance.name);
    if (!row) {
      row = el("tr", { "data-name": instance.name });
      for (const column of COLUMNS) {
        const numeric = ["cost", "rate", "toMerge"].includes(column);
        row.append(el("td", { class: numeric ? `${column} num` : column }));
      }
    }
    rows.delete(instance.name);
    if (body.rows[index] !== row) body.insertBefore(row, body.rows[index] || null);
    COLUMNS.forEach((column, i) => {
      const text = cell(instance, column);
      if (row.cells[i].textContent !== text) row.cells[i].textContent = text;
    });
    row.cells[2].dataset.state = instance.state;
  });
  for (const gone of rows.values()) gone.remove();
}

function drawTimeline(run) {
  const list = $("timeline");
  list.replaceChildren();
  if (!run.timeline.length) list.append(el("li", { class: "empty" }, "no merge or incident yet"));
  for (const entry of [...run.timeline].reverse()) {
    const item = el("li", { "data-kind": entry.kind });
    item.append(el("time", {}, clock(entry.at)), el("span", { class: "summary" }, entry.summary));
    if (entry.detail) item.append(el("span", { class: "detail", title: entry.detail }, entry.detail));
    list.append(item);
  }
}

function drawCost(run) {
  const box = $("cost");
  const width = 600, height = 220, left = 56, right = 10, top = 10, bottom = 26;
  const points = run.cost.points;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `spend over time: $${run.cost.total.toFixed(4)}`);
  const start = run.startedAt;
  const end = Math.max(run.running ? serverNow() : run.updatedAt, start + 60,
    ...points.map((p) => p[0]));
  const top_usd = Math.max(run.cost.budget || 0, ...points.map((p) => p[1]), 0.01) * 1.05;
  const x = (t) => left + ((t - start) / (end - start)) * (width - left - right);
  const y = (usd) => height - bottom - (usd / top_usd) * (height - top - bottom);
  const line = (x1, y1, x2, y2, cls) => {
    const node = document.createElementNS(SVG, "line");
    Object.entries({ x1, y1, x2, y2, class: cls }).forEach(([k, v]) => node.setAttribute(k, v));
    svg.append(node);
  };
  const label = (lx, ly, text, anchor) => {
    const node = document.createElementNS(SVG, "text");
    node.setAttribute("x", lx); node.setAttribute("y", ly);
    node.setAttribute("text-anchor", anchor);
    node.textContent = text;
    svg.append(node);
  };
  line(left, y(0), width - right, y(0), "axis");
  line(left, top, left, y(0), "axis");
  label(left - 6, y(0) + 4, "$0", "end");
  label(left - 6, top + 8, `$${top_usd.toFixed(top_usd < 1 ? 3 : 2)}`, "end");
  label(left, height - 6, clock(start), "start");
  label(width - right, height - 6, clock(end), "end");
  if (run.cost.budget != null) line(left, y(run.cost.budget), width - right, y(run.cost.budget), "budget");
  if (points.length) {
    // A step line: the spend holds until the next point, and to now while the run goes on.
    const steps = [];
    points.forEach(([t, usd], i) => {
      if (i) steps.push(`${x(t)},${y(points[i - 1][1])}`);
      steps.push(`${x(t)},${y(usd)}`);
    });
    steps.push(`${x(end)},${y(points[points.length - 1][1])}`);
    const path = document.createElementNS(SVG, "polyline");
    path.setAttribute("class", "spend");
    path.setAttribute("points", steps.join(" "));
    path.dataset.points = String(points.length);
    svg.append(path);
  }
  box.replaceChildren(svg);
}

function drawUpdated(run) {
  $("updated").textContent = `updated ${ago(run.updatedAt)}`;
}

function drawRun(run) {
  latest = run;
  skew = Date.now() / 1000 - run.now;
  drawUpdated(run);
  $("headline").textContent = run.headline.join(" · ");
  $("headline").dataset.state = run.state;
  drawInstances(run);
  drawTimeline(run);
  drawCost(run);
}

function drawScreens(data) {
  const box = $("screens");
  const shown = new Map([...box.children].map((card) => [card.dataset.name, card]));
  for (const [name, screen] of Object.entries(data.screens)) {
    let card = shown.get(name);
    if (!card) {
      card = el("div", { class: "screen", "data-name": name });
      const title = el("h3", {}, name);
      title.append(el("span", { class: "dim" }));
      card.append(title, el("pre"));
      box.append(card);
    }
    shown.delete(name);
    card.querySelector("h3 .dim").textContent = screen.reading ? ` · ${screen.reading}` : "";
    const pre = card.querySelector("pre");
    const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.textContent = screen.text || "(no screen: the pane is gone)";
    if (atEnd) pre.scrollTop = pre.scrollHeight;
  }
  for (const gone of shown.values()) gone.remove();
}

function connection(state, text) {
  $("connection").dataset.state = state;
  $("connection").textContent = text;
}

function start() {
  const source = new EventSource("events");
  source.addEventListener("open", () => connection("live", "live"));
  source.addEventListener("run", (event) => drawRun(JSON.parse(event.data)));
  source.addEventListener("screens", (event) => drawScreens(JSON.parse(event.data)));
  source.addEventListener("end", () => {
    source.close();
    connection("ended", "the run has ended; this page no longer updates");
  });
  source.addEventListener("error", () => {
    if (source.readyState !== EventSource.CLOSED) connection("lost", "reconnecting…");
  });
  // Ages move with time, not with events: redraw them once a second.
  setInterval(() => {
    if (!latest) return;
    drawInstances(latest);
    drawUpdated(latest);
  }, 1000);
}

document.addEventListener("DOMContentLoaded", start);
