package campaign

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smilingraft/dsim/replay"
	"github.com/smilingraft/dsim/scenarios"
	_ "github.com/smilingraft/dsim/scenarios/all"
	"github.com/smilingraft/dsim/sim"
)

// Test-only scenarios: a node that loops forever inside one handler (which
// only the watchdog can catch), and a node whose behaviour leaks state from
// one run to the next (which only the double-run check can catch).

var stopLooping atomic.Bool

type looper struct{ seed uint64 }

func (l *looper) Start(env *sim.Env) {
	env.After(sim.Millisecond, func() {
		for l.seed == 3 && !stopLooping.Load() {
		}
	})
}
func (l *looper) Receive(sim.NodeID, sim.Message) {}

var leaked atomic.Int64

type leaky struct{}

func (leaky) Start(env *sim.Env) {
	n := leaked.Add(1) // differs between any two runs
	env.After(sim.Duration(n)*sim.Microsecond, func() {})
}
func (leaky) Receive(sim.NodeID, sim.Message) {}

type facter struct{ fact bool }

func (f facter) Start(env *sim.Env) {
	if f.fact {
		env.Sometimes("facts: reached only by scenario a")
	}
	env.Sometimes("facts: reached by both")
}
func (facter) Receive(sim.NodeID, sim.Message) {}

func init() {
	for _, name := range []string{"a", "b"} {
		a := name == "a"
		scenarios.Register(&scenarios.Scenario{Name: "facts/unsafe-" + name, Unsafe: true, Duration: sim.Millisecond,
			Description: "test only: coverage facts",
			Setup: func(c *scenarios.Cluster) error {
				c.Servers(c.W.AddNode("n0", func() sim.Node { return facter{fact: a && c.Seed%2 == 0} }))
				return nil
			}})
	}
	scenarios.Register(&scenarios.Scenario{Name: "test/unsafe-loop", Unsafe: true, Duration: 10 * sim.Millisecond,
		Description: "test only: seed 3 loops forever in a timer handler",
		Setup: func(c *scenarios.Cluster) error {
			seed := c.Seed
			c.Servers(c.W.AddNode("n0", func() sim.Node { return &looper{seed: seed} }))
			return nil
		}})
	scenarios.Register(&scenarios.Scenario{Name: "test/unsafe-leaky", Unsafe: true, Duration: 10 * sim.Millisecond,
		Description: "test only: not deterministic across runs",
		Setup: func(c *scenarios.Cluster) error {
			c.Servers(c.W.AddNode("n0", func() sim.Node { return leaky{} }))
			return nil
		}})
}

func match(t *testing.T, p ...string) []*scenarios.Scenario {
	t.Helper()
	ss, err := scenarios.Match(p)
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

// comparable strips what legitimately differs between runs (wall time,
// workers, rates) so summaries can be compared.
func comparable(s *Summary) Summary {
	c := *s
	c.WallNs, c.Workers, c.SeedsPerS = 0, 0, 0
	c.Seeds = append([]SeedRange(nil), s.Seeds...)
	for i := range c.Seeds {
		c.Seeds[i].Shards = nil
	}
	return c
}

func TestShardsMergeToWholeCampaign(t *testing.T) {
	ss := match(t, "counter/swarm", "counter/unsafe-nosync")
	o := Options{Scenarios: ss, Seeds: 13, From: 5, Workers: 2, Out: t.TempDir(), DoubleRunEvery: 1 << 40, FilesPerChecker: -1}
	whole := Run(context.Background(), o)
	var parts []*Summary
	for i := 0; i < 3; i++ {
		po := o
		po.Shard = Shard{i, 3}
		parts = append(parts, Run(context.Background(), po))
	}
	if whole.Runs != 26 || parts[0].Runs+parts[1].Runs+parts[2].Runs != 26 {
		t.Fatalf("runs: whole %d, shards %d+%d+%d", whole.Runs, parts[0].Runs, parts[1].Runs, parts[2].Runs)
	}
	merged, err := Merge(parts)
	if err != nil {
		t.Fatal(err)
	}
	if len(merged.Problems) > 0 {
		t.Fatalf("problems merging complete shards: %v", merged.Problems)
	}
	a, b := comparable(whole), comparable(merged)
	a.DoubleRuns, b.DoubleRuns, a.VTimeNs, b.VTimeNs = 0, 0, 0, 0
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("merged shards differ from the whole campaign:\nwhole  %+v\nmerged %+v", a, b)
	}
	// Missing and duplicated shards are reported; a duplicate is counted once.
	bad, err := Merge([]*Summary{parts[0], parts[0], parts[2]})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(bad.Problems, "; ")
	if !strings.Contains(got, "missing shards 1/3") || !strings.Contains(got, "duplicated shards 0/3") {
		t.Fatalf("problems = %q, want a missing 1/3 and a duplicated 0/3", got)
	}
	if want := parts[0].Runs + parts[2].Runs; bad.Runs != want || len(bad.Failures) != len(parts[0].Failures)+len(parts[2].Failures) {
		t.Fatalf("merge with a duplicated shard: %d runs, %d failures; want %d runs (the duplicate counted once)", bad.Runs, len(bad.Failures), want)
	}
	if len(bad.Incomplete()) == 0 {
		t.Fatal("a merge with a missing shard is not incomplete")
	}
	// Merging the merge with the missing shard completes it.
	again, err := Merge([]*Summary{bad, parts[1]})
	if err != nil || len(again.Problems) != 0 || again.Runs != whole.Runs {
		t.Fatalf("re-merge with the missing shard: %v, problems %q, runs %d", err, again.Problems, again.Runs)
	}
}

