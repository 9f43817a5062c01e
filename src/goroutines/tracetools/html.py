"""`goroutines trace html`: one self-contained page that draws a trace's timeline.

The page needs no network: the data, the script and the style are inline. Like
Go's trace viewer it draws one lane per P with the goroutines that ran there
(coloured by function, labelled `G7 worker` where wide enough), and above them
the lanes that explain the gaps:

    GC pauses     the cyclic garbage collector stopping every thread
    Goroutines    how many were running, runnable, blocked, in a syscall
    Syscalls      every blocking call, by goroutine
    Handoffs      sysmon retaking a P (from a syscall or a goroutine that would
                  not yield) until another M acquires it
    P0, P1, ...   goroutine slices; the part of a syscall during which the P
                  still waited for it is hatched; a handoff is a red mark
    M0, M1, ...   each thread's state: holding a P, in a syscall, running a
                  goroutine whose P was taken, idle; an arrow from the M a P
                  was taken from to the M it was handed to

Mouse wheel or the +/- buttons zoom, dragging pans, clicking shows what is
under the pointer, and the text summary is below. Lanes draw at most one mark
per pixel, so a big trace stays quick; past MAX_SLICES the page holds the
beginning of the trace and says so (`goroutines trace convert` gives all of
it to Perfetto). Durations print as units.fmtdur does (FMTDUR_JS is its port).

The lane labels are DOM elements (data-lane), and once drawn the page records
what it drew on <body> (data-drawn, data-syscalls-drawn, data-handoffs-drawn,
...), which is how the tests check it in a headless browser.
"""

from __future__ import annotations

import html
import json
from typing import Any

from .model import Model, shortname, thin
from .summary import summary
from .units import DIGITS

MAX_SLICES = 300_000  # P slices in a page; past that, the page holds the trace's beginning
MAX_COUNTS = 20_000  # samples of the goroutine counts, at most about
_MKINDS = ("P", "syscall", "lost", "idle")  # the M states, by label prefix (model.mslices)


def mkind(label: str) -> int:
    """The index in _MKINDS of an M state's label (`P3`, `syscall G7`, `G7, P3 retaken`, `idle`)."""
    if label == "idle":
        return 3
    if label.startswith("syscall"):
        return 1
    return 2 if "retaken" in label else 0


def cutoff(model: Model) -> int:
    """The time up to which the page shows the trace: the end, or where MAX_SLICES run out."""
    if len(model.slices) <= MAX_SLICES:
        return model.duration
    return sorted(s.start for s in model.slices)[MAX_SLICES]


