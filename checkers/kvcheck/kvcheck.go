// Package kvcheck checks histories of a versioned key/value service (the
// 6.5840 kvsrv/kvraft API, LABS.md §1.6 and §2.2): linearizability with
// porcupine over a model partitioned by key (after a cheap search for a
// verified witness linearization of each key, which alone can answer Ok),
// with an annotated HTML picture of a violation; durability of acknowledged
// Puts in a final state; and mutual exclusion of a lock, online.
//
// It knows no node package: histories come in its own plain Op type, which a
// scenario fills from the world's history, and errors are the lab's names as
// strings. It may import sim and porcupine.
package kvcheck

import (
	"bytes"
	"fmt"
	"sort"
	"time"

	"github.com/anishathalye/porcupine"
)

// The outcomes an operation may report, named as in the lab.
const (
	OK         = "OK"
	ErrNoKey   = "ErrNoKey"
	ErrVersion = "ErrVersion"
	ErrMaybe   = "ErrMaybe"
)

// Op is one completed (or pending) client operation on one key.
type Op struct {
	// Client numbers the client, from 0: one lane of the picture.
	Client int
	// Put is true for Put(Key, Value, Version), false for Get(Key).
	Put     bool
	Key     string
	Value   string // Put: the value written; Get: the value returned
	Version uint64 // Put: the version expected; Get: the version returned
	Err     string // the outcome (OK, ErrNoKey, ErrVersion, ErrMaybe)
	// Call and Return are virtual times in ns. Pending ops (no return) have
	// Pending set: a pending Put may or may not have applied, at any time
	// after Call; a pending Get is dropped.
	Call, Return int64
	Pending      bool
	// ID, CallEvent and ReturnEvent locate the operation in the run (its
	// sim.Operation.ID and the trace events of its invoke and return):
	// Check does not read them, it hands them back in Evidence.
	ID                     int
	CallEvent, ReturnEvent uint64
}

// State is one key's model state; the initial state is ("", 0).
type State struct {
	Value   string
	Version uint64
}

// Outcome is a linearizability verdict.
type Outcome string

// The verdicts. Unknown (porcupine ran out of time) is never a pass.
const (
	Ok      Outcome = "ok"
	Illegal Outcome = "illegal"
	Unknown Outcome = "unknown"
)

// Annotation marks a fault on the picture's timeline: a partition, a crash,
// a pause, a leader change. End == Start is a point in time.
type Annotation struct {
	Tag         string // the lane, e.g. "faults" or a server name
	Start, End  int64  // virtual times in ns
	Description string
	Details     string
}

// Options tune Check.
type Options struct {
	// Timeout bounds porcupine's search (default 10s of wall time).
	Timeout time.Duration
	// Annotations are drawn on the picture of a violation.
	Annotations []Annotation
	// NoPicture skips the HTML visualization of a violation.
	NoPicture bool
}

// Result is Check's verdict.
type Result struct {
	Outcome Outcome
	// Keys is how many keys (partitions) were checked.
	Keys int
	// Ops is how many operations were checked (pending Gets dropped).
	Ops int
	// HTML is porcupine's annotated visualization when Outcome is Illegal.
	HTML []byte
	// Elapsed is the wall time porcupine took.
	Elapsed time.Duration
	// Evidence, when Outcome is Illegal, is porcupine's account of every
	// key that is not linearizable, the earliest culprit first.
	Evidence []Evidence
}

// Evidence is porcupine's account of one key whose history is not
// linearizable: the longest linearizable prefix it found and the first
// operation that cannot follow it. Porcupine's search gets stuck at the
// return of the operation that returns first among those the prefix left
// out: none of the operations it could still linearize leads to a state
// in which that one is legal. Its return is where the history broke.
type Evidence struct {
	Key string
	// Prefix is the longest linearizable prefix, in linearization order
	// (of several equally long ones, the first in lexicographic order of
	// their operations' positions in the history, so the choice does not
	// depend on porcupine's map iteration).
	Prefix []Op
	// Culprit is the first operation that cannot be linearized after
	// Prefix (a pending Put has Pending set and no return).
	Culprit Op
}

