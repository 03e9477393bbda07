package kvsrv

import (
	"bytes"
	"strings"
	"testing"

	"github.com/smilingraft/dsim/nodes/kv"
	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

func registered(t testing.TB) []*scenarios.Scenario {
	var out []*scenarios.Scenario
	for _, s := range scenarios.All() {
		if strings.HasPrefix(s.Name, "kvsrv/") || strings.HasPrefix(s.Name, "lock/") {
			out = append(out, s)
		}
	}
	if len(out) != 9 {
		t.Fatalf("%d kvsrv and lock scenarios registered, want 9", len(out))
	}
	return out
}

// Every scenario passes several seeds.
func TestScenariosPass(t *testing.T) {
	seeds := uint64(5)
	if testing.Short() {
		seeds = 2
	}
	for _, s := range registered(t) {
		s := s
		t.Run(s.Name, func(t *testing.T) {
			for seed := uint64(1); seed <= seeds; seed++ {
				res := scenarios.Run(s, scenarios.Variant{}, seed, scenarios.Config{})
				if !res.Passed {
					t.Fatalf("seed %d: %v\nrepro: %s", seed, res.Failure, res.Repro)
				}
				t.Logf("seed %d: %d events, %.1fms, metrics %v", seed, res.Events, float64(res.WallNs)/1e6, res.Metrics)
			}
		})
	}
}

// Every scenario with faults completes operations while a fault is active:
// one where none did would test nothing.
func TestOpsDuringFaults(t *testing.T) {
	for _, s := range registered(t) {
		if s.Faults == nil && s.Kinds == nil {
			continue
		}
		for seed := uint64(1); seed <= 3; seed++ {
			res := scenarios.Run(s, scenarios.Variant{}, seed, scenarios.Config{})
			if got := res.Metrics["ops_during_faults"]; got == 0 {
				t.Errorf("%s seed %d: ops_during_faults = 0 (metrics %v)", s.Name, seed, res.Metrics)
			}
		}
	}
}

// The same seed twice gives the same trace hash.
func TestDeterminism(t *testing.T) {
	for _, s := range registered(t) {
		a := scenarios.Run(s, scenarios.Variant{}, 7, scenarios.Config{})
		b := scenarios.Run(s, scenarios.Variant{}, 7, scenarios.Config{})
		if a.TraceHash != b.TraceHash || a.Events != b.Events {
			t.Errorf("%s seed 7: hashes %s/%s, events %d/%d", s.Name, a.TraceHash, b.TraceHash, a.Events, b.Events)
		}
	}
}

// ignoreVersions is a broken server: every Put applies whatever its version.
type ignoreVersions struct{ *kv.Server }

func (s ignoreVersions) Receive(from sim.NodeID, msg sim.Message) {
	if req, ok := msg.(*sim.Request); ok {
		if a, ok := req.Body.(*kv.PutArgs); ok {
			if cur := s.Store().Get(a.Key); cur.Err == kv.OK {
				b := *a
				b.Version = cur.Version
				msg = &sim.Request{ID: req.ID, Body: &b}
			}
		}
	}
	s.Server.Receive(from, msg)
}

// staleReads is a broken server: a Get answers the key's previous value
// and version, as a lagging replica would.
type staleReads struct {
	*kv.Server
	env  *sim.Env
	prev map[string]kv.Entry
}

func (s *staleReads) Start(env *sim.Env) { s.env = env; s.Server.Start(env) }

func (s *staleReads) Receive(from sim.NodeID, msg sim.Message) {
	req, ok := msg.(*sim.Request)
	if !ok {
		s.Server.Receive(from, msg)
		return
	}
	switch a := req.Body.(type) {
	case *kv.GetArgs:
		if e, ok := s.prev[a.Key]; ok {
			s.env.Reply(from, req, &kv.GetReply{Value: e.Value, Version: e.Version, Err: kv.OK})
			return
		}
	case *kv.PutArgs:
		before := s.Store().Get(a.Key)
		if before.Err == kv.OK {
			defer func() {
				if s.Store().Get(a.Key).Version != before.Version {
					s.prev[a.Key] = kv.Entry{Value: before.Value, Version: before.Version}
				}
			}()
		}
	}
	s.Server.Receive(from, msg)
}

// findFailure runs the named scenario built on im over seeds and returns
// the first failure.
func findFailure(t *testing.T, scenarioList []*scenarios.Scenario, name string, seeds uint64) (*scenarios.Result, uint64) {
	t.Helper()
	for _, s := range scenarioList {
		if s.Name != name {
			continue
		}
		for seed := uint64(1); seed <= seeds; seed++ {
			if res := scenarios.Run(s, scenarios.Variant{}, seed, scenarios.Config{}); !res.Passed {
				return res, seed
			}
		}
		return nil, 0
	}
	t.Fatalf("no scenario %s", name)
	return nil, 0
}

// Porcupine catches broken servers, and the picture it draws carries the
// fault timeline.
func TestBrokenServersCaught(t *testing.T) {
	brokens := map[string]func() sim.Node{
		"ignore-versions": func() sim.Node { return ignoreVersions{kv.NewServer()} },
		"stale-reads":     func() sim.Node { return &staleReads{Server: kv.NewServer(), prev: map[string]kv.Entry{}} },
	}
	for _, name := range []string{"ignore-versions", "stale-reads"} {
		im := impl{newServer: brokens[name], newLock: safe.newLock}
		res, seed := findFailure(t, kvsrvScenarios(im), "kvsrv/swarm", 10)
		if res == nil {
			t.Errorf("%s: not caught in 10 swarm seeds", name)
			continue
		}
		if res.Failure.Checker != Linearizability {
			t.Errorf("%s seed %d: caught by %s (%s), want %s", name, seed, res.Failure.Checker, res.Failure.Message, Linearizability)
			continue
		}
		pic := res.Artifacts[Picture]
		if !bytes.Contains(pic, []byte("<html")) || !bytes.Contains(pic, []byte(`"Tag":"faults"`)) {
			t.Errorf("%s seed %d: no %s artifact annotated with the faults (%d bytes)", name, seed, Picture, len(pic))
		}
		t.Logf("%s: caught on seed %d: %v", name, seed, res.Failure)
	}
}

// unversionedLock is a broken lock: it takes a free lock by writing its id
// and believes it won whatever the Put answers.
type unversionedLock struct {
	ck *kv.Clerk
	id string
}

func (l *unversionedLock) Acquire(cb func()) {
	l.ck.Get("l", func(val string, ver uint64, err kv.Err) {
		if err == kv.OK && val != "" {
			l.Acquire(cb)
			return
		}
		l.ck.Put("l", l.id, ver, func(kv.Err) { cb() })
	})
}

func (l *unversionedLock) Release(cb func()) {
	l.ck.Get("l", func(_ string, ver uint64, _ kv.Err) { l.ck.Put("l", "", ver, func(kv.Err) { cb() }) })
}

// Mutual exclusion catches a lock that skips the versioned Put's verdict.
func TestBrokenLockCaught(t *testing.T) {
	im := impl{newServer: safe.newServer, newLock: func(env *sim.Env, ck *kv.Clerk, key string) Locker {
		return &unversionedLock{ck: ck, id: env.Name()}
	}}
	res, seed := findFailure(t, lockScenarios(im), "lock/many-clients-reliable", 5)
	if res == nil {
		t.Fatal("two holders not caught in 5 seeds")
	}
	if res.Failure.Checker != MutualExclusion {
		t.Fatalf("seed %d: caught by %s (%s), want %s", seed, res.Failure.Checker, res.Failure.Message, MutualExclusion)
	}
	t.Logf("caught on seed %d: %v", seed, res.Failure)
}

// BenchmarkScenarios runs one seed of every kvsrv and lock scenario per
// iteration and reports checked seeds/s and the share of wall time spent in
// porcupine.
func BenchmarkScenarios(b *testing.B) {
	ss := registered(b)
	var wall, porcupine float64
	runs := 0
	for i := 0; i < b.N; i++ {
		for _, s := range ss {
			res := scenarios.Run(s, scenarios.Variant{}, uint64(i+1), scenarios.Config{})
			if !res.Passed {
				b.Fatalf("%s seed %d: %v", s.Name, i+1, res.Failure)
			}
			wall += float64(res.WallNs)
			porcupine += res.Metrics["porcupine_wall_ns"]
			runs++
		}
	}
	b.ReportMetric(float64(runs)/b.Elapsed().Seconds(), "seeds/s")
	b.ReportMetric(100*porcupine/wall, "%porcupine")
}

// perClient is a broken server that remembers something per clerk (the last
// reply, say): its state grows with the number of clerks.
type perClient struct {
	*kv.Server
	seen map[uint64]bool
}

func (s *perClient) Receive(from sim.NodeID, msg sim.Message) {
	if req, ok := msg.(*sim.Request); ok {
		if a, ok := req.Body.(*kv.PutArgs); ok {
			s.seen[a.Client] = true
		}
	}
	s.Server.Receive(from, msg)
}

func (s *perClient) StateBytes() int { return s.Server.StateBytes() + 16*len(s.seen) }

// The memory check catches per-client server state.
func TestPerClientStateCaught(t *testing.T) {
	im := impl{newServer: func() sim.Node { return &perClient{Server: kv.NewServer(), seen: map[uint64]bool{}} }, newLock: safe.newLock}
	res, _ := findFailure(t, kvsrvScenarios(im), "kvsrv/mem-many-clients", 1)
	if res == nil || res.Failure.Checker != "kvsrv.memory" {
		t.Fatalf("per-client state not caught: %+v", res)
	}
	t.Log(res.Failure)
}
