package script_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/scenarios/script"
	"github.com/smilingraft/dsim/sim"
)

// echo answers every request after a delay drawn from its stream.
type echo struct{ env *sim.Env }

func (e *echo) Start(env *sim.Env) { e.env = env }
func (e *echo) Receive(from sim.NodeID, msg sim.Message) {
	if req, ok := msg.(*sim.Request); ok {
		e.env.After(sim.Duration(1+e.env.Rand().Intn(5))*sim.Millisecond, func() { e.env.Reply(from, req, req.Body) })
	}
}

// client is a node the script drives: Ask calls the echo server.
type client struct{ env *sim.Env }

func (c *client) Start(env *sim.Env)              { c.env = env }
func (c *client) Receive(sim.NodeID, sim.Message) {}
func (c *client) Ask(to sim.NodeID, body string, cb func(string, bool)) {
	c.env.Call(to, body, 100*sim.Millisecond, func(m sim.Message, ok bool) {
		s, _ := m.(string)
		cb(s, ok)
	})
}

// scripted registers a test scenario whose driver is body.
func scripted(name string, dur sim.Duration, body func(c *scenarios.Cluster, srv sim.NodeID, cl *client, s *script.S), opts ...script.Option) *scenarios.Scenario {
	sc := &scenarios.Scenario{Name: "script/unsafe-" + name, Unsafe: true, Duration: dur, Description: "test only",
		Setup: func(c *scenarios.Cluster) error {
			srv := c.W.AddNode("s0", func() sim.Node { return &echo{} })
			cl := &client{}
			c.W.AddNode("c0", func() sim.Node { return cl })
			c.Servers(srv)
			script.Run(c, func(s *script.S) { body(c, srv, cl, s) }, opts...)
			return nil
		}}
	scenarios.Register(sc)
	return sc
}

var log []string

var straight = scripted("straight", 10*sim.Second, func(c *scenarios.Cluster, srv sim.NodeID, cl *client, s *script.S) {
	log = append(log, fmt.Sprintf("start %v", s.Now()))
	s.Sleep(2 * sim.Second)
	log = append(log, fmt.Sprintf("slept %v", s.Now()))
	var got string
	ok := s.Await(func(done func()) {
		cl.Ask(srv, "hi", func(r string, ok bool) { got = r; done() })
	}, sim.Second)
	log = append(log, fmt.Sprintf("await %v %q", ok, got))
	n := 0
	held := s.WaitFor(func() bool { n++; return n == 3 }, 10*sim.Millisecond, sim.Second)
	log = append(log, fmt.Sprintf("waitfor %v %v", held, s.Now()))
	c.W.Partition([][]sim.NodeID{{srv}, {1}})
	ok = s.Await(func(done func()) { cl.Ask(srv, "lost", func(string, bool) { done() }) }, 50*sim.Millisecond)
	log = append(log, fmt.Sprintf("cut await %v %v", ok, s.Now()))
	held = s.WaitFor(func() bool { return false }, 100*sim.Millisecond, 250*sim.Millisecond)
	log = append(log, fmt.Sprintf("waitfor %v %v", held, s.Now()))
})

