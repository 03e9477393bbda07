package report

import "html/template"

// pageStyle and pageScript are the page's only style and script; the
// Content-Security-Policy allows exactly these bytes (by hash).
const pageStyle = `
body{font-family:system-ui,sans-serif;margin:0 1.2em 2em 1.2em;color:#222;max-width:110em}
h1{font-size:1.4em;margin:.6em 0 .2em 0}
h2{font-size:1.15em;margin:1.4em 0 .4em 0;border-bottom:1px solid #ddd}
.status{display:inline-block;padding:.1em .6em;border-radius:4px;font-weight:700;color:#fff;background:#2f855a}
.status.FAIL,.status.bad{background:#c53030}
.status.INCOMPLETE{background:#b7791f}
dl.totals{display:flex;flex-wrap:wrap;gap:.4em 1.6em;margin:.6em 0}
dl.totals div{min-width:7em}
dl.totals dt{font-size:12px;color:#666}
dl.totals dd{margin:0;font-size:1.3em;font-weight:600}
table{border-collapse:collapse;font-size:13px;margin:.3em 0}
th,td{border:1px solid #ddd;padding:3px 7px;vertical-align:top;text-align:left}
th{background:#f3f3f3;cursor:pointer;user-select:none}
td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.failing td.f{color:#c53030;font-weight:700}
td.med{font-size:11px;color:#444;max-width:40em}
td.msg{max-width:40em;word-break:break-word}
code{font-size:12px;background:#f6f6f6;padding:0 3px;word-break:break-all}
ul.problems li{color:#9c4221}
.new{color:#c53030;font-weight:700}
.gone{color:#2f855a;font-weight:700}
.notrun{color:#777}
.note{color:#777;font-size:12px}
.plots{display:flex;flex-wrap:wrap;gap:1em}
.plots figure{margin:0}
.plots figcaption{font-size:12px;color:#444}
svg.plot{border:1px solid #ddd;background:#fff}
#nights td:first-child{white-space:nowrap}
`

const pageScript = `
"use strict";
var ERRORS = [];
window.addEventListener("error", function (e) { ERRORS.push(String(e.message)); selfcheck(); });
document.addEventListener("securitypolicyviolation", function (e) { ERRORS.push("CSP blocked " + e.violatedDirective + " " + e.blockedURI); selfcheck(); });
function all(sel) { return Array.prototype.slice.call(document.querySelectorAll(sel)); }
function sortBy(th) {
  var table = th.closest("table"), body = table.tBodies[0], col = th.cellIndex;
  var asc = th.getAttribute("data-dir") !== "asc";
  all("th").forEach(function (h) { if (h.closest("table") === table) h.removeAttribute("data-dir"); });
  th.setAttribute("data-dir", asc ? "asc" : "desc");
  var rows = Array.prototype.slice.call(body.rows);
  rows.sort(function (a, b) {
    var x = a.cells[col], y = b.cells[col];
    var vx = x.hasAttribute("data-v") ? Number(x.getAttribute("data-v")) : x.textContent;
    var vy = y.hasAttribute("data-v") ? Number(y.getAttribute("data-v")) : y.textContent;
    var c = vx < vy ? -1 : vx > vy ? 1 : 0;
    return asc ? c : -c;
  });
  rows.forEach(function (r) { body.appendChild(r); });
}
function selfcheck() {
  var totals = {};
  all("[data-total]").forEach(function (e) { totals[e.getAttribute("data-total")] = Number(e.textContent); });
  var groupFailures = 0;
  all("tr.group").forEach(function (r) { groupFailures += Number(r.getAttribute("data-count")); });
  var out = {
    status: document.getElementById("status").textContent,
    totals: totals,
    systems: all("tr.sys").length, scenarios: all("tr.sc").length,
    groups: all("tr.group").length, groupFailures: groupFailures,
    replayLinks: all("a.replay").map(function (a) { return a.getAttribute("href"); }),
    unreached: all("li.unreached").length,
    nights: all("tr.night").length, newMarks: all("#trend .new").map(function (e) { return e.parentNode.textContent; }),
    goneMarks: all("#trend .gone").map(function (e) { return e.parentNode.textContent; }),
    plots: all("svg.plot").length,
    errors: ERRORS
  };
  document.getElementById("selfcheck").textContent = JSON.stringify(out);
}
try {
  all("th").forEach(function (th) { th.addEventListener("click", function () { sortBy(th); }); th.title = "sort"; });
} catch (err) { ERRORS.push(String(err && err.stack || err)); }
selfcheck();
`

