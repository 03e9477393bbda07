package all_test

import (
	"runtime"
	"runtime/metrics"
	"testing"

	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// longRuns are the KV half's runs with the most events per seed, each with
// snapshots (so that Raft's own state is bounded) or many clients.
var longRuns = []string{"kv/speed-snapshot", "kv/snapshot-recover-many-clients", "rsm/snapshot-churn", "shardkv/swarm"}

// BenchmarkLiveHeap measures whether a long run's memory grows with its
// events beyond what it must keep: it runs each scenario once to learn its
// length, then again with a full GC at eight evenly spaced events, and
// reports the live heap's growth from the first sample to the last per
// event and per client operation recorded in between. The history (every
// operation, kept for the checkers) is the one thing that must grow; a
// leak shows as growth per event far above the history's per operation.
//
//	go test ./scenarios/all -run '^$' -bench LiveHeap -benchtime 1x
func BenchmarkLiveHeap(b *testing.B) {
	for _, name := range longRuns {
		s, err := scenarios.Lookup(name)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				total := scenarios.Run(s, nil, 1, scenarios.Config{}).Events
				var live [8]uint64
				var ops [8]int
				var at [8]uint64
				k := 0
				cfg := scenarios.Config{Observe: func(w *sim.World) {
					w.AfterEvent(func() {
						if k < len(live) && w.Events() == total*uint64(k+1)/uint64(len(live)) {
							live[k], ops[k], at[k] = liveHeap(), len(w.History()), w.Events()
							k++
						}
					})
				}}
				res := scenarios.Run(s, nil, 1, cfg)
				if !res.Passed || k < 2 {
					b.Fatalf("%s: passed %v, %d samples", name, res.Passed, k)
				}
				last := k - 1
				grow := float64(live[last]) - float64(live[0])
				b.ReportMetric(float64(live[0])/1024, "live-KiB-first")
				b.ReportMetric(float64(live[last])/1024, "live-KiB-last")
				b.ReportMetric(grow/float64(at[last]-at[0]), "live-B/event")
				if d := ops[last] - ops[0]; d > 0 {
					b.ReportMetric(grow/float64(d), "live-B/op")
				}
				b.ReportMetric(float64(total), "events")
			}
		})
	}
}

// liveHeap collects garbage and returns the bytes of live heap objects.
func liveHeap() uint64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
