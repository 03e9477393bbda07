package replay

import (
	"fmt"
	"html/template"
	"io"

	"github.com/smilingraft/dsim/sim"
)

// HTML writes a self-contained HTML timeline of events: one lane per node,
// events placed by virtual time and coloured by kind (hover for details),
// the failure marked in red, and the event list underneath.
func HTML(w io.Writer, f *File, evs []sim.TraceEvent, fail *sim.Failure) error {
	type dot struct {
		X, Y    float64
		Color   string
		Title   string
		Failure bool
	}
	type lane struct {
		Name string
		Y    float64
	}
	lanes := map[string]int{}
	var names []string
	for _, e := range evs {
		n := e.Node
		if n == "" {
			n = "world"
		}
		if _, ok := lanes[n]; !ok {
			lanes[n] = len(names)
			names = append(names, n)
		}
	}
	var t0, t1 sim.Time
	if len(evs) > 0 {
		t0, t1 = evs[0].Time, evs[len(evs)-1].Time
	}
	span := float64(t1 - t0)
	if span <= 0 {
		span = 1
	}
	const left, width, laneH = 120.0, 1000.0, 28.0
	colors := map[string]string{"send": "#4a90d9", "deliver": "#2e7d32", "drop": "#9e9e9e", "timer": "#8e24aa",
		"crash": "#d32f2f", "start": "#ef6c00", "pause": "#6d4c41", "resume": "#6d4c41", "net": "#00838f",
		"netopts": "#00838f", "disk": "#5d4037", "clock": "#c2185b", "invoke": "#1565c0", "return": "#1b5e20",
		"action": "#f9a825", "fail": "#ff0000", "log": "#757575"}
	var dots []dot
	var failX float64 = -1
	rows := make([]string, 0, len(evs))
	for _, e := range evs {
		n := e.Node
		if n == "" {
			n = "world"
		}
		c := colors[e.Kind]
		if c == "" {
			c = "#000"
		}
		x := left + width*float64(e.Time-t0)/span
		isFail := e.Kind == "fail" || (fail != nil && fail.Event > 0 && e.Index == fail.Event)
		if isFail {
			failX = x
		}
		dots = append(dots, dot{X: x, Y: 20 + laneH*float64(lanes[n]), Color: c, Title: FormatEvent(e), Failure: isFail})
		rows = append(rows, FormatEvent(e))
	}
	var ls []lane
	for i, n := range names {
		ls = append(ls, lane{Name: n, Y: 20 + laneH*float64(i)})
	}
	title := "dsim timeline"
	failure := ""
	if f != nil {
		title = fmt.Sprintf("%s seed %d", f.Scenario, f.Seed)
		if f.Variant != "" {
			title += " [" + f.Variant + "]"
		}
	}
	if fail != nil {
		failure = fail.Error()
	}
	data := map[string]any{
		"Title": title, "Failure": failure, "Lanes": ls, "Dots": dots, "FailX": failX,
		"Width": left + width + 20, "Height": 30 + laneH*float64(len(names)), "Right": left + width,
		"From": t0.String(), "To": t1.String(), "Rows": rows, "Colors": colors,
	}
	return page.Execute(w, data)
}

var page = template.Must(template.New("timeline").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:1em}
.fail{color:#c00;font-weight:bold}
pre{font-size:12px;max-height:30em;overflow:auto;background:#f6f6f6;padding:.5em}
.legend span{display:inline-block;margin-right:1em;font-size:12px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:3px}
svg{border:1px solid #ddd}
</style></head><body>
<h1>{{.Title}}</h1>
{{if .Failure}}<p class="fail">{{.Failure}}</p>{{end}}
<p>virtual time {{.From}} … {{.To}}; hover an event for details.</p>
<div class="legend">{{range $k, $c := .Colors}}<span><i style="background:{{$c}}"></i>{{$k}}</span>{{end}}</div>
<svg xmlns="http://www.w3.org/2000/svg" width="{{.Width}}" height="{{.Height}}">
{{range .Lanes}}<text x="4" y="{{.Y}}" dy="4" font-size="12">{{.Name}}</text><line x1="120" x2="{{$.Right}}" y1="{{.Y}}" y2="{{.Y}}" stroke="#eee"/>
{{end}}{{if ge .FailX 0.0}}<line x1="{{.FailX}}" x2="{{.FailX}}" y1="0" y2="{{.Height}}" stroke="red" stroke-width="2"/>{{end}}
{{range .Dots}}<circle cx="{{.X}}" cy="{{.Y}}" r="{{if .Failure}}7{{else}}3{{end}}" fill="{{.Color}}"><title>{{.Title}}</title></circle>
{{end}}</svg>
<h2>Events</h2>
<pre>{{range .Rows}}{{.}}
{{end}}</pre>
</body></html>
`))
