package scenarios

import (
	"math"
	"sort"
)

// Metrics are observations: a scenario records them with Cluster.Metric
// (one float64 per name and run, last value wins) and they appear in the
// run's Result.Metrics, in `run --json`, in campaign summaries (per
// scenario: count, mean, p50/p90/p99, min, max over runs; see
// campaign.Dist) and in `dsim compare` (per variant: median, confidence
// interval, significance). Any name a scenario records is aggregated: a new
// system needs no registration, only Metric calls. Recording a metric must
// never change a run: no randomness drawn, no event scheduled, no message
// sent (the trace hash stays the same).
//
// Conventions: names are snake_case and end in their unit: "_ns" for
// virtual-time durations (compare and plots print them as durations),
// "_bytes", "_per_commit", or a plain count ("leader_changes").

// Distribution records the p50, p99 and max of a run's measurements (the
// latencies of its operations, say) as name_p50_ns, name_p99_ns and
// name_max_ns when name ends in "_ns" (name_p50, ... otherwise), and
// their count as name_count. Nothing is recorded for an empty list: a run
// without operations has no latency. vs is sorted in place.
func (c *Cluster) Distribution(name string, vs []float64) {
	if len(vs) == 0 {
		return
	}
	base, unit := name, ""
	if len(name) > 3 && name[len(name)-3:] == "_ns" {
		base, unit = name[:len(name)-3], "_ns"
	}
	sort.Float64s(vs)
	c.Metric(base+"_p50"+unit, Quantile(vs, 0.50))
	c.Metric(base+"_p99"+unit, Quantile(vs, 0.99))
	c.Metric(base+"_max"+unit, vs[len(vs)-1])
	c.Metric(base+"_count", float64(len(vs)))
}

// Quantile returns the q-quantile (0 <= q <= 1) of sorted values by
// linear interpolation between the closest ranks (NaN for none).
func Quantile(sorted []float64, q float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	pos := q * float64(n-1)
	lo := int(math.Floor(pos))
	if lo >= n-1 {
		return sorted[n-1]
	}
	if lo < 0 {
		return sorted[0]
	}
	f := pos - float64(lo)
	return sorted[lo] + f*(sorted[lo+1]-sorted[lo])
}
