package rsm

import (
	"fmt"
	"strconv"

	"github.com/smilingraft/dsim/sim"
)

// step is one step of a lab script in virtual time: it does its work,
// possibly over many events, then calls k. A step that finds a violation
// fails the world and never calls k, which ends the script.
type step func(k func())

// seq runs steps one after the other.
func seq(steps ...step) step {
	return func(k func()) {
		var next func(i int)
		next = func(i int) {
			if i == len(steps) {
				k()
				return
			}
			steps[i](func() { next(i + 1) })
		}
		next(0)
	}
}

// loop runs body(0) ... body(n-1) one after the other.
func loop(n int, body func(i int) step) step {
	steps := make([]step, n)
	for i := range steps {
		i := i
		steps[i] = func(k func()) { body(i)(k) }
	}
	return seq(steps...)
}

// par runs n copies of body concurrently and goes on when all are done.
func par(n int, body func(i int) step) step {
	return func(k func()) {
		left := n
		if n == 0 {
			k()
			return
		}
		for i := 0; i < n; i++ {
			body(i)(func() {
				left--
				if left == 0 {
					k()
				}
			})
		}
	}
}

// do runs fn and goes on at once.
func do(fn func()) step { return func(k func()) { fn(); k() } }

// dyn builds a step when it runs, from state earlier steps set.
func dyn(f func() step) step { return func(k func()) { f()(k) } }

// script starts s at time zero and stops the run when it ends (the lab
// tests end there); a script still running at the scenario's Duration
// fails CheckScript.
func (h *harness) script(s step) {
	h.at = "start"
	h.c.Check(CheckScript, func() error {
		if !h.done {
			return fmt.Errorf("script did not finish within %v; stuck at: %s", h.c.Scenario.Duration, h.at)
		}
		return nil
	})
	h.w.At(0, func() {
		s(func() {
			h.done = true
			h.at = ""
			h.c.Metric("script_ns", float64(h.w.Now()))
			h.noteState()
			h.c.Metric("max_raft_state_bytes", float64(h.maxState))
			h.c.Metric("acked", float64(h.acked))
			h.c.Metric("acked_under_faults", float64(h.underF))
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

// submit is the lab's helper: op as a fresh client's first op (so that a
// retry after an ambiguous ErrWrongLeader is applied once), on servers (nil:
// all), giving up after 10 s, which fails the run. want, if not empty, is
// the reply the lab expects; the reply goes to *out.
func (h *harness) submit(verb string, servers []int, want string, out *[]byte) step {
	return func(k func()) {
		h.clients++
		client := h.clients
		op := []byte(fmt.Sprintf("%s %d 1", verb, client))
		h.do(call{servers: servers, limit: 10 * sim.Second}, client, 1, op, func(res []byte, err error) {
			if err != nil {
				h.w.Fail(CheckLiveness, "Submit(%s) got no OK within 10s: %v", op, err)
				return
			}
			if want != "" && string(res) != want {
				h.w.Fail(CheckReply, "Submit(%s) returned %q, want %q", op, res, want)
				return
			}
			if out != nil {
				*out = res
			}
			k()
		})
	}
}

// inc submits an Inc that must return want.
func (h *harness) inc(want int) step { return h.submit("inc", nil, strconv.Itoa(want), nil) }

// waitCounter is the lab's counter check: poll with the wait() backoff
// (10 ms doubling to 1 s, 30 polls, about 30 s) until every server in
// servers (nil: all) runs with counter want.
func (h *harness) waitCounter(want int64, servers []int) step {
	if servers == nil {
		servers = h.all()
	}
	return func(k func()) {
		to := 10 * sim.Millisecond
		var iter func(i int)
		iter = func(i int) {
			cs := h.counters()
			ok := true
			for _, s := range servers {
				ok = ok && cs[s] == want
			}
			if ok {
				k()
				return
			}
			if i == 30 {
				h.w.Fail(CheckCount, "counters %v on servers %v, want %d on each", cs, servers, want)
				return
			}
			h.w.After(to, func() {
				if to < sim.Second {
					to *= 2
				}
				if !h.stopped() {
					iter(i + 1)
				}
			})
		}
		iter(0)
	}
}

// checkCounter fails unless every server runs with counter want now.
func (h *harness) checkCounter(want int64) step {
	return do(func() {
		cs := h.counters()
		for i, c := range cs {
			if c != want {
				h.w.Fail(CheckCount, "server %d has counter %d, want %d (all: %v)", i, c, want, cs)
				return
			}
		}
	})
}

// shutdownAll and startAll are the lab's whole-group shutdown and restart.
func (h *harness) shutdownAll() step {
	return do(func() {
		for i := 0; i < h.n; i++ {
			h.shutdown(i)
		}
	})
}

func (h *harness) startAll() step {
	return do(func() {
		for i := 0; i < h.n; i++ {
			h.start(i)
		}
	})
}

// all lists every server.
func (h *harness) all() []int {
	out := make([]int, h.n)
	for i := range out {
		out[i] = i
	}
	return out
}

// others lists every server but i.
func (h *harness) others(i int) []int {
	var out []int
	for j := 0; j < h.n; j++ {
		if j != i {
			out = append(out, j)
		}
	}
	return out
}