// Err returns nil for Ok and a one-line error otherwise.
func (r Result) Err() error {
	switch r.Outcome {
	case Ok:
		return nil
	case Unknown:
		return fmt.Errorf("unknown: porcupine timed out after %v on %d ops over %d keys (not a pass)", r.Elapsed.Round(time.Millisecond), r.Ops, r.Keys)
	}
	return fmt.Errorf("history of %d ops over %d keys is not linearizable", r.Ops, r.Keys)
}

// Model is the porcupine model of the versioned KV, partitioned by key. Its
// inputs and outputs are Ops (the op carries both).
//   - Get is legal iff it returns the model's value and version (OK), or
//     ErrNoKey while the key has version 0. The lab checks the value only;
//     checking the version too is stricter and still exact.
//   - Put(v, ver) at model version ver: OK or ErrMaybe, the state becomes
//     (v, ver+1). At another version: ErrVersion or ErrMaybe, no change,
//     or ErrNoKey if the key has version 0 and ver > 0.
//     ErrMaybe therefore means "applied iff the version matched at the
//     linearization point".
//
// Porcupine holds the model's states as *State, never mutated: a step that
// leaves the state unchanged returns the same pointer, so only a Put that
// applies allocates (a State value would be boxed anew at every step).
var Model = porcupine.Model{
	Partition: partitionHistory,
	Init:      func() interface{} { return &State{} },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		return step(state.(*State), input.(*Op))
	},
	Equal:             func(a, b interface{}) bool { return *a.(*State) == *b.(*State) },
	Hash:              func(state interface{}) uint64 { return hashState(*state.(*State)) },
	DescribeOperation: func(input, output interface{}) string { return describe(*input.(*Op)) },
	DescribeState: func(state interface{}) string {
		s := state.(*State)
		return fmt.Sprintf("%q@v%d", short(s.Value), s.Version)
	},
}

func step(s *State, op *Op) (bool, interface{}) {
	if !op.Put {
		switch op.Err {
		case OK:
			return op.Value == s.Value && op.Version == s.Version && s.Version > 0, s
		case ErrNoKey:
			return s.Version == 0, s
		}
		return false, s
	}
	if op.Version == s.Version {
		if op.Err != OK && op.Err != ErrMaybe {
			return false, s
		}
		return true, &State{Value: op.Value, Version: s.Version + 1}
	}
	switch op.Err {
	case ErrVersion, ErrMaybe:
		return true, s
	case ErrNoKey:
		return s.Version == 0 && op.Version > 0, s
	}
	return false, s
}

// hashState is FNV-1a over the version and value: equal states hash equal,
// which lets porcupine skip most state comparisons in its cache.
func hashState(s State) uint64 {
	h := uint64(14695981039346656037) ^ s.Version
	h *= 1099511628211
	for i := 0; i < len(s.Value); i++ {
		h ^= uint64(s.Value[i])
		h *= 1099511628211
	}
	return h
}

// partitionHistory is porcupine's partition of a history (Operations'
// form) by key.
func partitionHistory(history []porcupine.Operation) [][]porcupine.Operation {
	return partition(history, func(o porcupine.Operation) string { return o.Input.(*Op).Key })
}

// partitionByKey splits ops by key.
func partitionByKey(ops []*Op) [][]*Op {
	return partition(ops, func(o *Op) string { return o.Key })
}

// partition splits xs by key, keys in order of first appearance, each
// key's elements in order.
func partition[T any](xs []T, key func(T) string) [][]T {
	// Two passes: count each key's elements, then fill partitions
	// allocated once.
	idx := map[string]int{}
	part := make([]int, len(xs))
	var counts []int
	for j, x := range xs {
		k := key(x)
		i, ok := idx[k]
		if !ok {
			i = len(counts)
			idx[k] = i
			counts = append(counts, 0)
		}
		part[j] = i
		counts[i]++
	}
	out := make([][]T, len(counts))
	for i, n := range counts {
		out[i] = make([]T, 0, n)
	}
	for j, x := range xs {
		out[part[j]] = append(out[part[j]], x)
	}
	return out
}

func describe(op Op) string {
	if op.Put {
		return fmt.Sprintf("put(%q, %q, v%d) -> %s", op.Key, short(op.Value), op.Version, op.Err)
	}
	if op.Err != OK {
		return fmt.Sprintf("get(%q) -> %s", op.Key, op.Err)
	}
	return fmt.Sprintf("get(%q) -> %q@v%d", op.Key, short(op.Value), op.Version)
}