def pagedata(model: Model, title: str) -> dict[str, Any]:
    """What the page's script needs, as flat lists of numbers, up to cutoff()."""
    end = cutoff(model)
    fns = sorted({shortname(g.fn) for g in model.gs.values()})
    index = {fn: i for i, fn in enumerate(fns)}
    whys = sorted({s.why for s in model.slices})
    why = {w: i for i, w in enumerate(whys)}
    slices = [s for s in model.slices if s.start < end]
    return {
        "title": title,
        "duration": model.duration,
        "end": end,
        "nslices": len(model.slices),
        "nprocs": model.nprocs,
        "ms": sorted(model.ms),
        "fns": fns,
        "whys": whys,
        "gs": {
            g.goid: [
                index[shortname(g.fn)],
                g.createdat,
                g.parent,
                *(g.time[state] for state in ("running", "runnable", "blocked", "syscall")),
            ]
            for g in model.gs.values()
        },
        "slices": [[s.p, s.start, s.end, s.goid, why[s.why]] for s in slices],
        "syscalls": [
            [c.goid, c.m, c.p, c.start, c.end, c.pend] for c in model.syscalls if c.start < end
        ],
        "handoffs": [
            [h.ts, h.p, h.from_m, h.to_m, h.to_ts, h.what == "syscall"]
            for h in model.handoffs
            if h.ts < end
        ],
        "mslices": [
            [m, start, stop, mkind(label), label]
            for m, start, stop, label in model.mslices
            if start < end
        ],
        "gcs": [list(gc) for gc in model.gcs if gc[0] < end],
        "steals": [list(s) for s in model.steals if s[0] < end],
        "counts": [list(c) for c in thin(model.counts, end // MAX_COUNTS + 1) if c[0] < end],
    }


def render(model: Model, title: str) -> str:
    """The page for a model, as one HTML string."""
    data = json.dumps(pagedata(model, title), separators=(",", ":")).replace("</", "<\\/")
    return (
        _PAGE.replace("{{title}}", html.escape(title))
        .replace("{{summary}}", html.escape(summary(model)))
        .replace("{{fmtdur}}", FMTDUR_JS)
        .replace("{{data}}", data)
    )


# units.fmtdur in JavaScript: the same integer rounding, so both print the same.
FMTDUR_JS = """
function fmtdur(ns) {
  let n = Math.floor(ns + 0.5);
  if (n < 0) return "-" + fmtdur(-n);
  if (n === 0) return "0s";
  const extra = String(n).length - DIGITS;
  if (extra > 0) { const k = 10 ** extra; n = Math.floor((n + k / 2) / k) * k; }
  for (const [unit, scale] of [["ns", 1], ["\\u00b5s", 1e3], ["ms", 1e6], ["s", 1e9]]) {
    if (n < scale * 1000 || unit === "s") {
      const whole = Math.floor(n / scale), frac = n % scale;
      if (!frac) return whole + unit;
      const digits = String(frac).padStart(String(scale).length - 1, "0").replace(/0+$/, "");
      return whole + "." + digits + unit;
    }
  }
}
""".replace("DIGITS", str(DIGITS)).strip()

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
  h2 { font-size: 14px; margin: 12px 0 4px; }
  button { font: inherit; padding: 2px 10px; }
  #hint, #info { color: #666; }
  #note { background: #fff4d6; border: 1px solid #e6c65c; padding: 4px 8px; margin: 8px 0 0; }
  #wrap { padding: 8px 12px; }
  #view { display: flex; border: 1px solid #ddd; background: #fff; }
  #lanes { width: 112px; flex: none; border-right: 1px solid #ddd; font-size: 12px; }
  .lane { box-sizing: border-box; padding: 0 6px; display: flex; align-items: center;
          border-bottom: 1px solid #f0f0f0; white-space: nowrap; overflow: hidden; }
  .lane.section { font-weight: 600; }
  canvas { display: block; flex: auto; min-width: 0; cursor: grab; }
  #details { min-height: 1.5em; margin: 6px 0; font-family: ui-monospace, monospace; }
  .legend { list-style: none; padding: 0; margin: 0; display: flex; flex-wrap: wrap;
            gap: 4px 16px; }
  .legend li { display: flex; align-items: center; gap: 6px; }
  .legend .sw { width: 14px; height: 14px; border-radius: 2px; display: inline-block; }
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
  <span id="hint">wheel: zoom &middot; drag: pan &middot; click: details</span>
</header>
<div id="wrap">
  <div id="note" hidden></div>
  <div id="view"><div id="lanes"></div><canvas id="timeline"></canvas></div>
  <div id="details">&nbsp;</div>
  <h2>What the lanes show</h2>
  <ul class="legend" id="kinds"></ul>
  <h2>Goroutine functions</h2>
  <ul class="legend" id="legend"></ul>
  <details open><summary>Summary</summary><pre>{{summary}}</pre></details>
</div>
<script id="trace-data" type="application/json">{{data}}</script>
<script>
"use strict";
{{fmtdur}}
const data = JSON.parse(document.getElementById("trace-data").textContent);
const canvas = document.getElementById("timeline");
const ctx = canvas.getContext("2d");
const AXIS = 24, end = Math.max(data.end, 1);
const C = {gc: "#8e44ad", running: "#4caf50", runnable: "#f2c230", blocked: "#b0b7c3",
           syscall: "#e8833a", handoff: "#d62728", held: "#cfe3f7", lost: "#f4a6a6",
           idle: "#ececec", steal: "#1f77b4"};
let t0 = 0, t1 = end;

function color(fn, goid) {
  // Hue by function, lightness by goroutine: neighbours of one function differ.
  const light = goid === undefined ? 66 : 56 + (goid * 7 % 4) * 6;
  return "hsl(" + Math.round((fn * 137.508 + 140) % 360) + ",60%," + light + "%)";
}

// The lanes, top to bottom: each has a kind, an id, a label and a height.
const lanes = [
  {kind: "gc", id: "gc", label: "GC pauses", h: 16},
  {kind: "counts", id: "goroutines", label: "Goroutines", h: 40},
  {kind: "syscalls", id: "syscalls", label: "Syscalls", h: 22},
  {kind: "handoffs", id: "handoffs", label: "Handoffs", h: 22},
];
for (let p = 0; p < data.nprocs; p++) {
  lanes.push({kind: "p", id: "P" + p, n: p, label: "P" + p, h: 26});
}
for (const m of data.ms) lanes.push({kind: "m", id: "M" + m, n: m, label: "M" + m, h: 20});
let y = AXIS;
for (const lane of lanes) { lane.y = y; y += lane.h; }
const HEIGHT = y + 4;
const laneOf = {};
for (const lane of lanes) laneOf[lane.id] = lane;

const gutter = document.getElementById("lanes");
const corner = document.createElement("div");
corner.className = "lane";
corner.style.height = AXIS + "px";
gutter.append(corner);
for (const lane of lanes) {
  const div = document.createElement("div");
  div.className = "lane" + (lane.kind === "p" || lane.kind === "m" ? "" : " section");
  div.dataset.lane = lane.id;
  div.dataset.kind = lane.kind;
  div.style.height = lane.h + "px";
  div.textContent = lane.label;
  gutter.append(div);
}

// Per lane, its spans sorted by start: [start, end, ...] for binary search and drawing.
function bylane(items, key) {
  const out = {};
  for (const it of items) (out[key(it)] = out[key(it)] || []).push(it);
  return out;
}
const pslices = bylane(data.slices, s => s[0]);
const pcalls = bylane(data.syscalls.filter(c => c[2] >= 0), c => c[2]);
const mslices = bylane(data.mslices, s => s[0]);
for (const [lists, si] of [[pslices, 1], [pcalls, 3], [mslices, 1]]) {
  for (const k in lists) lists[k].sort((a, b) => a[si] - b[si]);
}
const calls = data.syscalls.slice().sort((a, b) => a[3] - b[3]);
const maxcount = data.counts.reduce((m, c) => Math.max(m, c[1] + c[2] + c[4]), 1);

function W() { return canvas.clientWidth; }
function xof(t) { return (t - t0) / (t1 - t0) * W(); }
function tof(x) { return t0 + x / W() * (t1 - t0); }

function resize() {
  const dpr = window.devicePixelRatio || 1;
  canvas.style.height = HEIGHT + "px";
  canvas.width = Math.round(canvas.clientWidth * dpr);
  canvas.height = Math.round(HEIGHT * dpr);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
}

// Draw spans [.., start at si, end at ei, ..] in one lane, at most one mark per pixel.
function spans(list, si, ei, y, h, style, label) {
  if (!list) return 0;
  let lo = 0, hi = list.length;  // the first span that ends after t0 (spans do not overlap)
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid][ei] < t0) lo = mid + 1; else hi = mid;
  }
  let drawn = 0, lastpx = -1;
  for (let i = lo; i < list.length && list[i][si] <= t1; i++) {
    const s = list[i], x0 = Math.max(0, xof(s[si])), x1 = Math.min(W(), xof(s[ei]));
    drawn++;
    if (x1 - x0 < 1 && Math.floor(x0) === lastpx) continue;
    lastpx = Math.floor(x0);
    const fill = style(s);
    if (!fill) continue;
    ctx.fillStyle = fill;
    ctx.fillRect(x0, y, Math.max(1, x1 - x0 > 3 ? x1 - x0 - 1 : x1 - x0), h);
    if (label && x1 - x0 > 40) {
      ctx.save();
      ctx.beginPath(); ctx.rect(x0, y, x1 - x0, h); ctx.clip();
      ctx.fillStyle = "#111";
      ctx.fillText(label(s), x0 + 3, y + h / 2 + 4);
      ctx.restore();
    }
  }
  return drawn;
}