func TestAggregationIgnoresScheduling(t *testing.T) {
	ss := match(t, "counter/*")
	o := Options{Scenarios: ss, Seeds: 10, Workers: 1, DoubleRunEvery: 3}
	a := Run(context.Background(), o)
	o.Workers = 4
	b := Run(context.Background(), o)
	if !reflect.DeepEqual(comparable(a), comparable(b)) {
		t.Fatalf("1 and 4 workers give different summaries:\n%+v\n%+v", comparable(a), comparable(b))
	}
	if a.DoubleRuns == 0 {
		t.Fatal("no seed was double-run with DoubleRunEvery=3")
	}
}

func TestFailureFilesAreWrittenAndReplay(t *testing.T) {
	dir := t.TempDir()
	var seen []Failure
	sum := Run(context.Background(), Options{Scenarios: match(t, "counter/unsafe-nosync"), Seeds: 3, From: 7, Out: dir,
		OnFailure: func(f Failure) {
			if _, err := os.Stat(f.File); err != nil {
				t.Errorf("failure reported before its file exists: %v", err)
			}
			seen = append(seen, f)
		}})
	if len(sum.Failures) != 3 || len(seen) != 3 || len(sum.FailureFiles) != 3 {
		t.Fatalf("want 3 failures with files, got %d (files %v)", len(sum.Failures), sum.FailureFiles)
	}
	if sum.Failures[0].Seed != 7 || sum.Failures[2].Seed != 9 {
		t.Fatalf("failures not sorted by seed: %+v", sum.Failures)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp") {
			t.Fatalf("temporary file left behind: %s", e.Name())
		}
	}
	f, err := replay.Read(sum.FailureFiles[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(f.TraceTail) == 0 || len(f.Plan) == 0 {
		t.Fatalf("failure file lacks its trace tail or plan: %d, %d", len(f.TraceTail), len(f.Plan))
	}
	out, err := replay.Replay(f, replay.Options{})
	if err != nil || !out.Same {
		t.Fatalf("replay of %s differs: %v %v", sum.FailureFiles[0], err, out.Diffs)
	}
}

func TestWatchdogReportsHang(t *testing.T) {
	defer stopLooping.Store(true) // release the abandoned goroutine
	dir := t.TempDir()
	sum := Run(context.Background(), Options{Scenarios: match(t, "test/unsafe-loop"), Seeds: 5, From: 1, Workers: 2,
		Watchdog: 300 * time.Millisecond, Out: dir})
	if sum.Runs != 5 || len(sum.Failures) != 1 {
		t.Fatalf("want 5 runs and 1 failure, got %d runs, failures %+v", sum.Runs, sum.Failures)
	}
	f := sum.Failures[0]
	if f.Seed != 3 || f.Checker != replay.HangChecker || !strings.Contains(f.Message, "seed 3") {
		t.Fatalf("want a hang of seed 3, got %+v", f)
	}
	ff, err := replay.Read(f.File)
	if err != nil || !ff.PlanGenerated || ff.Failure.Checker != replay.HangChecker {
		t.Fatalf("hang failure file: %+v, %v", ff, err)
	}
}

func TestDoubleRunCatchesNonDeterminism(t *testing.T) {
	sum := Run(context.Background(), Options{Scenarios: match(t, "test/unsafe-leaky"), Seeds: 2, Workers: 1, CheckDeterminism: true, Out: t.TempDir()})
	if len(sum.Failures) != 2 {
		t.Fatalf("want both seeds to fail the determinism check, got %+v", sum.Failures)
	}
	f := sum.Failures[0]
	if f.Checker != replay.DivergenceChecker || !strings.Contains(f.Message, "first differing trace line") {
		t.Fatalf("want a determinism failure naming the first differing event, got %+v", f)
	}
	// A deterministic scenario passes the same check.
	ok := Run(context.Background(), Options{Scenarios: match(t, "counter/swarm"), Seeds: 5, CheckDeterminism: true})
	if len(ok.Failures) != 0 || ok.DoubleRuns != 5 {
		t.Fatalf("counter/swarm under --check-determinism: %+v", ok)
	}
}

func TestInterruptKeepsSummarySoFar(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	sum := Run(ctx, Options{Scenarios: match(t, "counter/unsafe-nosync"), Seeds: 100000, Workers: 1, Out: t.TempDir(), FilesPerChecker: -1,
		OnFailure: func(Failure) {
			if n++; n == 3 {
				cancel()
			}
		}})
	if !sum.Interrupted || sum.Runs < 3 || sum.Runs > 100 || len(sum.FailureFiles) != int(sum.Runs) {
		t.Fatalf("interrupted campaign: interrupted=%v runs=%d files=%d", sum.Interrupted, sum.Runs, len(sum.FailureFiles))
	}
	for _, p := range sum.FailureFiles {
		if _, err := os.Stat(p); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCoverageFactsReachedAndUnreached(t *testing.T) {
	sum := Run(context.Background(), Options{Scenarios: match(t, "facts/unsafe-*"), Seeds: 10})
	a, b := sum.Coverage["facts/unsafe-a"], sum.Coverage["facts/unsafe-b"]
	if a.Reached["facts: reached only by scenario a"] != 5 || a.Reached["facts: reached by both"] != 10 || len(a.Unreached) != 0 {
		t.Fatalf("scenario a facts: %+v", a)
	}
	if len(b.Unreached) != 1 || b.Unreached[0] != "facts: reached only by scenario a" {
		t.Fatalf("scenario b should list a's fact as never reached: %+v", b)
	}
	// The same summary twice is one shard given twice: counted once.
	m, err := Merge([]*Summary{sum, sum})
	if err != nil {
		t.Fatal(err)
	}
	if m.Coverage["facts/unsafe-a"].Reached["facts: reached by both"] != 10 || m.Runs != sum.Runs {
		t.Fatalf("merged facts: %+v, runs %d", m.Coverage["facts/unsafe-a"], m.Runs)
	}
}

func TestTimeBoundedCampaign(t *testing.T) {
	sum := Run(context.Background(), Options{Scenarios: match(t, "counter/basic"), Time: 200 * time.Millisecond, Workers: 2})
	if sum.Runs == 0 || sum.Interrupted || sum.Seeds[0].Runs != sum.Runs || sum.Seeds[0].Seeds != 0 {
		t.Fatalf("time-bounded campaign: %+v", sum)
	}
}

func TestReadSummariesRejectsNonSummaries(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.json")
	_ = os.WriteFile(p, []byte(`{"runs": 3}`), 0o644)
	if _, _, err := ReadSummaries([]string{p}); err == nil {
		t.Fatal("a JSON object without seeds was accepted as a summary")
	}
	if _, _, err := ReadSummaries([]string{filepath.Join(dir, "missing.json")}); err == nil {
		t.Fatal("a missing file was accepted")
	}
}

// BenchmarkCampaign measures seeds per second on counter/swarm with 1 and 2
// workers.
func BenchmarkCampaign(b *testing.B) {
	ss, _ := scenarios.Match([]string{"counter/swarm"})
	for _, w := range []int{1, 2} {
		b.Run(map[int]string{1: "workers=1", 2: "workers=2"}[w], func(b *testing.B) {
			var runs uint64
			start := time.Now()
			for i := 0; i < b.N; i++ {
				s := Run(context.Background(), Options{Scenarios: ss, Seeds: 200, From: uint64(i) * 200, Workers: w, DoubleRunEvery: 1 << 40})
				runs += s.Runs
			}
			b.ReportMetric(float64(runs)/time.Since(start).Seconds(), "seeds/s")
		})
	}
}