func short(s string) string {
	if len(s) > 24 {
		return s[:21] + "..."
	}
	return s
}

// Operations converts ops into porcupine's form: pending Gets dropped,
// pending Puts given ErrMaybe and a return after everything else. Input and
// Output are one *Op (a copy of the caller's), boxed once.
func Operations(ops []Op) []porcupine.Operation {
	ps := prepare(ops)
	copies := make([]Op, len(ps))
	out := make([]porcupine.Operation, len(ps))
	for i, o := range ps {
		copies[i] = *o
		p := &copies[i]
		out[i] = porcupine.Operation{ClientId: p.Client, Input: p, Output: p, Call: p.Call, Return: p.Return}
	}
	return out
}

// prepare returns the operations to check, as Operations says, in order:
// pointers into ops, except for pending Puts, which point to adjusted
// copies (ops itself is never changed).
func prepare(ops []Op) []*Op {
	var last int64
	n, pendingPuts := 0, 0
	for i := range ops {
		o := &ops[i]
		if !o.Pending && o.Return > last {
			last = o.Return
		}
		if o.Call > last {
			last = o.Call
		}
		if !o.Pending || o.Put {
			n++
		}
		if o.Pending && o.Put {
			pendingPuts++
		}
	}
	out := make([]*Op, 0, n)
	copies := make([]Op, 0, pendingPuts)
	for i := range ops {
		o := &ops[i]
		if o.Pending {
			if !o.Put {
				continue
			}
			copies = append(copies, *o)
			o = &copies[len(copies)-1]
			o.Err = ErrMaybe
			o.Return = last + 1
		}
		out = append(out, o)
	}
	return out
}

// Check decides whether ops are linearizable under Model: Ok at once when
// every key has a verified witness linearization, else by porcupine's
// search. On Illegal it
// fills Result.Evidence (where each broken key broke) and renders
// porcupine's visualization with opts' annotations into Result.HTML.
func Check(ops []Op, opts Options) Result {
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	ps := prepare(ops)
	parts := partitionByKey(ps)
	res := Result{Keys: len(parts), Ops: len(ps)}
	start := time.Now()
	// A verified linearization of every key (witness.go) proves the history
	// linearizable at a fraction of porcupine's cost; anything else is
	// porcupine's to decide, draw and explain, as without it.
	if witnessParts(parts) {
		res.Outcome, res.Elapsed = Ok, time.Since(start)
		return res
	}
	hist := Operations(ops)
	// The plain check is much cheaper than the verbose one, which also
	// records partial linearizations for the picture: run that only to draw
	// a violation.
	verdict := porcupine.CheckOperationsTimeout(Model, hist, opts.Timeout)
	var info porcupine.LinearizationInfo
	if verdict == porcupine.Illegal {
		verdict, info = porcupine.CheckOperationsVerbose(Model, hist, opts.Timeout)
	}
	res.Elapsed = time.Since(start)
	switch verdict {
	case porcupine.Ok:
		res.Outcome = Ok
	case porcupine.Illegal:
		res.Outcome = Illegal
	default:
		res.Outcome = Unknown
	}
	if res.Outcome == Illegal {
		res.Evidence = evidence(hist, info)
		if !opts.NoPicture {
			res.HTML = Picture(info, opts.Annotations)
		}
	}
	return res
}

// evidence extracts, for every partition (key) that is not linearizable,
// the longest partial linearization porcupine recorded and the operation
// at whose return its search got stuck. hist is what was checked;
// porcupine numbers each partition's operations in the order Partition
// returns them, which is deterministic.
func evidence(hist []porcupine.Operation, info porcupine.LinearizationInfo) []Evidence {
	parts := partitionHistory(hist)
	partials := info.PartialLinearizations()
	var out []Evidence
	for p, ops := range parts {
		var best []int
		if p < len(partials) {
			for _, seq := range partials[p] {
				if len(seq) > len(best) || len(seq) == len(best) && lexLess(seq, best) {
					best = seq
				}
			}
		}
		if len(best) >= len(ops) {
			continue // this key is linearizable
		}
		in := make([]bool, len(ops))
		ev := Evidence{Key: ops[0].Input.(*Op).Key}
		for _, id := range best {
			if id >= 0 && id < len(ops) {
				in[id] = true
				ev.Prefix = append(ev.Prefix, *ops[id].Input.(*Op))
			}
		}
		c := -1
		for id, o := range ops {
			if in[id] {
				continue
			}
			if c < 0 || o.Return < ops[c].Return || o.Return == ops[c].Return && o.Call < ops[c].Call {
				c = id
			}
		}
		ev.Culprit = *ops[c].Input.(*Op)
		out = append(out, ev)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Culprit, out[j].Culprit
		if a.Pending != b.Pending {
			return !a.Pending
		}
		if a.Return != b.Return {
			return a.Return < b.Return
		}
		return a.Call < b.Call
	})
	return out
}