function hatch() {
  const c = document.createElement("canvas");
  c.width = c.height = 6;
  const g = c.getContext("2d");
  g.strokeStyle = C.syscall; g.lineWidth = 2;
  g.beginPath(); g.moveTo(0, 6); g.lineTo(6, 0); g.stroke();
  return ctx.createPattern(c, "repeat");
}
const HATCH = hatch();

function drawAxis() {
  const raw = (t1 - t0) / 8, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = mag * [1, 2, 5, 10].find(k => mag * k >= raw);
  ctx.fillStyle = "#666"; ctx.strokeStyle = "#eee"; ctx.font = "11px sans-serif";
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
    const x = xof(t);
    ctx.beginPath(); ctx.moveTo(x, AXIS - 4); ctx.lineTo(x, HEIGHT); ctx.stroke();
    const label = fmtdur(t);
    if (x + 4 + ctx.measureText(label).width < W()) ctx.fillText(label, x + 2, AXIS - 8);
  }
}

function drawCounts(lane) {
  // Stacked: running, syscall, runnable (blocked goroutines are not drawn: they wait).
  const cols = [[1, C.running], [4, C.syscall], [2, C.runnable]];
  const w = W();
  let i = 0;
  while (i < data.counts.length - 1 && data.counts[i + 1][0] < t0) i++;
  for (let px = 0; px < w; px++) {
    const t = tof(px + 1);
    while (i < data.counts.length - 1 && data.counts[i + 1][0] <= t) i++;
    const c = data.counts[i];
    if (!c || c[0] > t) continue;
    let base = lane.y + lane.h;
    for (const [k, col] of cols) {
      const h = c[k] / maxcount * (lane.h - 4);
      ctx.fillStyle = col; ctx.fillRect(px, base - h, 1, h); base -= h;
    }
  }
}

