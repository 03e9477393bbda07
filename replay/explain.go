package replay

import (
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/smilingraft/dsim/sim"
)

// ExplainOptions tune Explain. Zero fields take the defaults.
type ExplainOptions struct {
	// Forks is how many continuations run from each sampled event (M).
	Forks int
	// Points is how many event indexes are sampled evenly over the run up
	// to the failure (K) before the window is refined.
	Points int
	// Refine is how many more points bisection may add inside the window
	// (negative: none).
	Refine int
	// Width: refinement stops once the window spans at most this many
	// events.
	Width uint64
	// Near is what "near 1" means: the share of failing continuations from
	// which the failure counts as inevitable.
	Near float64
	// Budget is the wall time aimed at; forks and points are cut down to
	// fit it (judged by the time of one run) and refinement stops once it
	// is spent.
	Budget time.Duration
	// Workers run continuations in parallel (default: GOMAXPROCS).
	Workers int
	// Limit is each run's wall-clock watchdog (0: none).
	Limit time.Duration
}

// Default explain budget: points x forks.
const (
	DefaultForks  = 20
	DefaultPoints = 16
	DefaultRefine = 10
)

func (o *ExplainOptions) defaults() {
	if o.Forks <= 0 {
		o.Forks = DefaultForks
	}
	if o.Points <= 1 {
		o.Points = DefaultPoints
	}
	switch {
	case o.Refine == 0:
		o.Refine = DefaultRefine
	case o.Refine < 0:
		o.Refine = 0
	}
	if o.Width == 0 {
		o.Width = 8
	}
	if o.Near <= 0 || o.Near > 1 {
		o.Near = 0.9
	}
	if o.Budget <= 0 {
		o.Budget = 45 * time.Second
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
}

// Point is P(failure | the first K events) estimated from Runs
// continuations forked after event K, Fails of which failed.
type Point struct {
	K     uint64   `json:"k"`
	T     sim.Time `json:"vtime_ns"`
	Fails int      `json:"fails"`
	Runs  int      `json:"runs"`
}

// P is the share of continuations that failed.
func (p Point) P() float64 {
	if p.Runs == 0 {
		return 0
	}
	return float64(p.Fails) / float64(p.Runs)
}

// Explanation is what Explain found: the curve, and the window of events
// in which the run went from the base rate to near-certain failure.
type Explanation struct {
	Scenario  string `json:"scenario"`
	Seed      uint64 `json:"seed"`
	Checker   string `json:"checker"`
	FailEvent uint64 `json:"fail_event"`
	// Detected is the event at which the checker detected the failure,
	// when its evidence places it earlier (sim.Failure.Moment): FailEvent
	// is then that moment, and the curve is sampled up to it.
	Detected uint64  `json:"detected_event,omitempty"`
	Forks    int     `json:"forks"`
	Points   []Point `json:"points"`
	// Base is P at the first point: how often the run fails when
	// everything after its first event is drawn afresh.
	Base float64 `json:"base"`
	Near float64 `json:"near"`
	// Lo and Hi bound the window (Lo, Hi]: P(Lo) < Near and from Hi on
	// every sampled point is at least Near. Found is false when the run
	// was doomed from its first event (no window) — then Note says so.
	Found bool     `json:"found"`
	Lo    uint64   `json:"window_from"`
	Hi    uint64   `json:"window_to"`
	LoT   sim.Time `json:"window_from_vtime_ns"`
	HiT   sim.Time `json:"window_to_vtime_ns"`
	// Mid is half way from Base to Near; Leave is the edge (a, b] where P
	// crossed it and Reach the edge where it crossed Near. The window is
	// (Leave[0], Reach[1]].
	Mid   float64   `json:"mid"`
	Leave [2]uint64 `json:"leave"`
	Reach [2]uint64 `json:"reach"`
	// Decisive are the trace events in the window (timers left out).
	Decisive []sim.TraceEvent `json:"decisive"`
	Note     string           `json:"note,omitempty"`
	Runs     int              `json:"runs"`
	Wall     time.Duration    `json:"wall_ns"`
	Workers  int              `json:"workers"`
	Reduced  string           `json:"reduced,omitempty"`
}

// forkSalt is continuation j's salt: the same at every k (common random
// numbers), so the curve's differences come from the prefix, not the draw.
func forkSalt(j int) uint64 { return uint64(j+1) * 0x9e3779b97f4a7c15 }

// Explain answers: at which event did this failing run become doomed? For
// event indexes k sampled over the run up to its failure it replays the
// file's run to k, forks it (sim.World.Fork re-seeds the network, disk and
// workload streams — the plan's later actions are kept, node streams
// continue) and runs Forks continuations to the end, estimating
// P(failure | the first k events). It then names the window where that
// jumps from the base rate to near 1, refined by bisection, and the events
// in it. Runs are independent and their salts fixed, so the answer does
// not depend on scheduling.
func Explain(f *File, o ExplainOptions) (*Explanation, error) {
	o.defaults()
	start := time.Now()
	if f.Failure != nil && f.Failure.Checker == DivergenceChecker {
		return nil, fmt.Errorf("explain: a determinism failure (two runs of one seed differ) fails at no event of one run; replay it to compare the two runs")
	}
	s, v, cfg, err := f.Config()
	if err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	base := RunLimited(s, v, f.Seed, cfg, o.Limit)
	one := time.Since(start)
	if base.Failure == nil || base.Failure.Checker == HangChecker || f.Failure == nil ||
		base.Failure.Checker != f.Failure.Checker || base.Failure.Event != f.Failure.Event {
		got := "it passed"
		if base.Failure != nil {
			got = base.Failure.Error()
		}
		return nil, fmt.Errorf("explain: the file does not reproduce (%s); replay it to see what differs", Escape(got))
	}
	fe, ft := base.Failure.Event, base.Failure.VTime
	x := &Explanation{Scenario: f.Scenario, Seed: f.Seed, Checker: base.Failure.Checker, FailEvent: fe,
		Near: o.Near, Workers: o.Workers}
	if m := base.Failure.Moment; m != nil && m.Event > 0 && m.Event < fe {
		// An offline checker detected it at the end; its evidence says
		// when it happened: that is the event the run was doomed by.
		x.Detected = fe
		fe, ft = m.Event, m.VTime
		x.FailEvent = fe
	}
	if fe < 2 {
		x.Note = "the run fails at its first event: nothing to explain"
		x.Wall = time.Since(start)
		return x, nil
	}
	// Fit the budget: a continuation that passes runs on to the end, so
	// count two baseline runs for one.
	per := 2 * max(one, 100*time.Microsecond)
	afford := int(o.Budget / per * time.Duration(o.Workers))
	if need := (o.Points + o.Refine) * o.Forks; need > afford {
		m := max(4, afford/(o.Points+o.Refine))
		k := o.Points
		if m < o.Forks {
			o.Forks = m
		}
		if (k+o.Refine)*o.Forks > afford {
			k = max(4, afford/o.Forks-o.Refine)
			o.Points = min(o.Points, k)
		}
		x.Reduced = fmt.Sprintf("one run takes %v: cut to %d forks x %d points to fit the %v budget", one.Round(time.Millisecond), o.Forks, o.Points, o.Budget)
	}
	x.Forks = o.Forks
	last := fe - 1
	ks := map[uint64]bool{}
	var first []uint64
	for i := 0; i < o.Points; i++ {
		k := 1 + uint64(i)*(last-1)/uint64(o.Points-1)
		if !ks[k] {
			ks[k] = true
			first = append(first, k)
		}
	}
	pts := map[uint64]*Point{}
	eval := func(list []uint64) {
		res := forkRuns(f, list, o)
		for _, p := range res {
			pts[p.K] = p
		}
		x.Runs += len(list) * o.Forks
	}
	eval(first)
	sorted := func() []Point {
		out := make([]Point, 0, len(pts))
		for _, p := range pts {
			out = append(out, *p)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].K < out[j].K })
		return out
	}
	ps := sorted()
	x.Base = ps[0].P()
	x.Mid = x.Base + (o.Near-x.Base)/2
	// edge finds the first point from which every later one is at least
	// thr, and the point before it: P crosses thr between them.
	edge := func(ps []Point, thr float64) (lo, up Point, ok bool) {
		i := len(ps)
		for i > 0 && ps[i-1].P() >= thr {
			i--
		}
		if i == 0 {
			return Point{}, Point{}, false
		}
		if i == len(ps) {
			// Never there before the failing event: the edge ends at it.
			return ps[i-1], Point{K: fe, T: ft, Fails: 1, Runs: 1}, true
		}
		return ps[i-1], ps[i], true
	}
	// refine bisects (lo, up] where P crosses thr, within half the
	// refinement budget each.
	refine := func(lo, up Point, thr float64, steps int) (Point, Point) {
		for r := 0; r < steps && up.K-lo.K > o.Width && time.Since(start) < o.Budget; r++ {
			m := lo.K + (up.K-lo.K)/2
			if pts[m] == nil {
				eval([]uint64{m})
			}
			if p := *pts[m]; p.P() >= thr {
				up = p
			} else {
				lo = p
			}
		}
		return lo, up
	}
	hl, hu, ok := edge(ps, o.Near)
	if !ok {
		x.Note = fmt.Sprintf("doomed from the start: %.0f%% of the continuations forked after event %d fail", 100*ps[0].P(), ps[0].K)
		x.Points = ps
		x.Wall = time.Since(start)
		return x, nil
	}
	// Where P leaves the base rate: it crosses half way to Near, at or
	// before the point where it reaches Near.
	var upto []Point
	for _, p := range ps {
		if p.K <= hu.K {
			upto = append(upto, p)
		}
	}
	ll, lu, ok := edge(upto, x.Mid)
	if !ok || lu.K > hu.K {
		ll, lu = hl, hu
	}
	hl, hu = refine(hl, hu, o.Near, (o.Refine+1)/2)
	if ll.K < hl.K {
		ll, lu = refine(ll, lu, x.Mid, o.Refine/2)
	} else {
		ll, lu = hl, hu
	}
	x.Found = true
	x.Lo, x.Hi, x.LoT, x.HiT = ll.K, hu.K, ll.T, hu.T
	x.Leave = [2]uint64{ll.K, lu.K}
	x.Reach = [2]uint64{hl.K, hu.K}
	x.Points = sorted()
	x.Decisive = windowEvents(f, x.Lo+1, x.Hi, x.Leave, x.Reach, o.Limit)
	x.Wall = time.Since(start)
	return x, nil
}

