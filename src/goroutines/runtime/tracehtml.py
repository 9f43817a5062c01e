"""`goroutines trace html`: one self-contained page that draws a trace's P timeline.

The page needs no network: the data, the script and the style are inline. It
draws one row per P on a canvas, a slice for each stretch of time a goroutine
ran there (coloured by function, labelled `G7 worker` where it is wide enough),
a time axis and a legend. Mouse wheel or the +/- buttons zoom, dragging pans,
clicking a slice shows its goroutine, and the summary of the trace is below.

Once drawn, the page records what it drew on <body> (data-prows, data-slices,
data-drawn, data-goroutines), which is how the tests check it in a headless
browser.
"""

from __future__ import annotations

import html
import json
from typing import Any

from .tracetools import Model, shortname, summary


def pagedata(model: Model, title: str) -> dict[str, Any]:
    """What the page's script needs: slices, goroutines, functions, steals."""
    fns = sorted({shortname(g.fn) for g in model.gs.values()})
    index = {fn: i for i, fn in enumerate(fns)}
    return {
        "title": title,
        "duration": model.duration,
        "nprocs": model.nprocs,
        "fns": fns,
        "gs": {
            g.goid: [
                index[shortname(g.fn)],
                g.createdat,
                g.parent,
                g.time["running"],
                g.time["blocked"],
            ]
            for g in model.gs.values()
        },
        "slices": [[s.p, s.start, s.end, s.goid, s.why] for s in model.slices],
        "steals": [list(s) for s in model.steals],
    }


def render(model: Model, title: str) -> str:
    """The page for a model, as one HTML string."""
    data = json.dumps(pagedata(model, title), separators=(",", ":")).replace("</", "<\\/")
    return (
        _PAGE.replace("{{title}}", html.escape(title))
        .replace("{{summary}}", html.escape(summary(model)))
        .replace("{{data}}", data)
    )