function drawHandoffs(lane) {
  let drawn = 0;
  ctx.font = "11px sans-serif";
  for (const [ts, p, from, to, tots, sys] of data.handoffs) {
    const until = tots >= 0 ? tots : ts;
    if (until < t0 || ts > t1) continue;
    drawn++;
    const x0 = xof(ts), x1 = Math.max(x0 + 2, xof(until));
    ctx.fillStyle = C.handoff;
    ctx.fillRect(x0, lane.y + 4, x1 - x0, lane.h - 8);
    const label = "P" + p + " M" + from + "\\u2192" + (to >= 0 ? "M" + to : "idle") +
      (sys ? " (syscall)" : " (no yield)");
    ctx.fillStyle = "#111";
    if (x1 - x0 > 60) ctx.fillText(label, x0 + 3, lane.y + lane.h / 2 + 4);
    // The mark on the P lane, and the arrow between the Ms.
    const pl = laneOf["P" + p];
    if (pl) {
      ctx.fillStyle = C.handoff;
      ctx.beginPath(); ctx.moveTo(x0 - 5, pl.y); ctx.lineTo(x0 + 5, pl.y);
      ctx.lineTo(x0, pl.y + 8); ctx.fill();
      ctx.fillRect(x0, pl.y, 1, pl.h);
    }
    const a = laneOf["M" + from], b = laneOf["M" + to];
    if (a && b) {
      const ya = a.y + a.h / 2, yb = b.y + b.h / 2;
      ctx.strokeStyle = C.handoff; ctx.lineWidth = 1.5;
      ctx.beginPath(); ctx.moveTo(x0, ya); ctx.lineTo(x1, yb); ctx.stroke();
      ctx.beginPath(); ctx.arc(x1, yb, 3, 0, 2 * Math.PI); ctx.fillStyle = C.handoff; ctx.fill();
      ctx.lineWidth = 1;
    }
  }
  return drawn;
}

function drawSyscalls(lane) {
  // Up to three rows, so that overlapping calls stay visible.
  const rows = [-1, -1, -1], h = (lane.h - 4) / 3;
  let drawn = 0;
  for (const c of calls) {
    if (c[4] < t0 || c[3] > t1) continue;
    drawn++;
    const x0 = Math.max(0, xof(c[3])), x1 = Math.min(W(), xof(c[4]));
    let r = rows.findIndex(last => last <= x0);
    if (r < 0) r = 2;
    rows[r] = x1;
    ctx.fillStyle = C.syscall;
    ctx.fillRect(x0, lane.y + 2 + r * h, Math.max(1, x1 - x0), h - 1);
  }
  return drawn;
}

