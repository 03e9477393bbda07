package raft

import (
	"bytes"
	"fmt"

	"github.com/smilingraft/dsim/checkers/raftcheck"
	"github.com/smilingraft/dsim/scenarios/script"
	"github.com/smilingraft/dsim/sim"
)

// drv is a lab test's driver: the tester's helpers (checkOneLeader, one,
// wait, ...) as straight-line calls on virtual time (scenarios/script), so
// that a scenario reads like the lab test it mirrors.
type drv struct {
	*harness
	s *script.S
}

// drive runs body as the scenario's script from time zero; when it returns
// the run stops (the lab tests end there), passing unless a check failed.
func (h *harness) drive(body func(d *drv)) {
	h.at = "start"
	script.Run(h.c, func(s *script.S) {
		body(&drv{harness: h, s: s})
		h.done = true
		h.at = ""
	})
}

// fail fails the run with checker and ends the script.
func (d *drv) fail(checker, format string, args ...any) {
	d.harness.fail(checker, format, args...)
	d.s.End()
}

// label names the script's current step (shown if the script gets stuck).
func (d *drv) label(format string, args ...any) {
	d.at = fmt.Sprintf(format, args...)
	d.s.Label("%s", d.at)
}

// sleep waits dur of virtual time.
func (d *drv) sleep(dur sim.Duration) { d.s.Sleep(dur) }

// checkOneLeader polls like the tester: up to 10 times, sleep 450-550 ms and
// look for leaders among the connected servers; two in one term fail, none
// after ten tries fails. It returns the leader of the newest term.
func (d *drv) checkOneLeader() int {
	for iter := 0; iter < 10; iter++ {
		d.sleep(450*sim.Millisecond + sim.Duration(d.c.Workload.Intn(100))*sim.Millisecond)
		leaders := map[uint64][]int{}
		last := uint64(0)
		for i := 0; i < d.n; i++ {
			if d.up(i) {
				if term, lead := d.state(i); lead {
					leaders[term] = append(leaders[term], i)
					if len(leaders[term]) > 1 {
						d.fail(raftcheck.ElectionSafety, "term %d has %d leaders %v", term, len(leaders[term]), leaders[term])
					}
					last = max(last, term)
				}
			}
		}
		if len(leaders) > 0 {
			return leaders[last][0]
		}
	}
	d.fail(raftcheck.Liveness, "expected one leader among the connected servers, got none")
	return -1
}

// checkTerms checks that every connected server has the same term and
// returns it.
func (d *drv) checkTerms() uint64 {
	term := uint64(0)
	for i := 0; i < d.n; i++ {
		if d.up(i) {
			t, _ := d.state(i)
			if term == 0 {
				term = t
			} else if t != term {
				d.fail("raft.terms", "servers disagree on the term: %d vs %d", term, t)
			}
		}
	}
	return term
}

// checkNoLeader fails if a connected server claims leadership.
func (d *drv) checkNoLeader() {
	for i := 0; i < d.n; i++ {
		if d.up(i) {
			if _, lead := d.state(i); lead {
				d.fail("raft.no-leader", "server %d claims leadership but should not (no majority connected)", i)
			}
		}
	}
}

// one is the tester's one(): submit cmd to a leader and wait until at least
// expected servers applied it at the returned index; with retry it tries
// again (other leaders, new terms) for up to 10 s. It returns the index.
func (d *drv) one(cmd []byte, expected int, retry bool) uint64 {
	t0 := d.w.Now()
	starts := 0
	for d.w.Now().Sub(t0) < 10*sim.Second {
		index, found := uint64(0), false
		for si := 0; si < d.n; si++ {
			starts = (starts + 1) % d.n
			if !d.up(starts) {
				continue
			}
			if idx, _, ok := d.start(starts, cmd); ok {
				index, found = idx, true
				break
			}
		}
		if !found {
			d.sleep(50 * sim.Millisecond)
			continue
		}
		t1 := d.w.Now()
		for {
			nd, cmd1 := d.nCommitted(index)
			if nd > 0 && nd >= expected && bytes.Equal(cmd1, cmd) {
				return index
			}
			if d.w.Now().Sub(t1) >= 2*sim.Second {
				break
			}
			d.sleep(20 * sim.Millisecond)
		}
		if !retry {
			nd, _ := d.nCommitted(index)
			d.fail(raftcheck.Liveness, "one(%s) failed to reach agreement on %d servers (index %d, %d applied it)", show(cmd), expected, index, nd)
		}
		d.sleep(50 * sim.Millisecond)
	}
	d.fail(raftcheck.Liveness, "one(%s) failed to reach agreement on %d servers within 10s", show(cmd), expected)
	return 0
}

