package replay

import (
	"encoding/json"
	"fmt"
	"html"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/smilingraft/dsim/internal/headless"
	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

var kvLin struct {
	once sync.Once
	f    *File
	err  error
}

// kvLinFile returns the failure file of kv/unsafe-lease seed 1 with one
// client and a 5 s fault phase, no plan (the regression corpus's shape):
// lease reads on a cut-off leader with a slow clock return stale values, and
// porcupine finds it at the end of the run, seconds after the stale read.
func kvLinFile(t *testing.T) *File {
	t.Helper()
	kvLin.once.Do(func() {
		base, err := scenarios.Lookup("kv/unsafe-lease")
		if err != nil {
			kvLin.err = err
			return
		}
		s := *base
		s.Duration = 5 * sim.Second
		v := scenarios.Variant{"kv.clients": "1"}
		res := scenarios.Run(&s, v, 1, scenarios.Config{Plan: &sim.Plan{}})
		if res.Failure == nil || res.Failure.Checker != "linearizability" {
			kvLin.err = fmt.Errorf("kv/unsafe-lease seed 1: want a linearizability failure, got %+v", res.Failure)
			return
		}
		kvLin.f = FromResult(res, "test")
		kvLin.f.Duration = s.Duration
		kvLin.f.Capture(40, 0)
	})
	if kvLin.err != nil {
		t.Fatal(kvLin.err)
	}
	return kvLin.f
}

// The failure of an unsafe KV scenario names, beside the end-of-run event
// where porcupine ran, the moment the history broke: the return event of
// the first operation that cannot be linearized, whose invoke and return
// (and those of the prefix's operations) are real trace lines on their
// clients' lanes.
func TestLinearizabilityFailureHasItsMoment(t *testing.T) {
	f := kvLinFile(t)
	fail := f.Failure
	m := fail.Moment
	if m == nil {
		t.Fatalf("no moment in %s", fail.Error())
	}
	if m.Event == 0 || m.Event >= fail.Event || m.VTime >= fail.VTime {
		t.Fatalf("moment event %d (%v) is not before the end of the run (event %d, %v)", m.Event, m.VTime, fail.Event, fail.VTime)
	}
	var culprit *sim.MomentOp
	linearized := 0
	for i, o := range m.Ops {
		switch o.Role {
		case "illegal":
			if culprit == nil {
				culprit = &m.Ops[i]
			}
		case "linearized":
			linearized++
		default:
			t.Fatalf("op %d: role %q", i, o.Role)
		}
	}
	if culprit == nil || linearized == 0 {
		t.Fatalf("evidence ops %+v: want the prefix's end and the culprit", m.Ops)
	}
	if culprit.ReturnEvent != m.Event || culprit.Return != m.VTime || !strings.HasPrefix(culprit.Op, "get(") {
		t.Fatalf("moment %d (%v) is not the culprit's return: %+v", m.Event, m.VTime, culprit)
	}
	// Every op of the evidence sits on its trace lines.
	s, v, cfg, err := f.Config()
	if err != nil {
		t.Fatal(err)
	}
	tail := NewTail(1)
	tail.Keep = true
	cfg.Trace = tail.Writer()
	scenarios.Run(s, v, f.Seed, cfg)
	type at struct {
		i          uint64
		kind, node string
	}
	lines := map[at]sim.TraceEvent{}
	for _, e := range tail.Kept {
		lines[at{e.Index, e.Kind, e.Node}] = e
	}
	for _, o := range m.Ops {
		c, ok := lines[at{o.CallEvent, "invoke", o.Lane}]
		r, ok2 := lines[at{o.ReturnEvent, "return", o.Lane}]
		if !ok || !ok2 || c.Time != o.Call || r.Time != o.Return {
			t.Fatalf("op %+v: no invoke/return trace line of %s at events %d/%d with its times", o, o.Lane, o.CallEvent, o.ReturnEvent)
		}
	}
	// Replay finds the same moment and the trace up to it.
	out, err := Replay(f, Options{Window: 10})
	if err != nil || !out.Same {
		t.Fatalf("replay: %v %v", err, out.Diffs)
	}
	if d := cmp.Diff(m, out.Result.Failure.Moment); d != "" {
		t.Fatalf("replay's moment differs (-file +replay):\n%s", d)
	}
	if w := out.MomentWindow; len(w) != 10 || w[len(w)-1].Index != m.Event {
		t.Fatalf("moment window %d events ending at %+v, want 10 ending at event %d", len(w), w[len(w)-1], m.Event)
	}
	// The moment survives the failure file; a file without one (written
	// before moments existed) still loads and replays the same.
	dir := t.TempDir()
	path, err := f.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	g, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(m, g.Failure.Moment); d != "" {
		t.Fatalf("moment after a round trip (-want +got):\n%s", d)
	}
	b, _ := os.ReadFile(path)
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	delete(raw["failure"].(map[string]any), "moment")
	b, _ = json.Marshal(raw)
	old, err := Parse("old.json", b)
	if err != nil || old.Failure.Moment != nil {
		t.Fatalf("a file without a moment: %v", err)
	}
	if out, err := Replay(old, Options{Window: 5}); err != nil || !out.Same || out.Result.Failure.Moment == nil || len(out.MomentWindow) != 5 {
		t.Fatalf("old file replay: same=%v diffs=%v window=%d", out.Same, out.Diffs, len(out.MomentWindow))
	}
}

// dsim explain samples a linearizability failure up to its moment, not up
// to the end of the run where porcupine detected it.
func TestExplainStopsAtTheMoment(t *testing.T) {
	f := kvLinFile(t)
	m := f.Failure.Moment
	x, err := Explain(f, ExplainOptions{Forks: 2, Points: 3, Refine: -1, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if x.FailEvent != m.Event || x.Detected != f.Failure.Event {
		t.Fatalf("explain's failure event %d (detected %d), want the moment %d (detected %d)", x.FailEvent, x.Detected, m.Event, f.Failure.Event)
	}
	for _, p := range x.Points {
		if p.K >= m.Event {
			t.Fatalf("sampled event %d at or past the moment %d", p.K, m.Event)
		}
	}
}

// The page of a linearizability failure carries the moment at the
// culprit's return row and the evidence's operations on client lanes, and
// (in a headless Chromium, when there is one) opens on the moment with
// them drawn, not on the end of the run.
func TestPageOpensAtTheMoment(t *testing.T) {
	f := kvLinFile(t)
	m := f.Failure.Moment
	rec := record(t, f)
	page := writePage(t, rec)
	b, _ := os.ReadFile(page)
	js := regexp.MustCompile(`(?s)<script type="application/json" id="data">(.*?)</script>`).FindSubmatch(b)
	var d struct {
		Lanes  []string `json:"lanes"`
		Moment []any    `json:"moment"`
		Ops    [][]any  `json:"ops"`
	}
	if js == nil || json.Unmarshal(js[1], &d) != nil || len(d.Moment) != 5 {
		t.Fatalf("no moment in the page's data")
	}
	row := int(d.Moment[3].(float64))
	if row < 0 || rec.Events[row].Index != m.Event || rec.Events[row].Kind != "return" {
		t.Fatalf("moment row %d is not the culprit's return at event %d", row, m.Event)
	}
	if len(d.Ops) != len(m.Ops) {
		t.Fatalf("page has %d ops of %d", len(d.Ops), len(m.Ops))
	}
	for i, o := range d.Ops {
		if d.Lanes[int(o[0].(float64))] != m.Ops[i].Lane {
			t.Fatalf("op %d on lane %v, want %s", i, o[0], m.Ops[i].Lane)
		}
	}
	bin := headless.Browser()
	if bin == "" {
		t.Skip("SKIPPED the browser half: no chromium binary on PATH")
	}
	dom := headless.Render(t, bin, page)
	sc := regexp.MustCompile(`(?s)<pre id="selfcheck"[^>]*>(.*?)</pre>`).FindSubmatch(dom)
	if sc == nil {
		t.Fatal("no self-check in the DOM")
	}
	var self struct {
		MomentDrawn bool       `json:"momentDrawn"`
		Ops         int        `json:"ops"`
		View        [2]float64 `json:"view"`
		FailureText string     `json:"failureText"`
		Errors      []string   `json:"errors"`
	}
	if err := json.Unmarshal([]byte(html.UnescapeString(string(sc[1]))), &self); err != nil {
		t.Fatal(err)
	}
	if len(self.Errors) > 0 {
		t.Fatalf("script errors: %v", self.Errors)
	}
	at := float64(m.VTime)
	if !self.MomentDrawn || self.Ops != len(m.Ops) || at < self.View[0] || at > self.View[1] || self.View[1] >= float64(f.Failure.VTime) {
		t.Fatalf("page opened on %v..%v with moment drawn=%v, %d ops; want the moment %v in view, the run's end %v out of it",
			self.View[0], self.View[1], self.MomentDrawn, self.Ops, m.VTime, f.Failure.VTime)
	}
	if !strings.Contains(self.FailureText, "moment") {
		t.Fatalf("failure text %q does not name the moment", self.FailureText)
	}
}

// A run whose moment lies further from its end than the page's event cap
// keeps the events up to shortly after the moment, not the latest ones,
// so the page still opens on it.
func TestRecordingKeepsTheMomentOfALongRun(t *testing.T) {
	f := kvLinFile(t)
	m := f.Failure.Moment
	rec, err := Record(f, RecordOptions{MaxEvents: 500})
	if err != nil || !rec.Outcome.Same {
		t.Fatalf("record: %v", err)
	}
	n := len(rec.Events)
	if rec.Through == 0 || n == 0 || n > 500 || rec.Events[n-1].Index > rec.Through || rec.Events[0].Index > m.Event || rec.Events[n-1].Index < m.Event {
		t.Fatalf("kept %d events (through %d) of a run of %d: want at most 500 around the moment %d", n, rec.Through, f.Events, m.Event)
	}
	d, _ := momentData(m, rec.Events, rec.Timeline())
	if row := d[3].(int); row < 0 || rec.Events[row].Index != m.Event {
		t.Fatalf("moment row %d", row)
	}
	// A file from before moments: the run finds it and is recorded again
	// around it.
	g, fail := *f, *f.Failure
	fail.Moment, g.Failure = nil, &fail
	old, err := Record(&g, RecordOptions{MaxEvents: 500})
	if err != nil || old.File != &g || !old.Outcome.Same || old.Through != rec.Through || len(old.Events) != n {
		t.Fatalf("old file: %v, through %d (want %d), %d events", err, old.Through, rec.Through, len(old.Events))
	}
}