const counters = {};
function draw() {
  const w = W();
  ctx.clearRect(0, 0, w, HEIGHT);
  lanes.forEach((lane, i) => {
    ctx.fillStyle = i % 2 ? "#f8f8f8" : "#fff";
    ctx.fillRect(0, lane.y, w, lane.h);
  });
  drawAxis();
  ctx.font = "11px sans-serif";
  counters.gcs = spans(data.gcs, 0, 1, laneOf.gc.y + 2, laneOf.gc.h - 4, () => C.gc);
  drawCounts(laneOf.goroutines);
  counters.syscalls = drawSyscalls(laneOf.syscalls);
  let drawn = 0, pcalldrawn = 0, mdrawn = 0;
  for (const lane of lanes) {
    if (lane.kind === "p") {
      drawn += spans(pslices[lane.n], 1, 2, lane.y + 3, lane.h - 6,
        s => color(data.gs[s[3]][0], s[3]), s => "G" + s[3] + " " + data.fns[data.gs[s[3]][0]]);
      pcalldrawn += spans(pcalls[lane.n], 3, 5, lane.y + 3, lane.h - 6, () => HATCH);
    } else if (lane.kind === "m") {
      mdrawn += spans(mslices[lane.n], 1, 2, lane.y + 2, lane.h - 4,
        s => [C.held, C.syscall, C.lost, C.idle][s[3]], s => s[4]);
    }
  }
  for (const [ts, p, victim, n] of data.steals) {
    const lane = laneOf["P" + p];
    if (ts < t0 || ts > t1 || !lane) continue;
    const x = xof(ts);
    ctx.fillStyle = C.steal;
    const yb = lane.y + lane.h;
    ctx.beginPath(); ctx.moveTo(x - 4, yb); ctx.lineTo(x + 4, yb); ctx.lineTo(x, yb - 6);
    ctx.fill();
  }
  counters.handoffs = drawHandoffs(laneOf.handoffs);
  document.getElementById("info").textContent =
    data.nprocs + " Ps, " + data.ms.length + " Ms, " + Object.keys(data.gs).length +
    " goroutines, " +
    data.slices.length + " slices; showing " + fmtdur(t0) + " \\u2013 " + fmtdur(t1) +
    " of " + fmtdur(data.duration);
  Object.assign(document.body.dataset, {drawn: drawn, syscallsDrawn: counters.syscalls,
    pSyscallsDrawn: pcalldrawn, handoffsDrawn: counters.handoffs, gcsDrawn: counters.gcs,
    mDrawn: mdrawn});
}

function zoom(factor, x) {
  const t = tof(x), span = Math.min(end, Math.max(1000, (t1 - t0) * factor));
  t0 = Math.max(0, t - x / W() * span);
  t1 = Math.min(end, t0 + span);
  t0 = Math.max(0, t1 - span);
  draw();
}

