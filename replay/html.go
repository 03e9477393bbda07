package replay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"

	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// HTML writes the self-contained HTML page of a plain trace (no sampled
// roles, process states or links): see Recording.WriteHTML.
func HTML(w io.Writer, f *File, evs []sim.TraceEvent, fail *sim.Failure) error {
	r := &Recording{File: f, Events: evs, Outcome: &Outcome{Result: &scenarios.Result{Failure: fail}}}
	r.Capped = len(evs) > 0 && evs[0].Index > 0
	return r.WriteHTML(w, PageOptions{})
}

// PageOptions add to the HTML page.
type PageOptions struct {
	// Porcupine is the href of the linearizability picture, when the run
	// has one (relative to the page).
	Porcupine string
	// Explain, when set, draws dsim explain's curve above the timeline and
	// marks its window on it.
	Explain *Explanation
}

// PorcupineHref returns the href from a page at htmlPath to the porcupine
// picture beside the failure file at failurePath (ArtifactPath), or "" when
// the run attached none.
func PorcupineHref(failurePath, htmlPath string, artifacts map[string][]byte) string {
	for name := range artifacts {
		if filepath.Ext(name) == ".html" {
			p := ArtifactPath(failurePath, name)
			abs, err1 := filepath.Abs(p)
			dir, err2 := filepath.Abs(filepath.Dir(htmlPath))
			if err1 == nil && err2 == nil {
				if rel, err := filepath.Rel(dir, abs); err == nil {
					return filepath.ToSlash(rel)
				}
			}
			return filepath.ToSlash(p)
		}
	}
	return ""
}

// pageData is the page's one JSON block. Events and intervals are arrays
// rather than objects to keep big pages small.
type pageData struct {
	Title     string   `json:"title"`
	Failure   []any    `json:"failure"` // checker, message, event, vtime, row, lane
	Notes     []string `json:"notes"`
	Lanes     []string `json:"lanes"`
	Kinds     []string `json:"kinds"`
	Ev        [][]any  `json:"ev"` // i, t, kind, lane, peer, size, what
	Msgs      [][3]int `json:"msgs"`
	Roles     [][]any  `json:"roles"`  // lane, from, to, term, leader, i0, i1
	Down      [][]any  `json:"down"`   // lane, from, to, text, i0, i1
	Cuts      [][]any  `json:"cuts"`   // lane, from, to, text, level, i0, i1
	Groups    [][]any  `json:"groups"` // from, to, text, i0, i1
	Porcupine string   `json:"porcupine"`
	Explain   any      `json:"explain"`
	// Moment is where the checker's evidence places the failure (event,
	// vtime, why, row, lane) and Ops the operations it names (lane, call,
	// return or -1, role, text, call event, return event).
	Moment []any   `json:"moment"`
	Ops    [][]any `json:"ops"`
}

// WriteHTML writes the run as one self-contained HTML page that opens
// offline (inline script and style, nothing fetched): a lane per node in
// virtual time; messages as arrows from send to delivery, lost ones ending
// in a cross where they died and refused ones as a stub; crashes, pauses
// and cut links as bands on the lanes and the connected groups above them;
// each node's term as a coloured band, thick while it leads; clock drift
// and jumps marked; the failure and the checker's message at the top and a
// red line at the failing event; zoom (wheel, buttons) and pan (drag) over
// virtual time, opening on the events before the failure; a click on an
// event, a message or a band shows its details and the message body.
// Canvas drawing with culling keeps tens of thousands of events smooth.
//
// Every string from the trace reaches the page only inside one
// <script type="application/json"> block, JSON-encoded with <, > and &
// escaped, and is put into the document with textContent or drawn on the
// canvas: a hostile node log or message runs no script.
func (r *Recording) WriteHTML(w io.Writer, o PageOptions) error {
	tl := r.Timeline()
	d := pageData{Title: "dsim timeline", Lanes: tl.Lanes, Porcupine: o.Porcupine,
		Notes: []string{}, Ev: [][]any{}, Msgs: [][3]int{}, Roles: [][]any{}, Down: [][]any{}, Cuts: [][]any{}, Groups: [][]any{}}
	f := r.File
	if f != nil {
		d.Title = fmt.Sprintf("%s seed %d", f.Scenario, f.Seed)
		if f.Variant != "" {
			d.Title += " [" + f.Variant + "]"
		}
	}
	var fail *sim.Failure
	if r.Outcome != nil && r.Outcome.Result != nil {
		fail = r.Outcome.Result.Failure
		if fail == nil && f != nil && f.Failure != nil {
			d.Notes = append(d.Notes, "The replay PASSED; the file recorded: "+f.Failure.Error())
		}
		for _, diff := range r.Outcome.Diffs {
			if fail != nil {
				d.Notes = append(d.Notes, "differs from the file: "+diff)
			}
		}
	}
	if r.Through > 0 && len(r.Events) > 0 {
		d.Notes = append(d.Notes, fmt.Sprintf("The trace is long: this page holds events %d..%d (%v..%v), up to shortly after the failure's moment; the rest of the run, its end included, is left out. 'dsim replay FILE --trace' prints it all.",
			r.Events[0].Index, r.Events[len(r.Events)-1].Index, r.Events[0].Time, r.Events[len(r.Events)-1].Time))
	} else if r.Capped && len(r.Events) > 0 {
		d.Notes = append(d.Notes, fmt.Sprintf("The trace is long: this page holds its last %d events (from event %d, %v); earlier ones are left out. 'dsim replay FILE --trace' prints them all.",
			len(r.Events), r.Events[0].Index, r.Events[0].Time))
	}
	kinds := map[string]int{}
	failRow, failLane := -1, -1
	for row, e := range r.Events {
		k, ok := kinds[e.Kind]
		if !ok {
			k = len(d.Kinds)
			kinds[e.Kind] = k
			d.Kinds = append(d.Kinds, e.Kind)
		}
		d.Ev = append(d.Ev, []any{e.Index, int64(e.Time), k, tl.Lane[row], tl.Peer[row], e.Size, e.What})
		if e.Kind == "fail" {
			failRow, failLane = row, tl.Lane[row]
		}
	}
	if fail != nil {
		if failRow < 0 {
			for row := len(r.Events) - 1; row >= 0; row-- {
				if r.Events[row].Index == fail.Event {
					failRow, failLane = row, tl.Lane[row]
					break
				}
			}
		}
		d.Failure = []any{fail.Checker, fail.Message, fail.Event, int64(fail.VTime), failRow, failLane}
	}
	m := (*sim.Moment)(nil)
	if fail != nil {
		m = fail.Moment
	}
	if m == nil && fail == nil && f != nil && f.Failure != nil {
		m = f.Failure.Moment
	}
	if m != nil {
		d.Moment, d.Ops = momentData(m, r.Events, tl)
		if d.Moment[3] == -1 && r.Capped {
			d.Notes = append(d.Notes, fmt.Sprintf("The failure's moment (event %d) is before the events this page holds: raise --max-events to see it.", m.Event))
		}
	}
	for _, m := range tl.Msgs {
		d.Msgs = append(d.Msgs, [3]int{m.Send, m.End, m.Fate})
	}
	for _, x := range tl.Roles {
		d.Roles = append(d.Roles, []any{x.Lane, int64(x.From), int64(x.To), x.Term, x.Leader, x.I0, x.I1})
	}
	for _, x := range tl.Down {
		d.Down = append(d.Down, []any{x.Lane, int64(x.From), int64(x.To), x.Text, x.I0, x.I1})
	}
	for _, x := range tl.Cuts {
		d.Cuts = append(d.Cuts, []any{x.Lane, int64(x.From), int64(x.To), x.Text, x.Level, x.I0, x.I1})
	}
	for _, x := range tl.Groups {
		d.Groups = append(d.Groups, []any{int64(x.From), int64(x.To), x.Text, x.I0, x.I1})
	}
	if o.Explain != nil {
		d.Explain = o.Explain.pageJSON()
	}
	js, err := json.Marshal(d) // escapes <, > and & as \u003c...: no </script> can appear
	if err != nil {
		return err
	}
	var b bytes.Buffer
	b.WriteString(pageHead)
	b.Write(js)
	b.WriteString(pageTail)
	_, err = w.Write(b.Bytes())
	return err
}