// forkRuns runs o.Forks continuations from each k in ks on o.Workers
// goroutines and returns one Point per k.
func forkRuns(f *File, ks []uint64, o ExplainOptions) []*Point {
	type job struct{ p, j int }
	out := make([]*Point, len(ks))
	for i, k := range ks {
		out[i] = &Point{K: k, Runs: o.Forks}
	}
	times := make([]sim.Time, len(ks))
	fails := make([][]bool, len(ks))
	for i := range fails {
		fails[i] = make([]bool, o.Forks)
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	for w := 0; w < o.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for jb := range jobs {
				s, v, cfg, err := f.Config()
				if err != nil {
					continue
				}
				k, salt := ks[jb.p], forkSalt(jb.j)
				var at sim.Time
				cfg.Observe = func(w *sim.World) {
					w.AfterEvent(func() {
						if w.Events() == k {
							at = w.Now()
							w.Fork(salt)
						}
					})
				}
				res := RunLimited(s, v, f.Seed, cfg, o.Limit)
				fails[jb.p][jb.j] = res.Failure != nil
				if jb.j == 0 {
					times[jb.p] = at
				}
			}
		}()
	}
	for p := range ks {
		for j := 0; j < o.Forks; j++ {
			jobs <- job{p, j}
		}
	}
	close(jobs)
	wg.Wait()
	for i := range out {
		out[i].T = times[i]
		for _, b := range fails[i] {
			if b {
				out[i].Fails++
			}
		}
	}
	return out
}