// What is under the pointer, as text.
function describe(x, yy) {
  const lane = lanes.find(l => l.y <= yy && yy < l.y + l.h);
  if (!lane) return null;
  const t = tof(x), slack = (t1 - t0) / W() * 2;
  const near = (list, si, ei) => (list || []).find(s => s[si] - slack <= t && t <= s[ei] + slack);
  const g = goid => "G" + goid + " " + data.fns[data.gs[goid][0]];
  if (lane.kind === "p") {
    const c = near(pcalls[lane.n], 3, 5);
    if (c) {
      return g(c[0]) + " in a syscall on M" + c[1] + ", P" + c[2] + " waiting for it " +
        fmtdur(c[5] - c[3]);
    }
    const s = near(pslices[lane.n], 1, 2);
    if (!s) return null;
    const info = data.gs[s[3]];
    return g(s[3]) + " on P" + s[0] + ": ran " + fmtdur(s[2] - s[1]) + " from " + fmtdur(s[1]) +
      ", stopped: " + data.whys[s[4]] +
      (info[1] ? "; created at " + info[1] + " by G" + info[2] : "") +
      "; in total running " + fmtdur(info[3]) + ", runnable " + fmtdur(info[4]) +
      ", blocked " + fmtdur(info[5]) + ", in syscalls " + fmtdur(info[6]);
  }
  if (lane.kind === "m") {
    const s = near(mslices[lane.n], 1, 2);
    return s && "M" + s[0] + ": " + s[4] + " for " + fmtdur(s[2] - s[1]) + " from " + fmtdur(s[1]);
  }
  if (lane.kind === "syscalls") {
    const c = near(calls, 3, 4);
    return c && g(c[0]) + ": syscall on M" + c[1] + " for " + fmtdur(c[4] - c[3]) +
      " from " + fmtdur(c[3]);
  }
  if (lane.kind === "handoffs") {
    const h = data.handoffs.find(h => h[0] - slack <= t && t <= Math.max(h[0], h[4]) + slack);
    const why = h && (h[5] ? "in a syscall" : "its goroutine would not yield");
    return h && "sysmon took P" + h[1] + " from M" + h[2] + " (" + why + ") at " + fmtdur(h[0]) +
      (h[3] >= 0 ? "; M" + h[3] + " acquired it " + fmtdur(h[4] - h[0]) + " later" : "");
  }
  if (lane.kind === "gc") {
    const c = near(data.gcs, 0, 1);
    return c && "GC pause (generation " + c[2] + ") of " + fmtdur(c[1] - c[0]) +
      " at " + fmtdur(c[0]);
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
  const span = t1 - t0, dt = (dragX - ev.offsetX) / W() * span;
  if (Math.abs(dragX - ev.offsetX) > 2) moved = true;
  t0 = Math.min(Math.max(0, dragT0 + dt), end - span); t1 = t0 + span; draw();
});
canvas.addEventListener("click", ev => {
  if (moved) return;
  document.getElementById("details").textContent = describe(ev.offsetX, ev.offsetY) || "\\u00a0";
});
const mid = () => W() / 2;
document.getElementById("zoomin").onclick = () => zoom(0.5, mid());
document.getElementById("zoomout").onclick = () => zoom(2, mid());
document.getElementById("reset").onclick = () => { t0 = 0; t1 = end; draw(); };
window.addEventListener("resize", () => { resize(); draw(); });

function legendItem(list, fill, text, key) {
  const li = document.createElement("li");
  li.dataset[key[0]] = key[1];
  const sw = document.createElement("span");
  sw.className = "sw"; sw.style.background = fill;
  li.append(sw, text);
  list.append(li);
}
const kinds = document.getElementById("kinds");
for (const [k, fill, text] of [
  ["running", C.running, "goroutines running (Goroutines lane)"],
  ["runnable", C.runnable, "goroutines runnable, waiting for a P"],
  ["syscall", C.syscall, "syscall (hatched on a P: the P waits for it)"],
  ["handoff", C.handoff, "P handoff: sysmon retook the P, until an M acquires it"],
  ["held", C.held, "M holds a P"],
  ["lost", C.lost, "M runs a goroutine whose P was retaken"],
  ["idle", C.idle, "M idle"],
  ["gc", C.gc, "GC pause"],
  ["steal", C.steal, "steal: a P took goroutines from another's run queue"],
]) legendItem(kinds, fill, text, ["kind", k]);
const legend = document.getElementById("legend");
const counts = data.fns.map(() => 0);
for (const g of Object.values(data.gs)) counts[g[0]]++;
data.fns.forEach((fn, i) => legendItem(legend, color(i),
  fn + " (" + counts[i] + " goroutine" + (counts[i] === 1 ? "" : "s") + ")", ["fn", fn]));
if (data.end < data.duration) {
  const note = document.getElementById("note");
  note.hidden = false;
  note.textContent = "This page shows the first " + fmtdur(data.end) + " of " +
    fmtdur(data.duration) + " (" + data.slices.length + " of " + data.nslices +
    " slices); goroutines trace convert writes all of it for Perfetto.";
}

resize();
draw();
Object.assign(document.body.dataset, {prows: data.nprocs, mrows: data.ms.length,
  slices: data.slices.length, syscalls: data.syscalls.length, handoffs: data.handoffs.length,
  goroutines: Object.keys(data.gs).length, duration: fmtdur(data.duration), ready: "1"});
</script>
</body>
</html>
"""