func lexLess(a, b []int) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return len(a) < len(b)
}

// Describe describes the operation and its outcome in one line, as the
// picture does.
func (o Op) Describe() string { return describe(o) }

// Picture renders porcupine's HTML visualization of info with annotations.
func Picture(info porcupine.LinearizationInfo, annotations []Annotation) []byte {
	var pa []porcupine.Annotation
	for _, a := range annotations {
		end := a.End
		if end < a.Start {
			end = a.Start
		}
		pa = append(pa, porcupine.Annotation{Tag: a.Tag, Start: a.Start, End: end,
			Description: a.Description, Details: a.Details, BackgroundColor: "#f6d5c8"})
	}
	info.AddAnnotations(pa)
	var buf bytes.Buffer
	if err := porcupine.Visualize(Model, info, &buf); err != nil {
		return []byte("<!-- visualization failed: " + err.Error() + " -->")
	}
	return buf.Bytes()
}

// Durable checks that every acknowledged (OK) Put is visible in final, the
// service's state after the liveness phase: the key's version is past the
// Put's, and if it is exactly the Put's new version, the value is the Put's.
// A later Put may overwrite it, never a loss.
func Durable(ops []Op, final map[string]State) error {
	// The usual case, nothing lost, needs no sort: only a loss is reported,
	// the first in key order (then history order) as the sorted pass finds.
	lost := false
	for i := range ops {
		if durableErr(&ops[i], final) != nil {
			lost = true
			break
		}
	}
	if !lost {
		return nil
	}
	sorted := append([]Op(nil), ops...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Key < sorted[j].Key })
	for i := range sorted {
		if err := durableErr(&sorted[i], final); err != nil {
			return err
		}
	}
	return nil
}

// durableErr is Durable's verdict on one op.
func durableErr(o *Op, final map[string]State) error {
	if !o.Put || o.Pending || o.Err != OK {
		return nil
	}
	f := final[o.Key]
	switch {
	case f.Version < o.Version+1:
		return fmt.Errorf("acknowledged put(%q, %q, v%d) lost: final state %q@v%d", o.Key, short(o.Value), o.Version, short(f.Value), f.Version)
	case f.Version == o.Version+1 && f.Value != o.Value:
		return fmt.Errorf("acknowledged put(%q, %q, v%d) lost: final version v%d holds %q", o.Key, short(o.Value), o.Version, f.Version, short(f.Value))
	}
	return nil
}

// Mutex checks mutual exclusion online: the caller reports each acquisition
// (when Acquire returns to the holder) and each release (when Release is
// called, before the lock is given up), with virtual time.
type Mutex struct {
	holder string
	since  int64
	held   bool
	// Acquisitions counts successful acquisitions.
	Acquisitions int
}

// Acquired records that holder got the lock at time t; it fails if another
// holder still has it.
func (m *Mutex) Acquired(holder string, t int64) error {
	if m.held {
		return fmt.Errorf("%s acquired the lock at %dns while %s held it since %dns: two holders", holder, t, m.holder, m.since)
	}
	m.holder, m.since, m.held = holder, t, true
	m.Acquisitions++
	return nil
}

// Released records that holder gives the lock up at time t; it fails if the
// holder did not hold it.
func (m *Mutex) Released(holder string, t int64) error {
	if !m.held || m.holder != holder {
		return fmt.Errorf("%s released the lock at %dns without holding it (holder %q)", holder, t, m.holder)
	}
	m.held = false
	return nil
}