var pageTmpl = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{.CSP}}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>` + pageStyle + `</style></head><body>
<h1>{{.Title}} <span id="status" class="status {{.Status}}">{{.Status}}</span></h1>
{{if not .TrendOnly}}<dl class="totals">{{range .Totals}}<div><dt>{{.Label}}</dt><dd{{if .ID}} data-total="{{.ID}}"{{end}}>{{.Value}}</dd></div>{{end}}</dl>
{{if .Incomplete}}<h2>Incomplete: not a pass, failures or not</h2>
<ul class="problems">{{range .Incomplete}}<li>{{.}}</li>{{end}}</ul>{{end}}

<h2>Systems</h2>
<table id="systems"><thead><tr><th>system</th><th>scenarios</th><th>runs</th><th>failures</th><th>undecided</th><th>work under faults</th><th>declared facts reached</th></tr></thead><tbody>
{{range .Systems}}<tr class="sys{{if .Failures}} failing{{end}}"><td>{{.Name}}</td><td class="n" data-v="{{.Scenarios}}">{{.Scenarios}}</td><td class="n" data-v="{{.Runs}}">{{.Runs}}</td><td class="n f" data-v="{{.Failures}}">{{.Failures}}</td><td class="n" data-v="{{.Undecided}}">{{.Undecided}}</td><td>{{.Work}}</td><td data-v="{{.FactsReached}}">{{.FactsText}}</td></tr>
{{end}}</tbody></table>

<h2>Scenarios</h2>
<table id="scenarios"><thead><tr><th>scenario</th><th>variant</th><th>runs</th><th>failures</th><th>undecided</th><th>work under faults</th><th>declared facts reached</th><th>metric medians (p50 over runs)</th></tr></thead><tbody>
{{range .Scenarios}}<tr class="sc{{if .Failures}} failing{{end}}"><td>{{.Name}}</td><td>{{.Variants}}</td><td class="n" data-v="{{.Runs}}">{{.Runs}}</td><td class="n f" data-v="{{.Failures}}">{{.Failures}}</td><td class="n" data-v="{{.Undecided}}">{{.Undecided}}</td><td>{{.Work}}</td><td data-v="{{.FactsReached}}">{{.FactsText}}</td><td class="med">{{range $i, $m := .Medians}}{{if $i}}, {{end}}{{$m}}{{end}}</td></tr>
{{end}}</tbody></table>

<h2>Failure groups</h2>
{{if .Groups}}<p class="note">Failures grouped by cause (scenario, variant, checker and message with numbers left out); largest first. Each group's repro reruns its smallest known failure.</p>
<table id="groups"><thead><tr><th>#</th><th>failures</th><th>scenario</th><th>checker</th><th>message</th><th>first seed</th><th>repro</th><th>replay page</th></tr></thead><tbody>
{{range .Groups}}<tr class="group" data-count="{{.Group.Count}}"><td class="n" data-v="{{.N}}">{{.N}}</td><td class="n" data-v="{{.Group.Count}}">{{.Group.Count}}</td><td>{{.Group.Scenario}}{{if .Group.Variant}} [{{.Group.Variant}}]{{end}}</td><td>{{.Group.Checker}}</td><td class="msg">{{.Group.First.Message}}<div class="note">pattern: {{.Group.Pattern}}</div></td><td class="n" data-v="{{.Group.First.Seed}}">{{.Group.First.Seed}}</td><td><code>{{.Repro}}</code>{{if .Shrink}}<br><code>{{.Shrink}}</code>{{end}}</td><td>{{if .Replay.Href}}<a class="replay" href="{{.Replay.Href}}">seed {{.Smallest}}</a>{{else}}<span class="note">{{.Replay.Note}}</span>{{end}}</td></tr>
{{end}}</tbody></table>{{else}}<p>No failures.</p>{{end}}

