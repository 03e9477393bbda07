package shardkv

import (
	"testing"

	"github.com/smilingraft/dsim/scenarios"
)

// BenchmarkSeeds runs one seed of the unreliable many-join-leave scenario
// (the yardstick) and of the swarm per iteration, a fresh seed
// each time, and reports checked seeds/s and the virtual-to-wall time
// ratio; a seed that does not pass stops the benchmark.
func BenchmarkSeeds(b *testing.B) {
	for _, name := range []string{"shardkv/many-join-leave-unreliable", "shardkv/swarm"} {
		s, err := scenarios.Lookup(name)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name[len("shardkv/"):], func(b *testing.B) {
			var vtime, wall float64
			for i := 0; i < b.N; i++ {
				res := scenarios.Run(s, scenarios.Variant{}, uint64(i+1), scenarios.Config{})
				if !res.Passed {
					b.Fatalf("seed %d: %v %v", i+1, res.Failure, res.Undecided)
				}
				vtime += float64(res.VTime)
				wall += float64(res.WallNs)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "seeds/s")
			b.ReportMetric(vtime/wall, "virtual/wall")
		})
	}
}
