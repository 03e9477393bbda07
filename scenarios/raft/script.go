package raft

import (
	"bytes"
	"fmt"

	"github.com/smilingraft/dsim/checkers/raftcheck"
	"github.com/smilingraft/dsim/sim"
)

// step is one step of a script in virtual time: it does its work, possibly
// over many events, and then calls k. A step that finds a violation fails
// the world and never calls k, which ends the script.
type step func(k func())

// seq runs steps one after the other.
func seq(steps ...step) step {
	return func(k func()) { runSteps(steps, 0, k) }
}

func runSteps(steps []step, i int, k func()) {
	if i == len(steps) {
		k()
		return
	}
	steps[i](func() { runSteps(steps, i+1, k) })
}

// loop runs body(0), body(1), ... body(n-1) one after the other.
func loop(n int, body func(i int) step) step {
	return func(k func()) {
		var next func(i int)
		next = func(i int) {
			if i == n {
				k()
				return
			}
			body(i)(func() { next(i + 1) })
		}
		next(0)
	}
}

// do runs fn and goes on at once.
func do(fn func()) step { return func(k func()) { fn(); k() } }

// script starts s at time zero; when it finishes the run stops (the lab
// tests end there), passing unless a check failed.
func (h *harness) script(s step) {
	h.at = "start"
	h.w.At(0, func() {
		s(func() {
			h.done = true
			h.at = ""
			h.c.Metric("script_ns", float64(h.w.Now()))
			h.w.Stop()
		})
	})
}

// label names the script's current step (shown if the script gets stuck).
func (h *harness) label(what string) step { return do(func() { h.at = what }) }

// sleep waits d of virtual time.
func (h *harness) sleep(d sim.Duration) step {
	return func(k func()) {
		h.w.After(d, func() {
			if !h.stopped() {
				k()
			}
		})
	}
}

// wait runs k after d unless the run failed meanwhile.
func (h *harness) wait(d sim.Duration, k func()) { h.sleep(d)(k) }

// checkOneLeader polls like the tester: up to 10 times, sleep 450-550 ms and
// look for leaders among the connected servers; two in one term fail, none
// after ten tries fails. It stores the leader of the newest term in *out.
func (h *harness) checkOneLeader(out *int) step {
	return func(k func()) {
		var try func(iter int)
		try = func(iter int) {
			if iter == 10 {
				h.fail(raftcheck.Liveness, "expected one leader among the connected servers, got none")
				return
			}
			h.wait(450*sim.Millisecond+sim.Duration(h.c.Workload.Intn(100))*sim.Millisecond, func() {
				leaders := map[uint64][]int{}
				for i := 0; i < h.n; i++ {
					if h.up(i) {
						if term, lead := h.state(i); lead {
							leaders[term] = append(leaders[term], i)
						}
					}
				}
				last := uint64(0)
				for term, ls := range leaders {
					if len(ls) > 1 {
						h.fail(raftcheck.ElectionSafety, "term %d has %d leaders %v", term, len(ls), ls)
						return
					}
					if term > last {
						last = term
					}
				}
				if len(leaders) == 0 {
					try(iter + 1)
					return
				}
				if out != nil {
					*out = leaders[last][0]
				}
				k()
			})
		}
		try(0)
	}
}

// checkTerms checks that every connected server has the same term and
// stores it in *out.
func (h *harness) checkTerms(out *uint64) step {
	return do(func() {
		term := uint64(0)
		for i := 0; i < h.n; i++ {
			if h.up(i) {
				t, _ := h.state(i)
				if term == 0 {
					term = t
				} else if t != term {
					h.fail("raft.terms", "servers disagree on the term: %d vs %d", term, t)
					return
				}
			}
		}
		if out != nil {
			*out = term
		}
	})
}

// checkNoLeader fails if a connected server claims leadership.
func (h *harness) checkNoLeader() step {
	return do(func() {
		for i := 0; i < h.n; i++ {
			if h.up(i) {
				if _, lead := h.state(i); lead {
					h.fail("raft.no-leader", "server %d claims leadership but should not (no majority connected)", i)
					return
				}
			}
		}
	})
}

