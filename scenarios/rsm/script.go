package rsm

import (
	"fmt"
	"strconv"

	"github.com/smilingraft/dsim/scenarios/script"
	"github.com/smilingraft/dsim/sim"
)

// drv is a lab script's driver: the lab's helpers (submit, inc,
// waitCounter, ...) as straight-line calls on virtual time
// (scenarios/script).
type drv struct {
	*harness
	s *script.S
}

// drive starts body at time zero and stops the run when it returns (the
// lab tests end there); a script still running at the scenario's Duration
// fails CheckScript.
func (h *harness) drive(body func(d *drv)) {
	h.at = "start"
	h.c.Check(CheckScript, func() error {
		if !h.done {
			return fmt.Errorf("script did not finish within %v; stuck at: %s", h.c.Scenario.Duration, h.at)
		}
		return nil
	})
	script.Run(h.c, func(s *script.S) {
		body(&drv{harness: h, s: s})
		h.done = true
		h.at = ""
		h.noteState()
		h.c.Metric("max_raft_state_bytes", float64(h.maxState))
		h.c.Metric("acked", float64(h.acked))
		h.c.Metric("acked_under_faults", float64(h.underF))
	})
}

// fail fails the run with checker and ends the script.
func (d *drv) fail(checker, format string, args ...any) {
	d.w.Fail(checker, format, args...)
	d.s.End()
}

// label names the script's current step (shown if the script gets stuck).
func (d *drv) label(what string) { d.at = what }

// sleep waits dur of virtual time.
func (d *drv) sleep(dur sim.Duration) { d.s.Sleep(dur) }

// submit is the lab's helper: op as a fresh client's first op (so that a
// retry after an ambiguous ErrWrongLeader is applied once), on servers (nil:
// all), giving up after 10 s, which fails the run. want, if not empty, is
// the reply the lab expects. It returns the reply.
func (d *drv) submit(verb string, servers []int, want string) []byte {
	d.clients++
	client := d.clients
	op := taggedOp(verb, client, 1)
	var res []byte
	var err error
	d.s.Await(func(done func()) {
		d.do(call{servers: servers, limit: 10 * sim.Second}, client, 1, op, func(r []byte, e error) {
			res, err = r, e
			done()
		})
	}, 0)
	if err != nil {
		d.fail(CheckLiveness, "Submit(%s) got no OK within 10s: %v", op, err)
	}
	if want != "" && string(res) != want {
		d.fail(CheckReply, "Submit(%s) returned %q, want %q", op, res, want)
	}
	return res
}

// inc submits an Inc that must return want.
func (d *drv) inc(want int) { d.submit("inc", nil, strconv.Itoa(want)) }

// incs submits n Incs one after the other, the i-th returning from+i.
func (d *drv) incs(n, from int) {
	for i := 0; i < n; i++ {
		d.inc(from + i)
	}
}

// waitCounter is the lab's counter check: poll with the wait() backoff
// (10 ms doubling to 1 s, 30 polls, about 30 s) until every server in
// servers (nil: all) runs with counter want.
func (d *drv) waitCounter(want int64, servers []int) {
	if servers == nil {
		servers = d.all()
	}
	to := 10 * sim.Millisecond
	for i := 0; ; i++ {
		cs := d.counters()
		ok := true
		for _, s := range servers {
			ok = ok && cs[s] == want
		}
		if ok {
			return
		}
		if i == 30 {
			d.fail(CheckCount, "counters %v on servers %v, want %d on each", cs, servers, want)
		}
		d.sleep(to)
		if to < sim.Second {
			to *= 2
		}
	}
}

// checkCounter fails unless every server runs with counter want now.
func (d *drv) checkCounter(want int64) {
	cs := d.counters()
	for i, c := range cs {
		if c != want {
			d.fail(CheckCount, "server %d has counter %d, want %d (all: %v)", i, c, want, cs)
		}
	}
}

// shutdownAll and startAll are the lab's whole-group shutdown and restart.
func (d *drv) shutdownAll() {
	for i := 0; i < d.n; i++ {
		d.shutdown(i)
	}
}

func (d *drv) startAll() {
	for i := 0; i < d.n; i++ {
		d.start(i)
	}
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
