// Package kvsrv registers the single-server KV scenarios (kvsrv/...) and the
// lock scenarios (lock/...): every test of the 6.5840 kvsrv lab (LABS.md
// §2.2) with its bounds, and a swarm of the faults one unreplicated,
// volatile server can face (loss, duplication, delay, reordering, clogs,
// pauses, one-way cuts between clients and server; never a crash, which
// would lose its state by design).
//
// Every scenario checks its client history for linearizability with
// porcupine (an unknown verdict is a failure, never a pass), acknowledged
// Puts for durability in the final state, and, for the lock, mutual
// exclusion online; each reports "ops_during_faults", the operations that
// completed while sim.World.FaultActive held. The history conversion,
// checker registration and fault annotations (Harness, History) are exported
// for the KV-on-Raft scenarios.
//
// Where dsim differs from the lab tester: the reliable network delays
// messages 0.5-3ms and keeps each link FIFO; the unreliable one drops 10% of
// all messages and delays them U[0,27ms), as labrpc drops 10% of requests
// and 10% of replies; clerks time an attempt out after kvsrv.timeout_ms
// (labrpc's Call has no timeout); mem-many-clients runs 1000 clerks on 10
// client nodes (kvsrv.clerks) and bounds the server's accounted state bytes
// instead of the Go heap; porcupine also checks the version a Get returns.
//
// It may import sim, scenarios, checkers/kvcheck and nodes/kv.
package kvsrv

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/smilingraft/dsim/checkers/kvcheck"
	"github.com/smilingraft/dsim/nodes/kv"
	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// Checker names, as they appear in failures.
const (
	Linearizability = "linearizability"
	Durability      = "durability"
	MutualExclusion = "mutual-exclusion"
)

// Picture is the artifact name of porcupine's annotated HTML picture of a
// linearizability violation (scenarios.Cluster.Artifact): campaigns write it
// next to the failure file, and replay regenerates it.
const Picture = "porcupine.html"

// Harness is the client side of a KV scenario: it counts operations that
// complete under faults, keeps a timeline of the active faults for the
// picture, and registers the KV checkers.
type Harness struct {
	C *scenarios.Cluster
	// Annotations are extra timeline marks (leader changes, ...) the
	// scenario adds; fault intervals are recorded automatically.
	Annotations []kvcheck.Annotation
	// PorcupineTimeout bounds the linearizability search (default 10s).
	PorcupineTimeout time.Duration

	ops, faultOps int
	faults        string // the active faults, joined, since faultsSince
	faultsSince   sim.Time
	// key is sim.World.AppendFaultKey when faults was last computed
	// (valid while keyOK): an unchanged key means unchanged faults.
	key, next []int64
	keyOK     bool

	// hist is History at histEvents events and histLen operations: the
	// end-of-run checks share one conversion (neither changes it).
	hist       []kvcheck.Op
	histEvents uint64
	histLen    int
}

// history returns History(h.C.W), converted again only if the world moved
// on since the last call.
func (h *Harness) history() []kvcheck.Op {
	w := h.C.W
	if h.hist == nil || h.histEvents != w.Events() || h.histLen != len(w.History()) {
		h.hist, h.histEvents, h.histLen = History(w), w.Events(), len(w.History())
	}
	return h.hist
}

// NewHarness returns a harness on c that reports ops_during_faults (also
// as scenarios.WorkUnderFaults) and, when the run ends, the latency of the
// KV operations that returned (op_latency_p50_ns, _p99_ns, _max_ns,
// _count: virtual time from a clerk's call to its return, retries
// inside; see scenarios.Distribution).
func NewHarness(c *scenarios.Cluster) *Harness {
	h := &Harness{C: c}
	c.Metric("ops_during_faults", 0)
	c.Metric(scenarios.WorkUnderFaults, 0)
	c.Cleanup(func() { c.Distribution("op_latency_ns", h.opLatencies()) })
	// The op counts are recorded once, when the run ends: a run's
	// metrics are read only then (after every cleanup), so this is what
	// recording them at every op left, at a map write per op less.
	c.Cleanup(func() {
		if h.ops > 0 {
			c.Metric("ops", float64(h.ops))
		}
		c.Metric("ops_during_faults", float64(h.faultOps))
		c.Metric(scenarios.WorkUnderFaults, float64(h.faultOps))
	})
	return h
}