// oneN is one() of the decimal command n, the labs' integers.
func (d *drv) oneN(n int, expected int, retry bool) uint64 { return d.one(num(n), expected, retry) }

// oneRnd is one() of a random command.
func (d *drv) oneRnd(expected int) uint64 { return d.one(d.rnd(), expected, true) }

// checkNotCommitted fails if index was applied anywhere.
func (d *drv) checkNotCommitted(index uint64) {
	if nd, _ := d.nCommitted(index); nd > 0 {
		d.fail("raft.commit-without-majority", "%d servers applied index %d without a majority", nd, index)
	}
}

// wantIndex fails unless Start was accepted (ok) and returned one of want.
func (d *drv) wantIndex(what string, got uint64, ok bool, want ...uint64) {
	if !ok {
		d.fail("raft.start", "%s: leader rejected Start", what)
	}
	for _, w := range want {
		if got == w {
			return
		}
	}
	d.fail("raft.start", "%s: Start returned index %d, want %v", what, got, want)
}

// waitIdx is the tester's wait(): until expected servers applied index,
// backing off from 10 ms to 1 s, giving up (ok=false) if some server moved
// past startTerm (0: never).
func (d *drv) waitIdx(index uint64, expected int, startTerm uint64) (cmd []byte, ok bool) {
	to := 10 * sim.Millisecond
	for i := 0; ; i++ {
		nd, cmd := d.nCommitted(index)
		if nd >= expected {
			return cmd, true
		}
		if i == 30 {
			d.fail("raft.liveness", "only %d servers decided index %d; wanted %d", nd, index, expected)
		}
		d.sleep(to)
		if to < sim.Second {
			to *= 2
		}
		if startTerm > 0 {
			for j := 0; j < d.n; j++ {
				if t, _ := d.state(j); t > startTerm {
					return nil, false
				}
			}
		}
	}
}

// within waits until cond holds, polling every poll, for up to limit;
// past it the run fails with checker and cond's last error.
func (d *drv) within(checker string, limit, poll sim.Duration, cond func() error) {
	var last error
	if !d.s.WaitFor(func() bool { last = cond(); return last == nil }, poll, limit) {
		d.fail(checker, "not within %v: %v", limit, last)
	}
}

// connectAll connects every server.
func (d *drv) connectAll() {
	for i := 0; i < d.n; i++ {
		d.connect(i)
	}
}

// crashAll crashes every server, then restarts and reconnects them all.
func (d *drv) crashAll() {
	for i := 0; i < d.n; i++ {
		d.crash(i)
	}
	for i := 0; i < d.n; i++ {
		d.restart(i)
		d.connect(i)
	}
}

// start calls Start(cmd) on server i; it reports (index, term, ok).
func (h *harness) start(i int, cmd []byte) (uint64, uint64, bool) {
	r := h.rf(i)
	if r == nil {
		return 0, 0, false
	}
	return r.Start(cmd)
}

// num encodes an integer command.
func num(n int) []byte { return []byte(fmt.Sprint(n)) }

func show(b []byte) string {
	if len(b) > 16 {
		return fmt.Sprintf("%q...(%dB)", b[:16], len(b))
	}
	return fmt.Sprintf("%q", b)
}
