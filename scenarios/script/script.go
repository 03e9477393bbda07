// Package script runs a scenario's driver as ordinary sequential Go:
//
//	script.Run(c, func(s *script.S) {
//		leader := waitLeader(s)
//		s.Sleep(2 * sim.Second)
//		c.W.Partition(...)
//		if !s.WaitFor(func() bool { return committed(idx) }, 10*sim.Millisecond, 2*sim.Second) {
//			s.Failf("index %d not committed within 2s", idx)
//		}
//	})
//
// instead of continuation-passing steps. The body runs as a coroutine
// (iter.Pull): it runs only while the kernel resumes it from an event, and
// each Sleep or WaitFor hands control back to the kernel until a timer at
// the right virtual time resumes it. iter.Pull switches coroutines directly,
// without the goroutine scheduler, so a run stays a pure function of its
// seed; the body must still not start goroutines, read the wall clock or
// use map order, like node code.
//
// A panic in the body is a panic of the event that resumed it, so the
// runner reports it as a failure of the run. When the body returns, the run
// stops (as the lab tests end when their script does) unless Keep was
// asked; a failed check (Failf) stops it too. A body still suspended when
// the run ends is unwound by the runner's cleanup.
//
// It may import sim and scenarios.
package script

import (
	"fmt"
	"iter"

	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// S is a running script: its handle on virtual time.
type S struct {
	c     *scenarios.Cluster
	w     *sim.World
	yield func(struct{}) bool
	next  func() (struct{}, bool)
	stop  func()
	// Step names what the script is doing, for the message of a run that
	// gets stuck (set it with Label).
	step string
	done bool
	keep bool
}

// errStopped unwinds a body whose run ended while it was suspended.
type errStopped struct{}

// Option changes how a script runs.
type Option func(*S)

// Keep lets the run go on (to its fault phase's end and the liveness
// phase) when the body returns, instead of stopping the world there.
func Keep() Option { return func(s *S) { s.keep = true } }

// Run starts body at the current virtual time (time zero during Setup) as
// the scenario's driver.
func Run(c *scenarios.Cluster, body func(s *S), opts ...Option) *S {
	s := &S{c: c, w: c.W, step: "start"}
	for _, o := range opts {
		o(s)
	}
	seq := func(yield func(struct{}) bool) {
		s.yield = yield
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(errStopped); ok {
					return
				}
				panic(r)
			}
		}()
		body(s)
		s.done = true
		s.step = ""
		c.Metric("script_ns", float64(s.w.Now()))
		if !s.keep {
			s.w.Stop()
		}
	}
	s.w.At(s.w.Now(), func() {
		// The coroutine is made when the world first runs, so a Setup on
		// a throwaway world (counting fault targets) leaves nothing behind.
		s.next, s.stop = iter.Pull(seq)
		c.Cleanup(s.stop)
		s.resume()
	})
	return s
}

// resume runs the body until it next waits (or ends). Only kernel events
// call it, never node code: the body runs outside every node's handler.
func (s *S) resume() {
	if s.done {
		return
	}
	if _, ok := s.next(); !ok {
		s.done = true
	}
}

// pause hands control back to the kernel until resume is called; it
// unwinds the body if the run ended meanwhile.
func (s *S) pause() {
	if !s.yield(struct{}{}) {
		panic(errStopped{})
	}
}

// Done reports whether the body has returned.
func (s *S) Done() bool { return s.done }

// Label names the script's current step; Stuck reports it.
func (s *S) Label(format string, args ...any) { s.step = fmt.Sprintf(format, args...) }

// Stuck returns the current step's label when the body has not returned
// ("" once it has): scenarios add it to liveness and end-of-run messages.
func (s *S) Stuck() string { return s.step }

// Now returns the true virtual time.
func (s *S) Now() sim.Time { return s.w.Now() }

// Sleep waits d of virtual time.
func (s *S) Sleep(d sim.Duration) {
	s.w.After(d, s.resume)
	s.pause()
}

// WaitFor polls cond every poll until it holds (true) or timeout passes
// (false); cond is checked at once first.
func (s *S) WaitFor(cond func() bool, poll, timeout sim.Duration) bool {
	deadline := s.w.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if s.w.Now() >= deadline {
			return false
		}
		d := poll
		if rest := sim.Duration(deadline - s.w.Now()); rest < d {
			d = rest
		}
		s.Sleep(d)
	}
}

// Await starts an asynchronous operation and waits for it: start gets a
// done callback (for a clerk's reply, say) and Await returns once it has
// been called, or false when timeout passes first (0: no timeout; a run
// that ends first unwinds the body). Callbacks after a timeout are ignored.
func (s *S) Await(start func(done func()), timeout sim.Duration) bool {
	finished, waiting, expired := false, false, false
	start(func() {
		if finished || expired {
			return
		}
		finished = true
		if waiting {
			s.w.After(0, s.resume)
		}
	})
	if finished {
		return true
	}
	if timeout > 0 {
		s.w.After(timeout, func() {
			if !finished {
				expired = true
				s.resume()
			}
		})
	}
	waiting = true
	s.pause()
	return finished
}

// Par runs bodies concurrently, each as its own coroutine on the same
// virtual time, and returns when all have returned (the lab tests' "go
// func() { ... }" plus a WaitGroup). A body that fails the run leaves Par
// waiting; the run stops there and cleanup unwinds them all.
func (s *S) Par(bodies ...func(s *S)) {
	left := len(bodies)
	if left == 0 {
		return
	}
	waiting := false
	for _, body := range bodies {
		body := body
		sub := &S{c: s.c, w: s.w, step: s.step, keep: true}
		seq := func(yield func(struct{}) bool) {
			sub.yield = yield
			defer func() {
				if r := recover(); r != nil {
					if _, ok := r.(errStopped); ok {
						return
					}
					panic(r)
				}
			}()
			body(sub)
			sub.done = true
			if left--; left == 0 && waiting {
				s.w.After(0, s.resume)
			}
		}
		s.w.After(0, func() {
			sub.next, sub.stop = iter.Pull(seq)
			s.c.Cleanup(sub.stop)
			sub.resume()
		})
	}
	waiting = true
	s.pause()
}

// End ends the body at once, as if it had returned without stopping the
// run: after a scenario's own checker failed the run, say.
func (s *S) End() { panic(errStopped{}) }

// Failf fails the run with checker "script" and ends the body.
func (s *S) Failf(format string, args ...any) {
	s.w.Fail("script", "%s: %s", s.step, fmt.Sprintf(format, args...))
	panic(errStopped{})
}