// momentData is the page's form of a failure's moment: the row of the
// culprit's return (the last event at the moment's index on its lane, or
// any event at that index) and each operation on its client's lane.
func momentData(m *sim.Moment, evs []sim.TraceEvent, tl *Timeline) ([]any, [][]any) {
	lane := map[string]int{}
	for i, n := range tl.Lanes {
		lane[n] = i
	}
	want := ""
	for _, o := range m.Ops {
		if o.Role == "illegal" && (o.ReturnEvent == m.Event || o.CallEvent == m.Event) {
			want = o.Lane
			break
		}
	}
	row, rowLane := -1, -1
	for i := len(evs) - 1; i >= 0 && evs[i].Index >= m.Event; i-- {
		if evs[i].Index != m.Event {
			continue
		}
		if row < 0 || evs[i].Node == want && (evs[i].Kind == "return" || evs[i].Kind == "invoke") {
			row, rowLane = i, tl.Lane[i]
			if evs[i].Node == want {
				break
			}
		}
	}
	ops := [][]any{}
	for _, o := range m.Ops {
		l, ok := lane[o.Lane]
		if !ok {
			continue
		}
		ops = append(ops, []any{l, int64(o.Call), int64(o.Return), o.Role, o.Op, o.CallEvent, o.ReturnEvent})
	}
	return []any{m.Event, int64(m.VTime), m.Why, row, rowLane}, ops
}

