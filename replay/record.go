package replay

import (
	"fmt"
	"time"

	"github.com/smilingraft/dsim/sim"
)

// Recording is a replayed failure seen from outside the system: the trace
// (up to a cap, the events nearest the failure kept) and the state a trace
// line does not carry, sampled through the world after every event and
// stored only when it changes: each node's role and term (sim.Roler, so
// every system with a notion of leadership gets it), whether it is up or
// paused, and which one-way links are cut. The HTML page and the Perfetto
// and ShiViz exports are drawn from it.
type Recording struct {
	File    *File
	Outcome *Outcome
	// Events are the trace events kept, in trace order.
	Events []sim.TraceEvent
	// Capped is true when the run had more trace events than the cap: the
	// earliest ones were left out and Events starts at Events[0].Index.
	Capped bool
	// Through, when set, is the last event index kept: the failure's
	// moment lies further than the cap from the end of the run, so the
	// events kept are those up to shortly after it.
	Through uint64
	// Nodes are the world's nodes in NodeID order (Roles, Procs and Links
	// index them).
	Nodes []string
	Roles []RoleSample
	Procs []ProcSample
	Links []LinkSample
}

// RoleSample says node Node reported (Term, Leader) from event I on.
type RoleSample struct {
	I      uint64
	T      sim.Time
	Node   int
	Term   uint64
	Leader bool
}

// ProcSample says node Node was up (or crashed) and paused or not from
// event I on.
type ProcSample struct {
	I      uint64
	T      sim.Time
	Node   int
	Up     bool
	Paused bool
}

// LinkSample says the one-way link From -> To was cut (or restored) at
// event I.
type LinkSample struct {
	I        uint64
	T        sim.Time
	From, To int
	Cut      bool
}

// RecordOptions tune Record.
type RecordOptions struct {
	// MaxEvents caps the trace events kept (default DefaultMaxEvents); the
	// latest are kept, since the run ends at the failure.
	MaxEvents int
	// Window is how many events before the failure Outcome.Window keeps.
	Window int
	// Limit is the wall-clock limit of the run (0: none).
	Limit time.Duration
	// Fork, when set, is called with the world before the run starts
	// (dsim explain's continuations use it); the recording run is then no
	// longer a replay of the file.
	Fork func(w *sim.World)
}

// DefaultMaxEvents is the default cap on the trace events a Recording
// keeps: enough for every failure of the default campaign's short
// scenarios, small enough that the HTML page stays a few megabytes.
const DefaultMaxEvents = 30_000

// maxLinkNodes bounds the nodes whose links are sampled after each event
// (n^2 reads per event).
const maxLinkNodes = 32

