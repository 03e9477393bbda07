package etcdsim

import (
	"runtime"
	"testing"

	"github.com/smilingraft/dsim/scenarios"
	_ "github.com/smilingraft/dsim/scenarios/all" // dsim's own Raft scenarios, for comparison
)

// BenchmarkPerEvent runs whole seeds of an etcd raft scenario and of dsim's
// own Raft on the same shape, in the same process, checkers on, and reports
// wall time per simulated event (ns/event), events per second, allocations
// per event and seeds per second. Seeds cycle through 1..16.
//
//	go test ./etcdsim -run '^$' -bench PerEvent -benchtime 40x
func BenchmarkPerEvent(b *testing.B) {
	for _, name := range []string{"etcd/swarm", "raft/swarm", "etcd/churn", "raft/figure8-unreliable", "etcd/reads", "etcd/membership", "etcd/features", "kv/swarm"} {
		b.Run(name, func(b *testing.B) {
			s, err := scenarios.Lookup(name)
			if err != nil {
				b.Fatal(err)
			}
			var events uint64
			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				res := scenarios.Run(s, nil, uint64(i%16)+1, scenarios.Config{})
				if !res.Passed {
					b.Fatalf("%s: %+v", res.Repro, res.Failure)
				}
				events += res.Events
			}
			b.StopTimer()
			runtime.ReadMemStats(&ms1)
			ns := float64(b.Elapsed().Nanoseconds())
			b.ReportMetric(ns/float64(events), "ns/event")
			b.ReportMetric(float64(events)/(ns/1e9), "events/s")
			b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(events), "allocs/event")
			b.ReportMetric(float64(b.N)/(ns/1e9), "seeds/s")
			b.ReportMetric(float64(events)/float64(b.N), "events/seed")
		})
	}
}