<h2>Declared facts never reached</h2>
{{if .Unreached}}<p class="note">Facts a scenario declares it expects a campaign to reach (a warning: the scenario did not exercise what it is named for).</p>
<ul id="unreached">{{range .Unreached}}{{$sc := .Scenario}}{{range .Facts}}<li class="unreached">{{$sc}}: {{.}}</li>{{end}}{{end}}</ul>{{else}}<p>Every declared fact was reached.</p>{{end}}{{end}}
{{with .Trend}}
<section id="trend"><h2>Trend</h2>
<div class="plots">{{range .Plots}}<figure><figcaption>{{.Title}} (max {{.Max}}, last {{.Last}})</figcaption><svg class="plot" width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}" role="img"><line x1="{{index .Axis 0}}" y1="{{index .Axis 1}}" x2="{{index .Axis 2}}" y2="{{index .Axis 3}}" stroke="#bbb"/><polyline points="{{.Line}}" fill="none" stroke="#2b6cb0" stroke-width="1.5"/><text x="{{index .Axis 0}}" y="{{.H}}" dy="-3" font-size="10" fill="#666">{{.From}}</text><text x="{{index .Axis 2}}" y="{{.H}}" dy="-3" font-size="10" fill="#666" text-anchor="end">{{.To}}</text>{{range .Points}}<circle cx="{{.X}}" cy="{{.Y}}" r="3" fill="#2b6cb0"><title>{{.Label}}</title></circle>{{end}}</svg></figure>{{end}}</div>
<table id="nights"><thead><tr><th>night</th><th>runs</th><th>failures</th><th>groups</th><th>new</th><th>gone</th><th>seeds/s</th><th>changes</th></tr></thead><tbody>
{{range .Nights}}<tr class="night"><td>{{.Name}}{{if .Inc}} <span class="note">incomplete: {{.Inc}}</span>{{end}}</td><td class="n" data-v="{{.Runs}}">{{.Runs}}</td><td class="n" data-v="{{.Failures}}">{{.Failures}}</td><td class="n" data-v="{{len .Groups}}">{{len .Groups}}</td><td class="n">{{if .Compared}}{{len .New}}{{else}}-{{end}}</td><td class="n">{{if .Compared}}{{len .Gone}}{{else}}-{{end}}</td><td class="n" data-v="{{printf "%.1f" .SeedsPerS}}">{{printf "%.1f" .SeedsPerS}}</td><td>{{range .New}}<div><span class="new">NEW</span> {{.Scenario}} {{.Checker}}: {{.First.Message}} ({{.Count}})</div>{{end}}{{range .Gone}}<div><span class="gone">GONE</span> {{.Scenario}} {{.Checker}}: {{.First.Message}}</div>{{end}}{{range .NotRun}}<div><span class="notrun">NOT RUN</span> {{.Scenario}} {{.Checker}}: {{.First.Message}}</div>{{end}}</td></tr>
{{end}}</tbody></table></section>{{end}}

{{if not .TrendOnly}}<h2>Configuration</h2>
<table id="config"><tbody>{{range .Config}}<tr><th>{{.Label}}</th><td>{{.Value}}</td></tr>{{end}}</tbody></table>
<details><summary>seed ranges ({{len .Ranges}})</summary>
<table><thead><tr><th>scenario</th><th>variant</th><th>from</th><th>seeds</th><th>shard</th><th>runs</th></tr></thead><tbody>
{{range .Ranges}}<tr><td>{{.Scenario}}</td><td>{{.Variant}}</td><td class="n">{{.From}}</td><td class="n">{{.Seeds}}</td><td>{{if .Shards}}{{len .Shards}} of {{.Shard.Count}}{{else}}{{.Shard}}{{end}}</td><td class="n">{{.Runs}}</td></tr>
{{end}}</tbody></table></details>{{end}}
<pre id="selfcheck" hidden></pre>
<script>` + pageScript + `</script>
</body></html>
`))