// Record replays f like Replay and records it (see Recording). The
// sampling reads the world only, so the run and its trace hash are those
// of a plain replay.
func Record(f *File, o RecordOptions) (*Recording, error) {
	s, v, cfg, err := f.Config()
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	if o.MaxEvents <= 0 {
		o.MaxEvents = DefaultMaxEvents
	}
	if o.Window <= 0 {
		o.Window = 40
	}
	rec := &Recording{File: f}
	t := NewTail(o.Window)
	t.Keep, t.KeepLimit = true, o.MaxEvents
	if m := f.Failure.Moment; m != nil && m.Event > 0 && f.Events > m.Event && f.Events-m.Event >= uint64(o.MaxEvents)*9/10 {
		// The latest events would leave the moment out: keep the cap's
		// worth up to a tenth of it past the moment instead.
		t.KeepThrough = m.Event + uint64(o.MaxEvents)/10
		rec.Through = t.KeepThrough
	}
	if n := len(f.TraceTail); n > 0 {
		t.From, t.To = f.TraceTail[0].Index, f.TraceTail[n-1].Index
	}
	cfg.Trace = t.Writer()
	smp := &sampler{rec: rec}
	cfg.Observe = func(w *sim.World) {
		smp.w = w
		w.AfterEvent(smp.sample)
		if o.Fork != nil {
			o.Fork(w)
		}
	}
	res := RunLimited(s, v, f.Seed, cfg, o.Limit)
	if res.Failure != nil && res.Failure.Checker == HangChecker {
		return nil, fmt.Errorf("replay: %s", res.Failure.Message)
	}
	if smp.w != nil {
		smp.sample() // the state the run ended in (a checker at the end)
		for i := 0; i < smp.w.NumNodes(); i++ {
			rec.Nodes = append(rec.Nodes, smp.w.Name(sim.NodeID(i)))
		}
	}
	kept := t.Kept
	if len(kept) > o.MaxEvents {
		kept = kept[len(kept)-o.MaxEvents:]
	}
	rec.Capped = len(kept) > 0 && kept[0].Index > 0
	rec.Events = kept
	out := &Outcome{Result: res, Window: t.Events(), Kept: kept}
	if m := f.Failure.Moment; m != nil {
		out.MomentWindow = before(kept, m.Event, o.Window)
	} else if res.Failure != nil && res.Failure.Moment != nil {
		out.MomentWindow = before(kept, res.Failure.Moment.Event, o.Window)
	}
	out.Diffs = Compare(f, res)
	if len(f.TraceTail) > 0 && res.Failure != nil {
		out.FirstDiff = firstDiff(f.TraceTail, t.Range)
	}
	out.Same = len(out.Diffs) == 0
	rec.Outcome = out
	if m := res.Failure; f.Failure.Moment == nil && o.Fork == nil && m != nil && m.Moment != nil && rec.Capped && len(kept) > 0 && m.Moment.Event < kept[0].Index {
		// A file from before failures had moments: now that the run
		// found one the latest events leave out, record it again around it.
		g, fail := *f, *f.Failure
		fail.Moment, g.Failure, g.Events = m.Moment, &fail, res.Events
		if again, err := Record(&g, o); err == nil && again.Through > 0 {
			again.File = f
			return again, nil
		}
	}
	return rec, nil
}

// sampler reads every node's role, process state and links after each
// event and appends a sample when one changed.
type sampler struct {
	rec   *Recording
	w     *sim.World
	roles []RoleSample
	procs []ProcSample
	cut   [][]bool
}

func (s *sampler) sample() {
	w := s.w
	n := w.NumNodes()
	i, t := w.Events(), w.Now()
	for id := len(s.procs); id < n; id++ {
		s.procs = append(s.procs, ProcSample{Node: id, Up: true})
		s.roles = append(s.roles, RoleSample{Node: id})
	}
	for id := 0; id < n; id++ {
		nid := sim.NodeID(id)
		up, paused := w.Up(nid), w.Paused(nid)
		if p := &s.procs[id]; p.Up != up || p.Paused != paused {
			p.Up, p.Paused, p.I, p.T = up, paused, i, t
			s.rec.Procs = append(s.rec.Procs, *p)
		}
		var term uint64
		var leader bool
		if up {
			if r, ok := w.Node(nid).(sim.Roler); ok {
				term, leader = r.Role()
			}
		}
		if r := &s.roles[id]; r.Term != term || r.Leader != leader {
			r.Term, r.Leader, r.I, r.T = term, leader, i, t
			s.rec.Roles = append(s.rec.Roles, *r)
		}
	}
	m := min(n, maxLinkNodes)
	for len(s.cut) < m {
		s.cut = append(s.cut, nil)
	}
	for a := 0; a < m; a++ {
		for len(s.cut[a]) < m {
			s.cut[a] = append(s.cut[a], false)
		}
		for b := 0; b < m; b++ {
			if a == b {
				continue
			}
			c := !w.Linked(sim.NodeID(a), sim.NodeID(b))
			if c != s.cut[a][b] {
				s.cut[a][b] = c
				s.rec.Links = append(s.rec.Links, LinkSample{I: i, T: t, From: a, To: b, Cut: c})
			}
		}
	}
}

// before returns the last n events of evs with an index at most k.
func before(evs []sim.TraceEvent, k uint64, n int) []sim.TraceEvent {
	end := len(evs)
	for end > 0 && evs[end-1].Index > k {
		end--
	}
	return evs[max(0, end-n):end]
}