// TestScriptRunsStraightLine: the body's steps happen at the virtual
// times its sleeps and waits say, replies resume it, and the run stops
// when it returns.
func TestScriptRunsStraightLine(t *testing.T) {
	log = nil
	res := scenarios.Run(straight, nil, 1, scenarios.Config{})
	if !res.Passed {
		t.Fatalf("run failed: %v", res.Failure)
	}
	if len(log) != 6 {
		t.Fatalf("log %v", log)
	}
	want := []string{"start 0s", "slept 2s"}
	if diff := cmp.Diff(want, log[:2]); diff != "" {
		t.Fatalf("log (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(log[2], `await true "hi"`) || !strings.HasPrefix(log[3], "waitfor true") ||
		!strings.HasPrefix(log[4], "cut await false") || !strings.HasPrefix(log[5], "waitfor false") {
		t.Fatalf("log %v", log)
	}
	if res.VTime >= sim.Time(10*sim.Second) || res.Metrics["script_ns"] == 0 {
		t.Fatalf("run went on to %v after the script ended (script_ns %v)", res.VTime, res.Metrics["script_ns"])
	}
}

var panicky = scripted("panic", sim.Second, func(c *scenarios.Cluster, srv sim.NodeID, cl *client, s *script.S) {
	s.Sleep(sim.Millisecond)
	var m map[string]int
	m["x"] = 1 // a bug in the script
})

var failing = scripted("fail", sim.Second, func(c *scenarios.Cluster, srv sim.NodeID, cl *client, s *script.S) {
	s.Label("checking the answer")
	s.Sleep(sim.Millisecond)
	s.Failf("want %d, got %d", 1, 2)
	t := 0
	_ = 1 / t // never reached: Failf ends the body
})

func TestScriptPanicsAndFailuresFailTheRun(t *testing.T) {
	res := scenarios.Run(panicky, nil, 1, scenarios.Config{})
	if res.Failure == nil || res.Failure.Checker != "panic" {
		t.Fatalf("a panicking script: %v", res.Failure)
	}
	res = scenarios.Run(failing, nil, 1, scenarios.Config{})
	if res.Failure == nil || res.Failure.Checker != "script" || !strings.Contains(res.Failure.Message, "checking the answer: want 1, got 2") {
		t.Fatalf("Failf: %v", res.Failure)
	}
}

var endless = scripted("endless", sim.Second, func(c *scenarios.Cluster, srv sim.NodeID, cl *client, s *script.S) {
	for {
		s.Sleep(100 * sim.Millisecond)
	}
})

// TestSuspendedScriptIsUnwound: a body still waiting when the run ends
// leaves no coroutine behind, run after run; a Setup that never runs the
// world (counting fault targets) makes none.
func TestSuspendedScriptIsUnwound(t *testing.T) {
	before := runtime.NumGoroutine()
	for seed := uint64(0); seed < 200; seed++ {
		scenarios.Run(endless, nil, seed, scenarios.Config{})
		endless.FaultTargets(nil, seed)
	}
	if after := runtime.NumGoroutine(); after > before+5 {
		t.Fatalf("goroutines %d -> %d after 200 runs: suspended scripts leak", before, after)
	}
}

var random = scripted("random", 5*sim.Second, func(c *scenarios.Cluster, srv sim.NodeID, cl *client, s *script.S) {
	for i := 0; i < 50; i++ {
		s.Sleep(sim.Duration(c.Workload.Intn(100)) * sim.Millisecond)
		s.Await(func(done func()) { cl.Ask(srv, fmt.Sprint(i), func(string, bool) { done() }) }, 0)
	}
})

// TestSameSeedSameHashScripted: a scripted run is a pure function of its
// seed (CI runs this under -race and with GOMAXPROCS 1 and 4).
func TestSameSeedSameHashScripted(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		a := scenarios.Run(random, nil, seed, scenarios.Config{})
		b := scenarios.Run(random, nil, seed, scenarios.Config{})
		if !a.Passed || a.TraceHash != b.TraceHash || a.Events != b.Events {
			t.Fatalf("seed %d: %v %s/%s %d/%d", seed, a.Failure, a.TraceHash, b.TraceHash, a.Events, b.Events)
		}
	}
}

var par = scripted("par", 10*sim.Second, func(c *scenarios.Cluster, srv sim.NodeID, cl *client, s *script.S) {
	var order []string
	s.Par(func(s *script.S) {
		s.Sleep(30 * sim.Millisecond)
		order = append(order, fmt.Sprintf("a@%v", s.Now()))
	}, func(s *script.S) {
		s.Sleep(10 * sim.Millisecond)
		order = append(order, fmt.Sprintf("b@%v", s.Now()))
		s.Sleep(10 * sim.Millisecond)
		order = append(order, fmt.Sprintf("b@%v", s.Now()))
	})
	order = append(order, fmt.Sprintf("joined@%v", s.Now()))
	log = order
})

// TestParJoinsConcurrentBodies: Par's bodies interleave on virtual time
// and the caller resumes once the last returns.
func TestParJoinsConcurrentBodies(t *testing.T) {
	log = nil
	if res := scenarios.Run(par, nil, 1, scenarios.Config{}); !res.Passed {
		t.Fatal(res.Failure)
	}
	want := []string{"b@10ms", "b@20ms", "a@30ms", "joined@30ms"}
	if diff := cmp.Diff(want, log); diff != "" {
		t.Fatalf("order (-want +got):\n%s", diff)
	}
}