const pageHead = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'none'">
<title>dsim timeline</title>
<style>
body{font-family:system-ui,sans-serif;margin:0 1em 2em 1em;color:#222}
h1{font-size:1.3em;margin:.6em 0 .3em 0}
#failure{color:#b00;font-weight:600;white-space:pre-wrap;margin:.3em 0}
#notes div{color:#8a5300;font-size:13px}
#toolbar{position:sticky;top:0;background:#fff;padding:4px 0;z-index:2;border-bottom:1px solid #ddd;font-size:13px}
#toolbar button{margin-right:4px}
#range{margin-left:1em;color:#555}
#wrap{position:relative;border:1px solid #ccc;overflow:hidden;cursor:grab}
#wrap.drag{cursor:grabbing}
canvas{display:block}
#legend{font-size:12px;margin:4px 0}
#legend span{margin-right:12px;white-space:nowrap}
#legend svg{vertical-align:middle;margin-right:3px}
#detail{background:#f6f6f6;padding:.5em;white-space:pre-wrap;word-break:break-all;font-size:12px;max-height:18em;overflow:auto}
#list{font-size:11px;background:#fafafa;max-height:24em;overflow:auto;padding:.4em;white-space:pre}
#explain canvas{border:1px solid #ddd;cursor:pointer}
#explain div{font-size:13px;white-space:pre-wrap}
a{color:#1558b0}
</style></head><body>
<h1 id="title"></h1>
<div id="failure"></div>
<div id="notes"></div>
<div id="links"></div>
<div id="explain"></div>
<div id="toolbar"><button id="zin" title="zoom in (+)">+</button><button id="zout" title="zoom out (-)">&minus;</button><button id="fit">whole run</button><button id="tofail">failure</button><button id="towin" hidden>decisive window</button>
<label><input type="checkbox" id="showArrows" checked> messages</label>
<label><input type="checkbox" id="showTimers"> timers</label>
<label><input type="checkbox" id="showRefused" checked> refused sends</label>
<span id="range"></span></div>
<div id="wrap"><canvas id="tl"></canvas></div>
<div id="legend">
<span><svg width="22" height="10"><line x1="1" y1="5" x2="21" y2="5" stroke="#2b6cb0" stroke-width="1.5"/></svg>message delivered</span>
<span><svg width="22" height="10"><line x1="1" y1="5" x2="17" y2="5" stroke="#999" stroke-dasharray="3,2"/><path d="M15 1 L21 9 M21 1 L15 9" stroke="#d00"/></svg>lost in flight</span>
<span><svg width="22" height="10"><path d="M4 1 L10 9 M10 1 L4 9" stroke="#d00"/></svg>refused at send</span>
<span><svg width="22" height="10"><rect x="1" y="1" width="20" height="8" fill="hsl(200,70%,80%)"/></svg>term (colour) &amp; follower</span>
<span><svg width="22" height="10"><rect x="1" y="1" width="20" height="8" fill="hsl(200,70%,45%)"/></svg>leader</span>
<span><svg width="22" height="10"><rect x="1" y="1" width="20" height="8" fill="#555" fill-opacity=".45"/></svg>down</span>
<span><svg width="22" height="10"><rect x="1" y="1" width="20" height="8" fill="#a0522d" fill-opacity=".35"/></svg>paused</span>
<span><svg width="22" height="10"><rect x="1" y="5" width="20" height="4" fill="#e53e3e"/></svg>links cut</span>
<span><svg width="22" height="10"><path d="M11 1 L17 9 L5 9 Z" fill="#c2185b"/></svg>clock drift/jump</span>
<span><svg width="22" height="10"><line x1="11" y1="0" x2="11" y2="10" stroke="red" stroke-width="2"/></svg>failure</span>
<span><svg width="22" height="10"><rect x="1" y="0" width="20" height="10" fill="#f6e05e" fill-opacity=".5"/></svg>decisive window (explain)</span>
<span id="momentLegend" hidden><svg width="22" height="10"><line x1="11" y1="0" x2="11" y2="10" stroke="#7b1fa2" stroke-width="2" stroke-dasharray="3,2"/></svg>failure's moment (checker's evidence) <svg width="22" height="10"><rect x="1" y="3" width="20" height="4" fill="#2f855a"/></svg>linearized <svg width="22" height="10"><rect x="1" y="3" width="20" height="4" fill="#e53e3e"/></svg>cannot be linearized</span>
</div>
<h3>Details</h3>
<pre id="detail">Click an event, a message arrow or a band.</pre>
<h3>Events in view <small id="listnote"></small></h3>
<div id="list"></div>
<pre id="selfcheck" hidden></pre>
<script type="application/json" id="data">`

const pageTail = `</script>
<script>
"use strict";
var ERRORS = [];
window.addEventListener("error", function (e) { ERRORS.push(String(e.message)); if (window.selfcheck) selfcheck(); });
var D = JSON.parse(document.getElementById("data").textContent);
function $(id) { return document.getElementById(id); }
function text(el, s) { el.textContent = s; return el; }
function add(parent, tag, s) { var e = document.createElement(tag); if (s !== undefined) e.textContent = s; parent.appendChild(e); return e; }
function fmtT(ns) {
  var a = Math.abs(ns);
  if (a >= 1e9) return (ns / 1e9).toFixed(a >= 1e11 ? 1 : 3) + "s";
  if (a >= 1e6) return (ns / 1e6).toFixed(3) + "ms";
  if (a >= 1e3) return (ns / 1e3).toFixed(1) + "µs";
  return ns + "ns";
}
var K = {}; D.kinds.forEach(function (k, i) { K[k] = i; });
var EV = D.ev, N = EV.length, LANES = D.lanes;
var I = 0, T = 1, KIND = 2, LANE = 3, PEER = 4, SIZE = 5, WHAT = 6;
document.title = D.title;
text($("title"), D.title);
if (D.failure) {
  text($("failure"), "FAILED " + D.failure[0] + ": " + D.failure[1] + "  (event " + D.failure[2] + ", virtual time " + fmtT(D.failure[3]) + ")");
} else {
  text($("failure"), "no failure in this run");
}
if (D.moment) {
  $("failure").textContent += "\nmoment (the checker's evidence): event " + D.moment[0] + ", virtual time " + fmtT(D.moment[1]) + ": " + D.moment[2];
  $("momentLegend").hidden = false;
}
D.notes.forEach(function (n) { add($("notes"), "div", n); });
if (D.porcupine) {
  var pa = add($("links"), "a", "porcupine's linearizability picture of this failure");
  pa.href = D.porcupine;
}
var tMin = N ? EV[0][T] : 0, tMax = N ? EV[N - 1][T] : 1;
if (tMax <= tMin) tMax = tMin + 1;
var ROLE_H = 7, LANE_H = 42, TOP = 44, LEFT = 120, RIGHT = 12;
var canvas = $("tl"), ctx = canvas.getContext("2d"), W = 800, H = 200;
var view = { t0: tMin, t1: tMax };
// Messages: start and end time; sorted by start for culling.
var MS = [], ME = [], maxDur = 0;
var msgOrder = D.msgs.map(function (m, j) {
  var s = m[0] >= 0 ? EV[m[0]][T] : (m[1] >= 0 ? EV[m[1]][T] : tMin);
  var e = m[1] >= 0 ? EV[m[1]][T] : tMax;
  MS[j] = s; ME[j] = e; if (e - s > maxDur) maxDur = e - s;
  return j;
});
msgOrder.sort(function (a, b) { return MS[a] - MS[b]; });
var msgStarts = msgOrder.map(function (j) { return MS[j]; });
var RECV = new Uint8Array(N); // rows drawn at the receiver: deliveries and drops in flight
D.msgs.forEach(function (m) { if (m[2] !== 2 && m[1] >= 0) RECV[m[1]] = 1; });
function lowerBound(arr, v, get) {
  var lo = 0, hi = arr.length;
  while (lo < hi) { var mid = (lo + hi) >> 1; if (get(arr, mid) < v) lo = mid + 1; else hi = mid; }
  return lo;
}
function evT(a, i) { return a[i][T]; }
function numT(a, i) { return a[i]; }
function x(t) { return LEFT + (t - view.t0) / (view.t1 - view.t0) * (W - LEFT - RIGHT); }
function tAt(px) { return view.t0 + (px - LEFT) / (W - LEFT - RIGHT) * (view.t1 - view.t0); }
function laneY(l) { return TOP + l * LANE_H; }
function laneMid(l) { return TOP + l * LANE_H + ROLE_H + (LANE_H - ROLE_H) / 2; }
function hue(term) { return (term * 67 + 200) % 360; }
var COLORS = { send: "#2b6cb0", deliver: "#2f855a", drop: "#d00", timer: "#9f7aea", crash: "#c53030", start: "#dd6b20",
  pause: "#8b4513", resume: "#8b4513", net: "#e53e3e", netopts: "#00838f", disk: "#5d4037", clock: "#c2185b",
  invoke: "#1565c0", "return": "#1b5e20", action: "#b7791f", fail: "#ff0000", log: "#4a5568" };
var explainWin = null;
if (D.explain && D.explain.window && D.explain.window[3] >= D.explain.window[2]) {
  explainWin = { t0: D.explain.window[2], t1: D.explain.window[3] };
  $("towin").hidden = false;
}
var HIT = { ev: [], msg: [] };
var DENSE = false, PATH = {}; // many messages in view: one path per fate, no heads
var STATS = { lanes: [], arrows: 0, failureDrawn: false, events: 0, momentDrawn: false, ops: 0 };
function resize() {
  var dpr = window.devicePixelRatio || 1;
  W = Math.max(400, $("wrap").clientWidth || 1000);
  H = TOP + LANES.length * LANE_H + 8;
  canvas.width = W * dpr; canvas.height = H * dpr;
  canvas.style.width = W + "px"; canvas.style.height = H + "px";
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
}
function visibleIntervals(list, fromIdx, toIdx, fn) {
  for (var j = 0; j < list.length; j++) {
    var it = list[j];
    if (it[toIdx] < view.t0 || it[fromIdx] > view.t1) continue;
    fn(it);
  }
}
function clampX(px) { return Math.max(LEFT, Math.min(W - RIGHT, px)); }
function niceStep(span, px) {
  var raw = span / Math.max(1, px / 110), p = Math.pow(10, Math.floor(Math.log10(raw)));
  var m = raw / p; return (m < 2 ? 2 : m < 5 ? 5 : 10) * p;
}
function draw() {
  HIT = { ev: [], msg: [] };
  STATS = { lanes: [], arrows: 0, failureDrawn: false, events: 0, momentDrawn: false, ops: 0 };
  ctx.clearRect(0, 0, W, H);
  ctx.font = "11px system-ui,sans-serif";
  ctx.textBaseline = "middle";
  // lanes
  for (var l = 0; l < LANES.length; l++) {
    ctx.fillStyle = l % 2 ? "#fbfbfb" : "#f3f5f8";
    ctx.fillRect(0, laneY(l), W, LANE_H);
    ctx.fillStyle = "#222";
    ctx.fillText(LANES[l].slice(0, 18), 4, laneMid(l));
    STATS.lanes.push(LANES[l]);
  }
  ctx.save();
  ctx.beginPath(); ctx.rect(LEFT, 0, W - LEFT - RIGHT, H); ctx.clip();
  // axis
  var step = niceStep(view.t1 - view.t0, W - LEFT - RIGHT);
  ctx.fillStyle = "#555"; ctx.strokeStyle = "#e2e2e2";
  for (var tt = Math.ceil(view.t0 / step) * step; tt <= view.t1; tt += step) {
    var px = x(tt);
    ctx.beginPath(); ctx.moveTo(px, 12); ctx.lineTo(px, H); ctx.stroke();
    ctx.fillText(fmtT(tt), px + 2, 7);
  }
  // connected groups while links are cut
  visibleIntervals(D.groups, 0, 1, function (g) {
    var a = clampX(x(g[0])), b = clampX(x(g[1]));
    ctx.fillStyle = "rgba(229,62,62,0.15)"; ctx.fillRect(a, 16, Math.max(1, b - a), 22);
    ctx.fillStyle = "#9b2c2c";
    if (b - a > 40) ctx.fillText(("partition " + g[2]).slice(0, Math.floor((b - a) / 6)), a + 3, 27);
  });
  // decisive window
  if (explainWin) {
    var wa = x(explainWin.t0), wb = x(explainWin.t1);
    ctx.fillStyle = "rgba(246,224,94,0.45)"; ctx.fillRect(wa, 12, Math.max(2, wb - wa), H);
  }
  // roles: a band per term, thick while leader
  visibleIntervals(D.roles, 1, 2, function (r) {
    var a = clampX(x(r[1])), b = clampX(x(r[2])), y = laneY(r[0]);
    ctx.fillStyle = "hsl(" + hue(r[3]) + ",70%," + (r[4] ? "45%" : "80%") + ")";
    if (r[4]) {
      ctx.globalAlpha = 0.35; ctx.fillRect(a, y, Math.max(1, b - a), LANE_H); ctx.globalAlpha = 1;
      ctx.fillRect(a, y, Math.max(1, b - a), ROLE_H);
    } else {
      ctx.fillRect(a, y, Math.max(1, b - a), ROLE_H - 2);
    }
    if (b - a > 34) { ctx.fillStyle = "#111"; ctx.fillText((r[4] ? "LEADER t" : "t") + r[3], a + 2, y + ROLE_H + 6); }
  });
  // down / paused
  visibleIntervals(D.down, 1, 2, function (d) {
    var a = clampX(x(d[1])), b = clampX(x(d[2])), y = laneY(d[0]);
    ctx.fillStyle = d[3] === "down" ? "rgba(60,60,60,0.45)" : "rgba(160,82,45,0.35)";
    ctx.fillRect(a, y + 2, Math.max(2, b - a), LANE_H - 4);
    if (b - a > 30) { ctx.fillStyle = "#fff"; ctx.fillText(d[3], a + 3, laneMid(d[0])); }
  });
  // cut links
  visibleIntervals(D.cuts, 1, 2, function (c) {
    var a = clampX(x(c[1])), b = clampX(x(c[2])), y = laneY(c[0]) + LANE_H - 5;
    ctx.fillStyle = "rgba(229,62,62," + Math.min(0.9, 0.35 + 0.08 * c[4]) + ")";
    ctx.fillRect(a, y, Math.max(2, b - a), 4);
    if (b - a > 60) { ctx.fillStyle = "#9b2c2c"; ctx.fillText(c[3].slice(0, Math.floor((b - a) / 6)), a + 3, y - 6); }
  });
  // messages
  var showTimers = $("showTimers").checked, showRefused = $("showRefused").checked;
  if ($("showArrows").checked) {
    var from = lowerBound(msgStarts, view.t0 - maxDur, numT), drawn = 0, vis = [];
    for (var q = from; q < msgOrder.length && msgStarts[q] <= view.t1; q++) {
      var j = msgOrder[q], m = D.msgs[j];
      if (ME[j] < view.t0) continue;
      if (m[2] === 2 && !showRefused) continue;
      vis.push(j);
      if (vis.length > 60000) break;
    }
    DENSE = vis.length > 1500;
    if (DENSE) { PATH.ok = new Path2D(); PATH.lost = new Path2D(); PATH.refused = new Path2D(); }
    for (var v = 0; v < vis.length; v++) drawMsg(vis[v], D.msgs[vis[v]]);
    if (DENSE) {
      ctx.strokeStyle = "rgba(43,108,176,0.5)"; ctx.stroke(PATH.ok);
      ctx.strokeStyle = "rgba(120,120,120,0.6)"; ctx.stroke(PATH.lost);
      ctx.strokeStyle = "rgba(208,0,0,0.7)"; ctx.stroke(PATH.refused);
    }
  }
  // events
  var i0 = lowerBound(EV, view.t0, evT), budget = 200000, i1 = i0;
  while (i1 < N && EV[i1][T] <= view.t1) i1++;
  var denseEv = i1 - i0 > 3000, lastPx = {};
  for (var r = i0; r < i1 && budget > 0; r++, budget--) {
    var e = EV[r], k = D.kinds[e[KIND]];
    if (k === "timer" && !showTimers) continue;
    var px = x(e[T]), py = laneMid(e[LANE]);
    HIT.ev.push([px, py, r]);
    STATS.events++;
    if (denseEv && k !== "crash" && k !== "clock" && k !== "start" && k !== "fail") {
      var cell = e[LANE] * 100000 + Math.round(px); // one tick per pixel column and lane
      if (lastPx[e[LANE]] === cell) continue;
      lastPx[e[LANE]] = cell;
      ctx.fillStyle = COLORS[k] || "#000";
      ctx.fillRect(px, py - 3, 1.2, 6);
      continue;
    }
    ctx.fillStyle = COLORS[k] || "#000";
    if (k === "crash") { cross(px, py, 6, "#c53030", 2.5); }
    else if (k === "clock") { ctx.beginPath(); ctx.moveTo(px, py - 7); ctx.lineTo(px + 6, py + 5); ctx.lineTo(px - 6, py + 5); ctx.fill(); ctx.fillText(String(e[WHAT]).slice(0, 24), px + 7, py - 6); }
    else if (k === "start") { ctx.fillRect(px - 1, py - 8, 3, 16); }
    else if (k === "drop") { /* drawn with its message */ }
    else { ctx.beginPath(); ctx.arc(px, py, k === "fail" ? 6 : 2.5, 0, 6.3); ctx.fill(); }
  }
  // failure
  if (D.failure) {
    var fr = D.failure[4], ft = fr >= 0 ? EV[fr][T] : D.failure[3], fx = x(ft);
    if (fx >= LEFT - 1 && fx <= W) {
      ctx.strokeStyle = "red"; ctx.lineWidth = 2;
      ctx.beginPath(); ctx.moveTo(fx, 12); ctx.lineTo(fx, H); ctx.stroke(); ctx.lineWidth = 1;
      if (D.failure[5] >= 0) { ctx.fillStyle = "red"; ctx.beginPath(); ctx.arc(fx, laneMid(D.failure[5]), 7, 0, 6.3); ctx.fill(); }
      ctx.fillStyle = "#b00"; ctx.fillText("FAIL " + D.failure[0], Math.min(fx + 4, W - 160), 40);
      STATS.failureDrawn = true;
    }
  }
  // the failure's moment and the operations of the checker's evidence
  if (D.moment) {
    (D.ops || []).forEach(function (o) {
      var a = x(o[1]), b = x(o[2] >= 0 ? o[2] : tMax), y = laneMid(o[0]) + 10;
      if (b < LEFT || a > W) return;
      ctx.fillStyle = o[3] === "illegal" ? "#e53e3e" : "#2f855a";
      ctx.fillRect(a, y, Math.max(2, b - a), 4);
      if (b - a > 50) { ctx.fillStyle = o[3] === "illegal" ? "#9b2c2c" : "#22543d"; ctx.fillText(String(o[4]).slice(0, Math.floor((b - a) / 6)), a + 2, y + 9); }
      HIT.op = HIT.op || []; HIT.op.push([a, y, b, o]);
      STATS.ops++;
    });
    var mr = D.moment[3], mt = mr >= 0 ? EV[mr][T] : D.moment[1], mx = x(mt);
    if (mx >= LEFT - 1 && mx <= W) {
      ctx.strokeStyle = "#7b1fa2"; ctx.lineWidth = 2; ctx.setLineDash([5, 3]);
      ctx.beginPath(); ctx.moveTo(mx, 12); ctx.lineTo(mx, H); ctx.stroke(); ctx.setLineDash([]); ctx.lineWidth = 1;
      if (D.moment[4] >= 0) { ctx.strokeStyle = "#7b1fa2"; ctx.lineWidth = 2; ctx.beginPath(); ctx.arc(mx, laneMid(D.moment[4]), 8, 0, 6.3); ctx.stroke(); ctx.lineWidth = 1; }
      ctx.fillStyle = "#7b1fa2"; ctx.fillText("moment: event " + D.moment[0], Math.min(mx + 4, W - 160), 28);
      STATS.momentDrawn = true;
    }
  }
  ctx.restore();
  text($("range"), "view " + fmtT(view.t0) + " … " + fmtT(view.t1) + " (" + fmtT(view.t1 - view.t0) + ")");
  scheduleList();
}
function cross(px, py, s, color, w) {
  ctx.strokeStyle = color; ctx.lineWidth = w || 1.5;
  ctx.beginPath(); ctx.moveTo(px - s, py - s); ctx.lineTo(px + s, py + s); ctx.moveTo(px + s, py - s); ctx.lineTo(px - s, py + s); ctx.stroke();
  ctx.lineWidth = 1;
}
function drawMsg(j, m) {
  var s = m[0] >= 0 ? EV[m[0]] : null, e = m[1] >= 0 ? EV[m[1]] : null;
  var fate = m[2];
  if (fate === 2) { // refused at send: a stub toward the receiver, crossed
    var ys = laneMid(s[LANE]), yt = s[PEER] >= 0 ? laneMid(s[PEER]) : ys;
    var px = x(s[T]), dy = yt > ys ? 9 : -9;
    HIT.msg.push([px, ys, px + 4, ys + dy, j]);
    STATS.arrows++;
    if (DENSE) { PATH.refused.moveTo(px, ys); PATH.refused.lineTo(px + 4, ys + dy); return; }
    ctx.strokeStyle = "rgba(208,0,0,0.7)"; ctx.beginPath(); ctx.moveTo(px, ys); ctx.lineTo(px + 4, ys + dy); ctx.stroke();
    cross(px + 4, ys + dy, 3, "#d00", 1.2);
    return;
  }
  var x1, y1, x2, y2;
  if (s) { x1 = x(s[T]); y1 = laneMid(s[LANE]); } else { x1 = LEFT; y1 = laneMid(e[PEER] >= 0 ? e[PEER] : e[LANE]); }
  if (e) { x2 = x(e[T]); y2 = laneMid(e[LANE]); } else { x2 = W; y2 = laneMid(s[PEER] >= 0 ? s[PEER] : s[LANE]); x2 = x1 + (x2 - x1) * 0.6; y2 = y1 + (y2 - y1) * 0.6; }
  HIT.msg.push([x1, y1, x2, y2, j]);
  STATS.arrows++;
  if (DENSE) { var pth = fate === 0 || fate === 4 ? PATH.ok : PATH.lost; pth.moveTo(x1, y1); pth.lineTo(x2, y2); return; }
  if (fate === 0 || fate === 4) { ctx.strokeStyle = "rgba(43,108,176,0.75)"; ctx.setLineDash([]); }
  else { ctx.strokeStyle = "rgba(120,120,120,0.8)"; ctx.setLineDash([4, 3]); }
  ctx.beginPath(); ctx.moveTo(x1, y1); ctx.lineTo(x2, y2); ctx.stroke(); ctx.setLineDash([]);
  if (fate === 0 || fate === 4) { // arrowhead
    var ang = Math.atan2(y2 - y1, x2 - x1);
    ctx.fillStyle = "rgba(43,108,176,0.9)"; ctx.beginPath(); ctx.moveTo(x2, y2);
    ctx.lineTo(x2 - 7 * Math.cos(ang - 0.4), y2 - 7 * Math.sin(ang - 0.4));
    ctx.lineTo(x2 - 7 * Math.cos(ang + 0.4), y2 - 7 * Math.sin(ang + 0.4)); ctx.fill();
  } else if (fate === 1) { cross(x2, y2, 4, "#d00", 1.8); }
}
// the list of events in view, built with textContent
var listTimer = 0;
function scheduleList() { clearTimeout(listTimer); listTimer = setTimeout(buildList, 60); }
function evLine(r) {
  var e = EV[r], k = D.kinds[e[KIND]], who = LANES[e[LANE]];
  var s = "#" + e[I] + "  " + fmtT(e[T]) + "  " + who + "  " + k;
  if (e[PEER] >= 0) s += (RECV[r] ? " <-" : " ->") + LANES[e[PEER]];
  if (e[WHAT]) s += "  " + e[WHAT];
  return s;
}
function buildList() {
  var i0 = lowerBound(EV, view.t0, evT), out = [], n = 0;
  for (var r = i0; r < N && EV[r][T] <= view.t1; r++) { if (n < 400) out.push(evLine(r)); n++; }
  text($("list"), out.join("\n"));
  text($("listnote"), n > 400 ? "(first 400 of " + n + "; zoom in for the rest)" : "(" + n + ")");
}
// details
function describeEvent(r) {
  var e = EV[r], k = D.kinds[e[KIND]], lines = [];
  lines.push("event #" + e[I] + " at " + fmtT(e[T]) + " (" + e[T] + "ns)");
  lines.push("kind: " + k + "    lane: " + LANES[e[LANE]] + (e[PEER] >= 0 ? "    other end: " + LANES[e[PEER]] : ""));
  if (e[SIZE]) lines.push("size: " + e[SIZE] + " bytes");
  if (e[WHAT]) lines.push("body: " + e[WHAT]);
  return lines.join("\n");
}
var FATES = ["delivered", "lost in flight", "refused at send (link cut or loss)", "still in flight at the end", "sent before the kept trace"];
function describeMsg(j) {
  var m = D.msgs[j], out = ["message: " + FATES[m[2]]];
  var s = m[0] >= 0 ? EV[m[0]] : null, e = m[1] >= 0 ? EV[m[1]] : null;
  var any = s || e;
  if (s) out.push("sent by " + LANES[s[LANE]] + " at " + fmtT(s[T]) + " (event #" + s[I] + ")");
  if (e && m[2] !== 2) out.push((m[2] === 1 ? "died at " : "delivered to ") + LANES[e[LANE]] + " at " + fmtT(e[T]) + " (event #" + e[I] + ")" + (s ? ", latency " + fmtT(e[T] - s[T]) : ""));
  if (any[SIZE]) out.push("size: " + any[SIZE] + " bytes");
  out.push("body: " + any[WHAT]);
  return out.join("\n");
}
function distSeg(px, py, x1, y1, x2, y2) {
  var dx = x2 - x1, dy = y2 - y1, L = dx * dx + dy * dy, u = L ? ((px - x1) * dx + (py - y1) * dy) / L : 0;
  u = Math.max(0, Math.min(1, u));
  var ex = x1 + u * dx - px, ey = y1 + u * dy - py; return Math.sqrt(ex * ex + ey * ey);
}
function bandAt(px, py) {
  var t = tAt(px), l = Math.floor((py - TOP) / LANE_H), found = [];
  if (py < TOP && py > 14) D.groups.forEach(function (g) { if (g[0] <= t && t <= g[1]) found.push("partition " + g[2] + "\nfrom " + fmtT(g[0]) + " (event #" + g[3] + ") to " + fmtT(g[1]) + " (event #" + g[4] + ")"); });
  if (l < 0 || l >= LANES.length) return found.join("\n\n");
  D.roles.forEach(function (r) { if (r[0] === l && r[1] <= t && t <= r[2]) found.push(LANES[l] + ": " + (r[4] ? "LEADER" : "follower/candidate") + " in term " + r[3] + "\nfrom " + fmtT(r[1]) + " (event #" + r[5] + ") to " + fmtT(r[2]) + " (event #" + r[6] + ")"); });
  D.down.forEach(function (d) { if (d[0] === l && d[1] <= t && t <= d[2]) found.push(LANES[l] + ": " + d[3] + " from " + fmtT(d[1]) + " (event #" + d[4] + ") to " + fmtT(d[2]) + " (event #" + d[5] + ")"); });
  D.cuts.forEach(function (c) { if (c[0] === l && c[1] <= t && t <= c[2]) found.push(LANES[l] + ": " + c[3] + "\nfrom " + fmtT(c[1]) + " (event #" + c[5] + ") to " + fmtT(c[2]) + " (event #" + c[6] + ")"); });
  return found.join("\n\n");
}
function onClick(px, py) {
  var best = -1, bd = 7;
  HIT.ev.forEach(function (h) { var d = Math.hypot(h[0] - px, h[1] - py); if (d < bd) { bd = d; best = h[2]; } });
  if (best >= 0) {
    var s = describeEvent(best);
    var mj = D.msgs.findIndex(function (m) { return m[0] === best || m[1] === best; });
    if (mj >= 0) s += "\n\n" + describeMsg(mj);
    return text($("detail"), s);
  }
  var op = (HIT.op || []).find(function (h) { return px >= h[0] - 2 && px <= h[2] + 2 && Math.abs(py - h[1] - 2) <= 4; });
  if (op) {
    var o = op[3];
    return text($("detail"), (o[3] === "illegal" ? "cannot be linearized: " : "linearized (longest linearizable prefix): ") + o[4] +
      "\nclient " + LANES[o[0]] + ", invoked at " + fmtT(o[1]) + " (event #" + o[5] + ")" + (o[2] >= 0 ? ", returned at " + fmtT(o[2]) + " (event #" + o[6] + ")" : ", never returned"));
  }
  var bm = -1; bd = 4;
  HIT.msg.forEach(function (h) { var d = distSeg(px, py, h[0], h[1], h[2], h[3]); if (d < bd) { bd = d; bm = h[4]; } });
  if (bm >= 0) return text($("detail"), describeMsg(bm));
  var b = bandAt(px, py);
  if (b) text($("detail"), b);
}
// zoom and pan
function setView(t0, t1) {
  var span = Math.max(1000, t1 - t0), full = (tMax - tMin) * 1.1 + 1000;
  if (span > full) span = full;
  view.t0 = t0; view.t1 = t0 + span;
  draw();
}
function zoom(f, atPx) {
  var c = atPx === undefined ? (view.t0 + view.t1) / 2 : tAt(atPx);
  setView(c - (c - view.t0) * f, c + (view.t1 - c) * f);
}
function fitAll() { var pad = (tMax - tMin) * 0.02 + 1; setView(tMin - pad, tMax + pad); }
function toFailure() {
  if (D.moment && D.moment[3] >= 0) return toMoment();
  if (!D.failure || N === 0) return fitAll();
  var fr = D.failure[4] >= 0 ? D.failure[4] : N - 1, a = Math.max(0, fr - 300);
  var t0 = EV[a][T], t1 = EV[fr][T], pad = Math.max((t1 - t0) * 0.06, 1e5);
  setView(t0 - pad, t1 + pad);
}
// the moment the checker's evidence points at, with the operations it names
function toMoment() {
  var mr = D.moment[3], t1 = EV[mr][T], t0 = EV[Math.max(0, mr - 300)][T];
  (D.ops || []).forEach(function (o) { if (o[1] < t0) t0 = o[1]; });
  var pad = Math.max((t1 - t0) * 0.06, 1e5);
  setView(t0 - pad, t1 + pad);
}
function toWindow() {
  if (!explainWin) return;
  var pad = Math.max((explainWin.t1 - explainWin.t0) * 0.3, 2e6);
  setView(explainWin.t0 - pad, explainWin.t1 + pad);
}
$("zin").onclick = function () { zoom(0.5); };
$("zout").onclick = function () { zoom(2); };
$("fit").onclick = fitAll;
$("tofail").onclick = toFailure;
$("towin").onclick = toWindow;
["showArrows", "showTimers", "showRefused"].forEach(function (id) { $(id).onchange = draw; });
canvas.addEventListener("wheel", function (ev) {
  ev.preventDefault();
  var rect = canvas.getBoundingClientRect();
  zoom(Math.exp(ev.deltaY * 0.0015), ev.clientX - rect.left);
}, { passive: false });
var drag = null;
canvas.addEventListener("mousedown", function (ev) { drag = { x: ev.clientX, t0: view.t0, t1: view.t1, moved: false }; $("wrap").classList.add("drag"); });
window.addEventListener("mousemove", function (ev) {
  if (!drag) return;
  var dx = ev.clientX - drag.x; if (Math.abs(dx) > 3) drag.moved = true;
  var dt = dx / (W - LEFT - RIGHT) * (drag.t1 - drag.t0);
  view.t0 = drag.t0 - dt; view.t1 = drag.t1 - dt; draw();
});
window.addEventListener("mouseup", function (ev) {
  if (!drag) return;
  var moved = drag.moved; drag = null; $("wrap").classList.remove("drag");
  if (!moved) { var rect = canvas.getBoundingClientRect(); onClick(ev.clientX - rect.left, ev.clientY - rect.top); }
});
window.addEventListener("keydown", function (ev) {
  if (ev.key === "+" || ev.key === "=") zoom(0.5);
  else if (ev.key === "-") zoom(2);
  else if (ev.key === "ArrowLeft") setView(view.t0 - (view.t1 - view.t0) * 0.2, view.t1 - (view.t1 - view.t0) * 0.2);
  else if (ev.key === "ArrowRight") setView(view.t0 + (view.t1 - view.t0) * 0.2, view.t1 + (view.t1 - view.t0) * 0.2);
});
window.addEventListener("resize", function () { resize(); draw(); });
// explain's curve: P(failure | first k events) against k
function drawExplain() {
  var X = D.explain; if (!X) return;
  var box = $("explain");
  add(box, "h3", "dsim explain: P(failure | the first k events)");
  var c = add(box, "canvas"), cw = 640, ch = 170, dpr = window.devicePixelRatio || 1;
  c.width = cw * dpr; c.height = ch * dpr; c.style.width = cw + "px"; c.style.height = ch + "px";
  var g = c.getContext("2d"); g.setTransform(dpr, 0, 0, dpr, 0, 0);
  var L = 40, R = 10, Tp = 10, B = 24, kmax = Math.max(1, X.last);
  function px(k) { return L + k / kmax * (cw - L - R); }
  function py(p) { return Tp + (1 - p) * (ch - Tp - B); }
  g.font = "11px system-ui,sans-serif"; g.fillStyle = "#555"; g.strokeStyle = "#ccc";
  [0, 0.5, 1].forEach(function (p) { g.beginPath(); g.moveTo(L, py(p)); g.lineTo(cw - R, py(p)); g.stroke(); g.fillText(p.toFixed(1), 8, py(p) + 4); });
  g.fillText("event k", cw - 60, ch - 6); g.fillText("0", L, ch - 6); g.fillText(String(kmax), cw - R - 30, ch - 16);
  if (X.window) { g.fillStyle = "rgba(246,224,94,0.6)"; g.fillRect(px(X.window[0]), Tp, Math.max(2, px(X.window[1]) - px(X.window[0])), ch - Tp - B); }
  g.strokeStyle = "#999"; g.setLineDash([4, 3]); g.beginPath(); g.moveTo(L, py(X.base)); g.lineTo(cw - R, py(X.base)); g.stroke(); g.setLineDash([]);
  g.strokeStyle = "#2b6cb0"; g.fillStyle = "#2b6cb0"; g.beginPath();
  X.points.forEach(function (p, i) { if (i) g.lineTo(px(p[0]), py(p[1])); else g.moveTo(px(p[0]), py(p[1])); });
  g.stroke();
  X.points.forEach(function (p) { g.beginPath(); g.arc(px(p[0]), py(p[1]), 2.5, 0, 6.3); g.fill(); });
  add(box, "div", X.summary);
  c.onclick = toWindow;
}
function selfcheck() {
  text($("selfcheck"), JSON.stringify({ lanes: SELF.lanes, arrowsAll: SELF.arrowsAll, msgs: D.msgs.length, eventsAll: SELF.eventsAll, fitMs: SELF.fitMs,
    failureDrawn: SELF.failureDrawn, failureText: $("failure").textContent, momentDrawn: SELF.momentDrawn, ops: SELF.ops,
    view: [view.t0, view.t1], errors: ERRORS }));
}
var SELF = {};
try {
  resize();
  drawExplain();
  $("showTimers").checked = true;
  var t0 = performance.now();
  fitAll();
  SELF = { lanes: STATS.lanes.slice(), arrowsAll: STATS.arrows, eventsAll: STATS.events, fitMs: Math.round(performance.now() - t0) };
  $("showTimers").checked = false;
  toFailure();
  SELF.failureDrawn = STATS.failureDrawn;
  SELF.momentDrawn = STATS.momentDrawn; SELF.ops = STATS.ops;
  buildList();
} catch (err) { ERRORS.push(String(err && err.stack || err)); }
window.selfcheck = selfcheck;
selfcheck();
</script>
</body></html>
`