// windowEvents replays the file once more and returns the decisive trace
// events with indexes in [from, to]: every fault, crash, restart, clock
// change and note (a leader elected) in it, and the sends, deliveries and
// drops inside the two edges (lo, up] where P left the base rate and where
// it reached near 1. Timers are left out.
func windowEvents(f *File, from, to uint64, leave, reach [2]uint64, limit time.Duration) []sim.TraceEvent {
	s, v, cfg, err := f.Config()
	if err != nil {
		return nil
	}
	t := NewTail(1)
	t.From, t.To = from, to
	cfg.Trace = t.Writer()
	RunLimited(s, v, f.Seed, cfg, limit)
	var out []sim.TraceEvent
	in := func(i uint64, e [2]uint64) bool { return i > e[0] && i <= e[1] }
	for _, e := range t.Range {
		switch e.Kind {
		case "timer":
		case "send", "deliver", "drop", "log", "invoke", "return":
			if in(e.Index, leave) || in(e.Index, reach) {
				out = append(out, e)
			}
		default:
			out = append(out, e)
		}
	}
	return out
}

// Print writes the curve and the window as text.
func (x *Explanation) Print(w io.Writer, maxEvents int) {
	fmt.Fprintf(w, "explain %s seed %d: %s at event %d", x.Scenario, x.Seed, Escape(x.Checker), x.FailEvent)
	if x.Detected > 0 {
		fmt.Fprintf(w, " (the moment its evidence points at; detected at event %d)", x.Detected)
	}
	fmt.Fprintln(w)
	if x.Reduced != "" {
		fmt.Fprintf(w, "  (%s)\n", x.Reduced)
	}
	fmt.Fprintf(w, "%d continuations (%d per point, %d points) in %v on %d workers\n", x.Runs, x.Forks, len(x.Points), x.Wall.Round(time.Millisecond), x.Workers)
	fmt.Fprintf(w, "%10s %14s  %s\n", "after k", "vtime", "P(failure | first k events)")
	for _, p := range x.Points {
		mark := "  "
		if x.Found && p.K > x.Lo && p.K <= x.Hi {
			mark = "<-"
		}
		bar := strings.Repeat("#", int(p.P()*40+0.5))
		fmt.Fprintf(w, "%10d %14v  %4.2f %-40s %s\n", p.K, p.T, p.P(), bar, mark)
	}
	if x.Note != "" {
		fmt.Fprintf(w, "%s\n", x.Note)
	}
	if !x.Found {
		return
	}
	fmt.Fprintf(w, "%s\n", x.Summary())
	fmt.Fprintf(w, "decisive events (%d: faults, crashes, clock changes and notes in the window; sends, deliveries and drops at its two edges):\n", len(x.Decisive))
	evs := x.Decisive
	if maxEvents > 0 && len(evs) > maxEvents {
		evs = evs[:maxEvents]
	}
	PrintTimeline(w, evs, nil)
	if len(evs) < len(x.Decisive) {
		fmt.Fprintf(w, "  ... %d more ('dsim replay FILE --trace' prints them)\n", len(x.Decisive)-len(evs))
	}
}

