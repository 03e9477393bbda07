package all_test

import (
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/smilingraft/dsim/scenarios"
	_ "github.com/smilingraft/dsim/scenarios/all"
	"github.com/smilingraft/dsim/sim"
)

// Seeds the cross-system tests run: every scenario runs workSeeds seeds; a
// scenario with declared facts runs on, up to factSeeds, until each of them
// was reached.
const (
	workSeeds = 3
	factSeeds = 30
)

// noFaults lists the default scenarios with no faults at all: no generated
// kinds, no fixed fault options, and no moment of any run where
// sim.World.FaultActive holds (calm networks, no crash, cut or pause). They
// alone may do no work under faults; the test keeps the list exact.
var noFaults = []string{
	"counter/basic",
	"kv/basic", "kv/concurrent", "kv/snapshot-size", "kv/speed", "kv/speed-snapshot",
	"kvsrv/concurrent-reliable", "kvsrv/mem-many-clients", "kvsrv/reliable-put",
	"lock/many-clients-reliable", "lock/one-client-reliable",
	"mr/early-exit", "mr/indexer", "mr/job-count", "mr/map-parallelism", "mr/reduce-parallelism", "mr/wc",
	"raft/basic-agree", "raft/concurrent-starts", "raft/count", "raft/initial-election", "raft/rpc-bytes", "raft/snapshot-basic",
	"rsm/basic", "rsm/concurrent",
	"shardkv/concurrent-ctrlers-reliable", "shardkv/delete-basic", "shardkv/init-query", "shardkv/many-concurrent-clerk-reliable", "shardkv/one-concurrent-clerk-reliable",
}

// outcome is what the runs of one scenario showed.
type outcome struct {
	runs      int
	failed    []string // "seed N: checker: message"
	noMetric  int      // runs without the work_under_faults metric
	work      float64  // work_under_faults summed over the first workSeeds seeds
	faulty    bool     // a fault was active at some event
	reached   map[string]bool
	seedsUsed uint64
}

var (
	once     sync.Once
	outcomes map[string]*outcome
)

// runAll runs every registered scenario that is a default one or declares
// facts, in parallel, once per test binary.
func runAll(t *testing.T) map[string]*outcome {
	t.Helper()
	once.Do(func() {
		outcomes = map[string]*outcome{}
		var list []*scenarios.Scenario
		for _, s := range scenarios.All() {
			if !s.Unsafe || len(s.Expect) > 0 {
				list = append(list, s)
				outcomes[s.Name] = &outcome{reached: map[string]bool{}}
			}
		}
		jobs := make(chan *scenarios.Scenario)
		var wg sync.WaitGroup
		for w := 0; w < runtime.GOMAXPROCS(0); w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for s := range jobs {
					runScenario(s, outcomes[s.Name])
				}
			}()
		}
		for _, s := range list {
			jobs <- s
		}
		close(jobs)
		wg.Wait()
	})
	return outcomes
}

// runScenario runs seeds 1..workSeeds of s, then more seeds (up to
// factSeeds) while a declared fact is still unreached.
func runScenario(s *scenarios.Scenario, o *outcome) {
	unreached := func() bool {
		for _, f := range s.Expect {
			if !o.reached[f] {
				return true
			}
		}
		return false
	}
	for seed := uint64(1); seed <= workSeeds || (seed <= factSeeds && unreached()); seed++ {
		faulty := false
		cfg := scenarios.Config{Observe: func(w *sim.World) {
			w.AfterEvent(func() {
				if !faulty && w.FaultActive() {
					faulty = true
				}
			})
		}}
		res := scenarios.Run(s, nil, seed, cfg)
		o.runs++
		o.seedsUsed = seed
		if res.Failure != nil {
			o.failed = append(o.failed, res.Repro+": "+res.Failure.Checker+": "+res.Failure.Message)
		}
		for f := range res.Coverage {
			o.reached[f] = true
		}
		if seed > workSeeds {
			continue
		}
		o.faulty = o.faulty || faulty
		v, ok := res.Metrics[scenarios.WorkUnderFaults]
		if !ok {
			o.noMetric++
		}
		o.work += v
	}
}

// TestWorkUnderFaults: every default scenario reports work_under_faults,
// and every one with faults (generated kinds, fixed options or a scripted
// fault) did some client work while a fault was active; the fault-free
// ones are exactly noFaults.
func TestWorkUnderFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every scenario")
	}
	out := runAll(t)
	exempt := map[string]bool{}
	for _, n := range noFaults {
		exempt[n] = true
		if _, err := scenarios.Lookup(n); err != nil {
			t.Errorf("noFaults lists %s: %v", n, err)
		}
	}
	var names []string
	for n := range out {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s, _ := scenarios.Lookup(n)
		if s.Unsafe {
			continue
		}
		o := out[n]
		if len(o.failed) > 0 {
			t.Errorf("%s failed: %s", n, strings.Join(o.failed, "; "))
		}
		if o.noMetric > 0 {
			t.Errorf("%s: %d of %d runs report no %s metric", n, o.noMetric, workSeeds, scenarios.WorkUnderFaults)
		}
		hasFaults := s.Kinds != nil || s.Faults != nil || o.faulty
		switch {
		case hasFaults && exempt[n]:
			t.Errorf("%s has faults but is listed in noFaults", n)
		case !hasFaults && !exempt[n]:
			t.Errorf("%s has no faults: list it in noFaults", n)
		case hasFaults && o.work == 0:
			t.Errorf("%s has faults but did no work under them in %d seeds (%s = 0): make the work overlap the faults",
				n, workSeeds, scenarios.WorkUnderFaults)
		}
	}
}

// TestDeclaredFactsAreReachable: every fact a registered scenario declares
// (Scenario.Expect) is one its nodes really record: running the scenario
// reaches it within factSeeds seeds. A misspelt or stale fact name fails
// here rather than as a campaign warning nobody can fix.
func TestDeclaredFactsAreReachable(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every scenario")
	}
	out := runAll(t)
	declared := 0
	for _, s := range scenarios.All() {
		seen := map[string]bool{}
		for _, f := range s.Expect {
			declared++
			if seen[f] {
				t.Errorf("%s declares %q twice", s.Name, f)
			}
			seen[f] = true
			if o := out[s.Name]; o == nil || !o.reached[f] {
				t.Errorf("%s declares %q, which %d seeds never reached", s.Name, f, factSeeds)
			}
		}
	}
	if declared == 0 {
		t.Fatal("no scenario declares any fact")
	}
}
