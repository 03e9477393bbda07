package kv

import (
	"testing"

	"github.com/smilingraft/dsim/scenarios"
)

// benchScenarios are the main KV-on-Raft scenarios: the swarm and the lab's
// hardest generic test.
var benchScenarios = []string{"kv/swarm", "kv/persist-partition-unreliable"}

// BenchmarkSeeds runs one seed of each main KV-on-Raft scenario per
// iteration (a fresh seed each time) and reports checked seeds/s and the
// share of wall time spent in porcupine; an undecided (porcupine timeout) or
// failed seed stops the benchmark.
func BenchmarkSeeds(b *testing.B) {
	for _, name := range benchScenarios {
		s, err := scenarios.Lookup(name)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name[len("kv/"):], func(b *testing.B) {
			var wall, porcupine float64
			for i := 0; i < b.N; i++ {
				res := scenarios.Run(s, scenarios.Variant{}, uint64(i+1), scenarios.Config{})
				if !res.Passed {
					b.Fatalf("seed %d: %v %v", i+1, res.Failure, res.Undecided)
				}
				wall += float64(res.WallNs)
				porcupine += res.Metrics["porcupine_wall_ns"]
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "seeds/s")
			b.ReportMetric(100*porcupine/wall, "%porcupine")
		})
	}
}