// start calls Start(cmd) on server i; it reports (index, term, ok).
func (h *harness) start(i int, cmd []byte) (uint64, uint64, bool) {
	r := h.rf(i)
	if r == nil {
		return 0, 0, false
	}
	return r.Start(cmd)
}

// one is the tester's one(): submit cmd to a leader and wait until at least
// expected servers applied it at the returned index; with retry it tries
// again (other leaders, new terms) for up to 10 s. The index goes to *out.
func (h *harness) one(cmd []byte, expected int, retry bool, out *uint64) step {
	return func(k func()) {
		t0 := h.w.Now()
		starts := 0
		var attempt func()
		attempt = func() {
			if h.stopped() {
				return
			}
			if h.w.Now().Sub(t0) >= 10*sim.Second {
				h.fail(raftcheck.Liveness, "one(%s) failed to reach agreement on %d servers within 10s", show(cmd), expected)
				return
			}
			index, found := uint64(0), false
			for si := 0; si < h.n; si++ {
				starts = (starts + 1) % h.n
				if !h.up(starts) {
					continue
				}
				if idx, _, ok := h.start(starts, cmd); ok {
					index, found = idx, true
					break
				}
			}
			if !found {
				h.wait(50*sim.Millisecond, attempt)
				return
			}
			t1 := h.w.Now()
			var poll func()
			poll = func() {
				nd, cmd1 := h.nCommitted(index)
				if nd > 0 && nd >= expected && bytes.Equal(cmd1, cmd) {
					if out != nil {
						*out = index
					}
					k()
					return
				}
				if h.w.Now().Sub(t1) >= 2*sim.Second {
					if !retry {
						h.fail(raftcheck.Liveness, "one(%s) failed to reach agreement on %d servers (index %d, %d applied it)", show(cmd), expected, index, nd)
						return
					}
					h.wait(50*sim.Millisecond, attempt)
					return
				}
				h.wait(20*sim.Millisecond, poll)
			}
			poll()
		}
		attempt()
	}
}

// oneN is one() of the decimal command n, the labs' integers.
func (h *harness) oneN(n int, expected int, retry bool) step {
	return h.one(num(n), expected, retry, nil)
}

// checkNotCommitted fails if index was applied anywhere.
func (h *harness) checkNotCommitted(index uint64) step {
	return do(func() {
		if nd, _ := h.nCommitted(index); nd > 0 {
			h.fail("raft.commit-without-majority", "%d servers applied index %d without a majority", nd, index)
		}
	})
}

// wantIndex fails unless got is one of want.
func (h *harness) wantIndex(what string, got *uint64, ok *bool, want ...uint64) step {
	return do(func() {
		if ok != nil && !*ok {
			h.fail("raft.start", "%s: leader rejected Start", what)
			return
		}
		for _, w := range want {
			if *got == w {
				return
			}
		}
		h.fail("raft.start", "%s: Start returned index %d, want %v", what, *got, want)
	})
}

// waitApplied waits until expected running servers applied index, for up
// to limit.
func (h *harness) waitApplied(index uint64, expected int, limit sim.Duration) step {
	return func(k func()) {
		raftcheck.Within(h.w, raftcheck.Liveness, limit, 20*sim.Millisecond, func() error {
			if nd, _ := h.nCommitted(index); nd < expected {
				return fmt.Errorf("index %d applied on %d servers, want %d", index, nd, expected)
			}
			return nil
		}, k)
	}
}

// connectAll connects every server.
func (h *harness) connectAll() step {
	return do(func() {
		for i := 0; i < h.n; i++ {
			h.connect(i)
		}
	})
}

// num encodes an integer command.
func num(n int) []byte { return []byte(fmt.Sprint(n)) }

func show(b []byte) string {
	if len(b) > 16 {
		return fmt.Sprintf("%q...(%dB)", b[:16], len(b))
	}
	return fmt.Sprintf("%q", b)
}