_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>goroutines trace: {{title}}</title>
<style>
  body { font: 13px system-ui, sans-serif; margin: 0; color: #222; background: #fafafa; }
  header { padding: 8px 12px; background: #fff; border-bottom: 1px solid #ddd;
           display: flex; gap: 16px; align-items: center; flex-wrap: wrap; }
  h1 { font-size: 16px; margin: 0; }
  button { font: inherit; padding: 2px 10px; }
  #hint, #info { color: #666; }
  #wrap { padding: 8px 12px; }
  canvas { display: block; width: 100%; background: #fff; border: 1px solid #ddd; cursor: grab; }
  #details { min-height: 1.5em; margin: 6px 0; font-family: ui-monospace, monospace; }
  #legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 4px 16px; }
  #legend li { display: flex; align-items: center; gap: 6px; }
  #legend .sw { width: 14px; height: 14px; border-radius: 2px; display: inline-block; }
  pre { background: #fff; border: 1px solid #ddd; padding: 8px; overflow: auto; }
</style>
</head>
<body>
<header>
  <h1>goroutines trace: {{title}}</h1>
  <span id="info"></span>
  <span><button id="zoomin" title="zoom in">+</button>
  <button id="zoomout" title="zoom out">&minus;</button>
  <button id="reset" title="show everything">reset</button></span>
  <span id="hint">wheel: zoom &middot; drag: pan &middot; click a slice: details</span>
</header>
<div id="wrap">
  <canvas id="timeline"></canvas>
  <div id="details">&nbsp;</div>
  <h2>Legend (goroutine functions)</h2>
  <ul id="legend"></ul>
  <details open><summary>Summary</summary><pre>{{summary}}</pre></details>
</div>
<script id="trace-data" type="application/json">{{data}}</script>
<script>
"use strict";
const data = JSON.parse(document.getElementById("trace-data").textContent);
const canvas = document.getElementById("timeline");
const ctx = canvas.getContext("2d");
const GUTTER = 44, AXIS = 26, ROW = 30;
const end = Math.max(data.duration, 1);
let t0 = 0, t1 = end;

function color(fn, goid) {
  // Hue by function, lightness by goroutine: neighbours of one function differ.
  const light = goid === undefined ? 66 : 56 + (goid * 7 % 4) * 6;
  return "hsl(" + Math.round((fn * 137.508 + 140) % 360) + ",60%," + light + "%)";
}

function fmt(ns) {
  if (ns < 1e3) return Math.round(ns) + "ns";
  if (ns < 1e6) return +(ns / 1e3).toPrecision(3) + "\\u00b5s";
  if (ns < 1e9) return +(ns / 1e6).toPrecision(3) + "ms";
  return +(ns / 1e9).toPrecision(3) + "s";
}

function width() { return canvas.clientWidth - GUTTER; }
function xof(t) { return GUTTER + (t - t0) / (t1 - t0) * width(); }
function tof(x) { return t0 + (x - GUTTER) / width() * (t1 - t0); }

function resize() {
  const dpr = window.devicePixelRatio || 1;
  const h = AXIS + data.nprocs * ROW + 4;
  canvas.style.height = h + "px";
  canvas.width = Math.round(canvas.clientWidth * dpr);
  canvas.height = Math.round(h * dpr);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
}

function drawAxis() {
  const raw = (t1 - t0) / 8, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = mag * [1, 2, 5, 10].find(k => mag * k >= raw);
  ctx.fillStyle = "#666"; ctx.strokeStyle = "#e4e4e4"; ctx.font = "11px sans-serif";
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
    const x = xof(t);
    ctx.beginPath(); ctx.moveTo(x, AXIS - 4); ctx.lineTo(x, AXIS + data.nprocs * ROW); ctx.stroke();
    const label = fmt(t);
    if (x + 4 + ctx.measureText(label).width < canvas.clientWidth) {
      ctx.fillText(label, x + 2, AXIS - 8);
    }
  }
}

function draw() {
  const w = canvas.clientWidth;
  ctx.clearRect(0, 0, w, canvas.height);
  ctx.font = "12px sans-serif";
  for (let p = 0; p < data.nprocs; p++) {
    const y = AXIS + p * ROW;
    ctx.fillStyle = p % 2 ? "#f6f6f6" : "#fff";
    ctx.fillRect(GUTTER, y, w - GUTTER, ROW);
    ctx.fillStyle = "#333";
    ctx.fillText("P" + p, 8, y + ROW / 2 + 4);
  }
  drawAxis();
  ctx.font = "11px sans-serif";
  let drawn = 0;
  for (const [p, s, e, goid] of data.slices) {
    if (e < t0 || s > t1) continue;
    const g = data.gs[goid];
    const x0 = Math.max(GUTTER, xof(s)), x1 = Math.min(w, xof(e));
    const y = AXIS + p * ROW + 3;
    ctx.fillStyle = color(g[0], goid);
    ctx.fillRect(x0, y, Math.max(1, x1 - x0 > 3 ? x1 - x0 - 1 : x1 - x0), ROW - 6);
    drawn++;
    if (x1 - x0 > 44) {
      const label = "G" + goid + " " + data.fns[g[0]];
      ctx.save();
      ctx.beginPath(); ctx.rect(x0, y, x1 - x0, ROW - 6); ctx.clip();
      ctx.fillStyle = "#111";
      ctx.fillText(label, x0 + 3, y + ROW / 2 + 1);
      ctx.restore();
    }
  }
  for (const [ts, p] of data.steals) {
    if (ts < t0 || ts > t1) continue;
    const x = xof(ts), y = AXIS + p * ROW;
    ctx.fillStyle = "#c00";
    ctx.beginPath(); ctx.moveTo(x - 4, y); ctx.lineTo(x + 4, y); ctx.lineTo(x, y + 6); ctx.fill();
  }
  document.getElementById("info").textContent =
    data.nprocs + " Ps, " + Object.keys(data.gs).length + " goroutines, " +
    data.slices.length + " slices; showing " + fmt(t0) + " \\u2013 " + fmt(t1);
  document.body.dataset.drawn = drawn;
}

function zoom(factor, x) {
  const t = tof(x), span = Math.min(end, Math.max(1000, (t1 - t0) * factor));
  t0 = Math.max(0, t - (x - GUTTER) / width() * span);
  t1 = Math.min(end, t0 + span);
  t0 = Math.max(0, t1 - span);
  draw();
}

function sliceAt(x, y) {
  const p = Math.floor((y - AXIS) / ROW), t = tof(x), slack = (t1 - t0) / width();
  for (const sl of data.slices) {
    if (sl[0] === p && sl[1] - slack <= t && t <= sl[2] + slack) return sl;
  }
  return null;
}

canvas.addEventListener("wheel", ev => {
  ev.preventDefault();
  zoom(ev.deltaY < 0 ? 0.8 : 1.25, ev.offsetX);
}, {passive: false});
let dragX = null, dragT0 = 0, moved = false;
canvas.addEventListener("mousedown", ev => { dragX = ev.offsetX; dragT0 = t0; moved = false; });
window.addEventListener("mouseup", () => { dragX = null; });
canvas.addEventListener("mousemove", ev => {
  if (dragX === null) return;
  const span = t1 - t0, dt = (dragX - ev.offsetX) / width() * span;
  if (Math.abs(dragX - ev.offsetX) > 2) moved = true;
  t0 = Math.min(Math.max(0, dragT0 + dt), end - span); t1 = t0 + span; draw();
});
canvas.addEventListener("click", ev => {
  if (moved) return;
  const sl = sliceAt(ev.offsetX, ev.offsetY), out = document.getElementById("details");
  if (!sl) { out.textContent = "\\u00a0"; return; }
  const g = data.gs[sl[3]];
  out.textContent = "G" + sl[3] + " " + data.fns[g[0]] + " on P" + sl[0] + ": ran " +
    fmt(sl[2] - sl[1]) + " from " + fmt(sl[1]) + ", stopped: " + sl[4] +
    (g[1] ? "; created at " + g[1] + " by G" + g[2] : "") +
    "; in total running " + fmt(g[3]) + ", blocked " + fmt(g[4]);
});
const mid = () => GUTTER + width() / 2;
document.getElementById("zoomin").onclick = () => zoom(0.5, mid());
document.getElementById("zoomout").onclick = () => zoom(2, mid());
document.getElementById("reset").onclick = () => { t0 = 0; t1 = end; draw(); };
window.addEventListener("resize", () => { resize(); draw(); });

const legend = document.getElementById("legend");
const counts = data.fns.map(() => 0);
for (const g of Object.values(data.gs)) counts[g[0]]++;
data.fns.forEach((fn, i) => {
  const li = document.createElement("li");
  li.dataset.fn = fn;
  const sw = document.createElement("span");
  sw.className = "sw"; sw.style.background = color(i);
  li.append(sw, fn + " (" + counts[i] + " goroutine" + (counts[i] === 1 ? "" : "s") + ")");
  legend.append(li);
});

resize();
draw();
document.body.dataset.prows = data.nprocs;
document.body.dataset.slices = data.slices.length;
document.body.dataset.goroutines = Object.keys(data.gs).length;
document.body.dataset.ready = "1";
</script>
</body>
</html>
"""
