package rsm

import (
	"errors"
	"fmt"
	"strconv"
	"testing"

	"github.com/smilingraft/dsim/nodes/raft"
	"github.com/smilingraft/dsim/sim"
)

// counter is the lab's test service: "inc" adds one and returns the new
// value, "null" does nothing, "dec" must never run (it fails the world),
// "get" reads the value (also as a Query).
type counter struct {
	env  *sim.Env
	n    int
	runs int // DoOp calls in this incarnation
}

func (c *counter) DoOp(op []byte) []byte {
	c.runs++
	switch string(op) {
	case "inc":
		c.n++
		return []byte(strconv.Itoa(c.n))
	case "null":
		return nil
	case "get":
		return []byte(strconv.Itoa(c.n))
	case "dec":
		c.env.Fail("test.dec", "dec executed")
		c.n--
		return nil
	}
	c.env.Fail("test.op", "unknown op %q", op)
	return nil
}

func (c *counter) Query(op []byte) []byte { return []byte(strconv.Itoa(c.n)) }

func (c *counter) Snapshot() []byte { return []byte(strconv.Itoa(c.n)) }

func (c *counter) Restore(b []byte) {
	n, err := strconv.Atoi(string(b))
	if err != nil {
		c.env.Fail("test.restore", "bad counter snapshot %q", b)
		return
	}
	c.n = n
}

// applyOnlyCounter is a counter that is also a ResultlessApplier, and
// counts the ops it applied without a result.
type applyOnlyCounter struct {
	*counter
	only int
}

func (c *applyOnlyCounter) ApplyOnly(op []byte) {
	c.only++
	c.DoOp(op)
}

// appendCounter is a counter that is also a ResultAppender, and counts the
// results it appended to a buffer with room.
type appendCounter struct {
	*counter
	reused int
}

func (c *appendCounter) AppendDoOp(dst, op []byte) []byte {
	if cap(dst) > 0 {
		c.reused++
	}
	return append(dst, c.DoOp(op)...)
}

// host is a server: an RSM around a counter (an applyOnlyCounter if
// applyOnly, an appendCounter if appender).
type host struct {
	cfg       Config
	s         *RSM
	sm        *counter
	applyOnly bool
	ao        *applyOnlyCounter
	appender  bool
	ap        *appendCounter
}

func (h *host) Start(env *sim.Env) {
	h.sm = &counter{env: env}
	var sm StateMachine = h.sm
	switch {
	case h.applyOnly:
		h.ao = &applyOnlyCounter{counter: h.sm}
		sm = h.ao
	case h.appender:
		h.ap = &appendCounter{counter: h.sm}
		sm = h.ap
	}
	s, err := New(env, h.cfg, sm)
	if err != nil {
		env.Fail("test.setup", "%v", err)
		return
	}
	h.s = s
}

func (h *host) Receive(from sim.NodeID, msg sim.Message) {
	if h.s != nil {
		h.s.Step(from, msg)
	}
}

func (h *host) Role() (uint64, bool) {
	if h.s == nil {
		return 0, false
	}
	return h.s.Raft().State()
}

// world is a tiny test world of n RSM servers on a reliable network.
type world struct {
	t   testing.TB
	w   *sim.World
	ids []sim.NodeID
	cfg []Config
}

func newWorld(t testing.TB, n int, seed uint64, mod func(*Config)) *world {
	return newHostWorld(t, n, seed, mod, nil)
}

// newHostWorld is newWorld with each host first passed to hmod (if not
// nil), for the tests of a host's optional state machine interfaces.
func newHostWorld(t testing.TB, n int, seed uint64, mod func(*Config), hmod func(*host)) *world {
	w := &world{t: t, w: sim.NewWorld(seed, sim.Options{Net: sim.NetOptions{DelayMin: 100 * sim.Microsecond, DelayMax: 2 * sim.Millisecond}})}
	for i := 0; i < n; i++ {
		w.ids = append(w.ids, sim.NodeID(i))
	}
	for i := 0; i < n; i++ {
		cfg := Config{Raft: raft.Config{Me: i, Peers: w.ids, FastBackup: true}, MaxRaftState: -1}
		if mod != nil {
			mod(&cfg)
		}
		w.cfg = append(w.cfg, cfg)
	}
	for i := 0; i < n; i++ {
		i := i
		w.w.AddNode(fmt.Sprintf("s%d", i), func() sim.Node {
			h := &host{cfg: w.cfg[i]}
			if hmod != nil {
				hmod(h)
			}
			return h
		})
	}
	return w
}

// host returns server i's current incarnation (nil while down).
func (w *world) host(i int) *host {
	h, _ := w.w.Node(w.ids[i]).(*host)
	if h == nil || h.s == nil || !w.w.Up(w.ids[i]) {
		return nil
	}
	return h
}

// run advances virtual time, failing the test on a world failure.
func (w *world) run(d sim.Duration) {
	w.t.Helper()
	w.w.RunFor(d)
	if f := w.w.Failure(); f != nil {
		w.t.Fatalf("failure: %v", f)
	}
}

// leader waits up to 5s for a server that believes it leads.
func (w *world) leader() int {
	w.t.Helper()
	for k := 0; k < 50; k++ {
		for i := range w.ids {
			if h := w.host(i); h != nil {
				if _, l := h.Role(); l {
					return i
				}
			}
		}
		w.run(100 * sim.Millisecond)
	}
	w.t.Fatal("no leader within 5s")
	return -1
}

type reply struct {
	done bool
	res  []byte
	err  error
}

// submitTo submits on server i and returns a reply filled in when cb runs.
func (w *world) submitTo(i int, client, seq uint64, op string) *reply {
	r := &reply{}
	h := w.host(i)
	if h == nil {
		r.done, r.err = true, ErrWrongLeader
		return r
	}
	h.s.Submit(client, seq, []byte(op), func(res []byte, err error) {
		if r.done {
			w.t.Errorf("callback ran twice for %s", op)
		}
		r.done, r.res, r.err = true, res, err
	})
	return r
}

// do is the lab's helper: try each server, starting at the last leader,
// until one answers OK, for up to 10s.
func (w *world) do(client, seq uint64, op string) string {
	w.t.Helper()
	for k := 0; k < 200; k++ {
		for i := range w.ids {
			r := w.submitTo(i, client, seq, op)
			for t := 0; t < 100 && !r.done; t++ {
				w.run(10 * sim.Millisecond)
			}
			if r.done && r.err == nil {
				return string(r.res)
			}
			if r.done && !errors.Is(r.err, ErrWrongLeader) {
				w.t.Fatalf("%s: %v", op, r.err)
			}
		}
		w.run(50 * sim.Millisecond)
	}
	w.t.Fatalf("%s (client %d seq %d) never succeeded", op, client, seq)
	return ""
}

// counters returns every running server's counter value.
func (w *world) counters() []int {
	var out []int
	for i := range w.ids {
		if h := w.host(i); h != nil {
			out = append(out, h.sm.n)
		}
	}
	return out
}