// Summary says in one line where the failure became inevitable.
func (x *Explanation) Summary() string {
	if !x.Found {
		return x.Note
	}
	return fmt.Sprintf("decisive window: events %d..%d (vtime %v .. %v, %d events): P(failure) leaves the base rate %.2f (crosses %.2f) within events %d..%d and reaches %.2f+ within events %d..%d",
		x.Lo+1, x.Hi, x.LoT, x.HiT, x.Hi-x.Lo, x.Base, x.Mid, x.Leave[0]+1, x.Leave[1], x.Near, x.Reach[0]+1, x.Reach[1])
}

// pageJSON is what the HTML page draws.
func (x *Explanation) pageJSON() any {
	pts := make([][3]any, 0, len(x.Points))
	for _, p := range x.Points {
		pts = append(pts, [3]any{p.K, p.P(), int64(p.T)})
	}
	var win any
	if x.Found {
		win = []any{x.Lo, x.Hi, int64(x.LoT), int64(x.HiT)}
	}
	return map[string]any{"points": pts, "base": x.Base, "last": x.FailEvent, "window": win, "leave": x.Leave, "reach": x.Reach,
		"summary": fmt.Sprintf("%s\n%d continuations, %d per point, in %v.", x.Summary(), x.Runs, x.Forks, x.Wall.Round(time.Millisecond))}
}