// opLatencies returns the latency in nanoseconds of every KV operation of
// the world's history that returned, in invocation order, from the history
// the checks converted (converting it only if they did not).
func (h *Harness) opLatencies() []float64 {
	hist := h.history()
	out := make([]float64, 0, len(hist))
	for i := range hist {
		if o := &hist[i]; !o.Pending {
			out = append(out, float64(o.Return-o.Call))
		}
	}
	return out
}

// Done records that a client operation completed now: clients call it from
// every operation's callback.
func (h *Harness) Done() {
	h.ops++
	h.Sample()
	if h.faults != "" {
		h.faultOps++
	}
}

// FaultOps returns the operations that completed while a fault was active.
func (h *Harness) FaultOps() int { return h.faultOps }

// Sample notes the faults active now, closing the previous interval of the
// fault timeline when they changed. Done calls it; scenarios may call it
// more often for a finer picture.
func (h *Harness) Sample() {
	w := h.C.W
	h.next = w.AppendFaultKey(h.next[:0])
	if h.keyOK && slices.Equal(h.next, h.key) {
		return // the same faults as at the last sample: h.faults is current
	}
	h.key, h.next, h.keyOK = h.next, h.key, true
	now := ""
	if w.FaultActive() {
		now = strings.Join(w.ActiveFaults(), ", ")
	}
	if now == h.faults {
		return
	}
	h.closeFaults()
	h.faults, h.faultsSince = now, w.Now()
}

func (h *Harness) closeFaults() {
	h.keyOK = false
	if h.faults == "" {
		return
	}
	desc := h.faults
	if len(desc) > 60 {
		desc = desc[:57] + "..."
	}
	h.Annotations = append(h.Annotations, kvcheck.Annotation{Tag: "faults", Start: int64(h.faultsSince),
		End: int64(h.C.W.Now()), Description: desc, Details: h.faults})
	h.faults = ""
}

// History converts the world's KV operations (those recorded by kv.Clerk)
// into kvcheck ops, numbering clients from 0 in order of appearance.
func History(w *sim.World) []kvcheck.Op { return HistoryWhere(w, nil) }

// HistoryWhere is History of the operations keep accepts (nil: all), e.g.
// without a sharded KV controller's own reads and writes of its state.
func HistoryWhere(w *sim.World, keep func(in kv.OpInput) bool) []kvcheck.Op {
	clients := map[uint64]int{}
	hist := w.History()
	out := make([]kvcheck.Op, 0, len(hist))
	for i := range hist {
		o := &hist[i]
		in, ok := kv.InputOf(o.Input)
		if !ok || keep != nil && !keep(in) {
			continue
		}
		c, seen := clients[in.Client]
		if !seen {
			c = len(clients)
			clients[in.Client] = c
		}
		out = append(out, kvcheck.Op{}) // filled in place: no copy of a big struct
		op := &out[len(out)-1]
		*op = kvcheck.Op{Client: c, Put: in.Kind == kv.KindPut, Key: in.Key, Value: in.Value, Version: in.Version,
			Call: int64(o.Call), Return: int64(o.Return), Pending: o.Pending(),
			ID: o.ID, CallEvent: o.CallEvent, ReturnEvent: o.ReturnEvent}
		if res, ok := kv.OutputOf(o.Output); ok {
			op.Err = string(res.Err)
			if !op.Put {
				op.Value, op.Version = res.Value, res.Version
			}
		}
	}
	return out
}

// Check registers the linearizability checker (porcupine over History; an
// unknown verdict leaves the run undecided, never passed) and, when final is not
// nil, the durability checker over the state final returns at the end.
func (h *Harness) Check(final func() map[string]kvcheck.State) {
	c := h.C
	c.Check(Linearizability, func() error {
		h.Sample()
		h.closeFaults()
		res := kvcheck.Check(h.history(), kvcheck.Options{Timeout: h.PorcupineTimeout, Annotations: h.Annotations})
		c.Metric("porcupine_wall_ns", float64(res.Elapsed.Nanoseconds()))
		c.Metric("porcupine_keys", float64(res.Keys))
		switch res.Outcome {
		case kvcheck.Illegal:
			c.Artifact(Picture, res.HTML)
		case kvcheck.Unknown:
			return &scenarios.Undecided{Reason: res.Err().Error()}
		}
		return Located(c.W, res)
	})
	if final != nil {
		c.Check(Durability, func() error { return kvcheck.Durable(h.history(), final()) })
	}
}

