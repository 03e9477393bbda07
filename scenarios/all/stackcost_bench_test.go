package all_test

import (
	"runtime"
	"sort"
	"testing"
	"time"

	"github.com/smilingraft/dsim/scenarios"
)

// costStacks are the systems whose per-event cost the stack benchmarks
// compare; raft/* is the yardstick (issue 26: the KV half at most 1.2x
// Raft's ns/event and at most 2 allocations per event).
var costStacks = []string{"raft", "kv", "rsm", "shardkv", "kvsrv"}

// stackCost accumulates one stack's runs: wall time, process CPU time,
// events, mallocs and bytes allocated, per scenario too.
type stackCost struct {
	runs, events, mallocs, bytes uint64
	wall                         time.Duration
	cpu                          int64
	per                          map[string]*stackCost
}

func (c *stackCost) add(name string, wall time.Duration, cpu int64, events, mallocs, bytes uint64) {
	for _, d := range []*stackCost{c, c.scenario(name)} {
		d.runs++
		d.events += events
		d.mallocs += mallocs
		d.bytes += bytes
		d.wall += wall
		d.cpu += cpu
	}
}

func (c *stackCost) scenario(name string) *stackCost {
	if c.per == nil {
		c.per = map[string]*stackCost{}
	}
	d := c.per[name]
	if d == nil {
		d = &stackCost{}
		c.per[name] = d
	}
	return d
}

func (c *stackCost) nsPerEvent() float64 { return float64(c.wall.Nanoseconds()) / float64(c.events) }

func (c *stackCost) cpuPerEvent() float64 { return float64(c.cpu) / float64(c.events) }

func (c *stackCost) allocsPerEvent() float64 { return float64(c.mallocs) / float64(c.events) }

// stackScenarios returns the safe scenarios of each cost stack, by name.
func stackScenarios(b *testing.B) [][]*scenarios.Scenario {
	out := make([][]*scenarios.Scenario, len(costStacks))
	for i, st := range costStacks {
		ss, err := scenarios.Match([]string{st + "/*"})
		if err != nil {
			b.Fatal(err)
		}
		out[i] = ss
	}
	return out
}

// runCost runs one (scenario, seed) as a campaign does and measures it; a
// run that does not pass stops the benchmark.
func runCost(b *testing.B, s *scenarios.Scenario, seed uint64, c *stackCost) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m0, b0 := ms.Mallocs, ms.TotalAlloc
	c0 := processCPU()
	t0 := time.Now()
	res := scenarios.Run(s, scenarios.Variant{}, seed, scenarios.Config{})
	dt := time.Since(t0)
	cpu := processCPU() - c0
	runtime.ReadMemStats(&ms)
	if !res.Passed {
		b.Fatalf("%s seed %d: %v %v", s.Name, seed, res.Failure, res.Undecided)
	}
	c.add(s.Name, dt, cpu, res.Events, ms.Mallocs-m0, ms.TotalAlloc-b0)
}

// pick returns iteration i's scenario and seed of a stack: its scenarios
// in turn, then the next seed, so that b.N >= the number of scenarios
// weighs them as a campaign does (one seed of each).
func pick(ss []*scenarios.Scenario, i int) (*scenarios.Scenario, uint64) {
	return ss[i%len(ss)], uint64(i/len(ss)) + 1
}

// BenchmarkStacksInterleaved runs, per iteration, one (scenario, seed) of
// each stack in costStacks (a rotating order, so that no stack always pays
// for the garbage of the same predecessor), each timed alone, so that all
// see the same machine load. It reports each stack's ns/event (wall),
// cpu-ns/event (the process's user+system CPU time during the run, the GC's
// included: steadier than wall time on a shared machine), allocs/event, B/event, events/seed, ms/seed and allocs/seed, and each
// stack's ns/event, cpu-ns/event and allocs/event as ratios to raft/*. With -v it logs
// the same per scenario. Iteration i runs each stack's scenario i mod n
// (n its number of safe scenarios) at seed i/n+1: use -benchtime 72x or
// more to cover every scenario (raft/* has the most).
//
//	go test ./scenarios/all -run '^$' -bench StacksInterleaved -benchtime 72x
func BenchmarkStacksInterleaved(b *testing.B) {
	ss := stackScenarios(b)
	costs := make([]stackCost, len(costStacks))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range costStacks {
			k := (i + j) % len(costStacks)
			s, seed := pick(ss[k], i)
			runCost(b, s, seed, &costs[k])
		}
	}
	b.StopTimer()
	for k, st := range costStacks {
		reportStack(b, st+"-", &costs[k])
		if k > 0 {
			b.ReportMetric(costs[k].nsPerEvent()/costs[0].nsPerEvent(), st+"/raft-ns")
			b.ReportMetric(costs[k].cpuPerEvent()/costs[0].cpuPerEvent(), st+"/raft-cpu")
			b.ReportMetric(costs[k].allocsPerEvent()/costs[0].allocsPerEvent(), st+"/raft-allocs")
		}
	}
	logScenarios(b, costs)
}

// BenchmarkStack runs one stack alone (its scenarios in turn, then the
// next seed), for CPU and memory profiles of one stack:
//
//	go test ./scenarios/all -run '^$' -bench 'Stack/kv$' -benchtime 80x -cpuprofile kv.prof
func BenchmarkStack(b *testing.B) {
	ss := stackScenarios(b)
	for k, st := range costStacks {
		b.Run(st, func(b *testing.B) {
			var c stackCost
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				s, seed := pick(ss[k], i)
				runCost(b, s, seed, &c)
			}
			reportStack(b, "", &c)
			logScenarios(b, []stackCost{c})
		})
	}
}

func reportStack(b *testing.B, prefix string, c *stackCost) {
	if c.runs == 0 || c.events == 0 {
		return
	}
	b.ReportMetric(c.nsPerEvent(), prefix+"ns/event")
	b.ReportMetric(c.cpuPerEvent(), prefix+"cpu-ns/event")
	b.ReportMetric(c.allocsPerEvent(), prefix+"allocs/event")
	b.ReportMetric(float64(c.bytes)/float64(c.events), prefix+"B/event")
	b.ReportMetric(float64(c.events)/float64(c.runs), prefix+"events/seed")
	b.ReportMetric(float64(c.wall.Nanoseconds())/1e6/float64(c.runs), prefix+"ms/seed")
	b.ReportMetric(float64(c.mallocs)/float64(c.runs), prefix+"allocs/seed")
}

// logScenarios logs (with -v) every scenario's runs, events/seed,
// ns/event, allocs/event and allocs/seed, costliest per seed first.
func logScenarios(b *testing.B, costs []stackCost) {
	if !testing.Verbose() {
		return
	}
	type row struct {
		name string
		c    *stackCost
	}
	var rows []row
	for k := range costs {
		for name, c := range costs[k].per {
			rows = append(rows, row{name, c})
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		wi := float64(rows[i].c.wall) / float64(rows[i].c.runs)
		wj := float64(rows[j].c.wall) / float64(rows[j].c.runs)
		if wi != wj {
			return wi > wj
		}
		return rows[i].name < rows[j].name
	})
	for _, r := range rows {
		c := r.c
		b.Logf("%-55s runs %3d  events/seed %8.0f  ms/seed %7.2f  ns/event %6.0f  allocs/event %5.2f  allocs/seed %8.0f",
			r.name, c.runs, float64(c.events)/float64(c.runs), float64(c.wall.Nanoseconds())/1e6/float64(c.runs),
			c.nsPerEvent(), c.allocsPerEvent(), float64(c.mallocs)/float64(c.runs))
	}
}