// MomentPrefixOps bounds how many operations of each key's longest
// linearizable prefix a failure's moment keeps (the last ones before the
// culprit, and the last one of each other client); MomentKeys bounds the
// keys it names.
const (
	MomentPrefixOps = 16
	MomentKeys      = 4
)

// Located returns res.Err(), and for a violation an error that carries
// the moment porcupine's evidence points at (scenarios.Evidence): the
// return of the first operation that cannot be linearized, of the key
// where that happens earliest, with the end of each broken key's longest
// linearizable prefix and its culprit on their clients' lanes.
func Located(w *sim.World, res kvcheck.Result) error {
	err := res.Err()
	if err == nil || res.Outcome != kvcheck.Illegal || len(res.Evidence) == 0 {
		return err
	}
	hist := w.History()
	lane := func(o kvcheck.Op) string {
		if o.ID >= 0 && o.ID < len(hist) {
			return w.Name(sim.NodeID(hist[o.ID].Client))
		}
		return fmt.Sprintf("client%d", o.Client)
	}
	mop := func(o kvcheck.Op, role string) sim.MomentOp {
		m := sim.MomentOp{Lane: lane(o), Op: o.Describe(), Group: o.Key, Role: role, Call: sim.Time(o.Call),
			Return: sim.Time(o.Return), CallEvent: o.CallEvent, ReturnEvent: o.ReturnEvent}
		if o.Pending {
			m.Return, m.ReturnEvent = -1, 0
		}
		return m
	}
	first := res.Evidence[0]
	c := first.Culprit
	m := &sim.Moment{Event: c.ReturnEvent, VTime: sim.Time(c.Return)}
	if c.Pending { // it never returned: point at its call
		m.Event, m.VTime = c.CallEvent, sim.Time(c.Call)
	}
	m.Why = fmt.Sprintf("%s by %s cannot be linearized after the longest linearizable prefix of key %q (%d ops)",
		c.Describe(), lane(c), c.Key, len(first.Prefix))
	if n := len(res.Evidence); n > 1 {
		m.Why += fmt.Sprintf("; %d more keys broken", n-1)
	}
	for i, ev := range res.Evidence {
		if i == MomentKeys {
			break
		}
		// The prefix's last operations, and the last one of every other
		// client (the writer a stale read missed, say).
		pre := ev.Prefix
		keep := make([]bool, len(pre))
		seen := map[int]bool{}
		for i := len(pre) - 1; i >= 0; i-- {
			if i >= len(pre)-MomentPrefixOps || !seen[pre[i].Client] {
				keep[i] = true
			}
			seen[pre[i].Client] = true
		}
		for i, o := range pre {
			if keep[i] {
				m.Ops = append(m.Ops, mop(o, "linearized"))
			}
		}
		m.Ops = append(m.Ops, mop(ev.Culprit, "illegal"))
	}
	return &scenarios.Evidence{Err: err, Moment: m}
}

// StoreState converts a kv.Store's state into kvcheck's.
func StoreState(s *kv.Store) map[string]kvcheck.State {
	out := map[string]kvcheck.State{}
	for k, e := range s.Entries() {
		out[k] = kvcheck.State{Value: e.Value, Version: e.Version}
	}
	return out
}

// host is a client node: on every boot it runs the scenario's program with
// its env.
type host struct {
	boot func(env *sim.Env)
}

func (h *host) Start(env *sim.Env)              { h.boot(env) }
func (h *host) Receive(sim.NodeID, sim.Message) {}

// AddClient adds a client node named name whose boot runs prog.
func AddClient(c *scenarios.Cluster, name string, prog func(env *sim.Env)) sim.NodeID {
	return c.W.AddNode(name, func() sim.Node { return &host{boot: prog} })
}

// failf fails the run as checker with a formatted message.
func failf(c *scenarios.Cluster, checker, format string, args ...any) {
	c.W.Fail(checker, "%s", fmt.Sprintf(format, args...))
}
