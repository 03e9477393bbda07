package campaign

import (
	"context"
	"encoding/json"
	"math"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// exactQuantile is the nearest-rank quantile of sorted values.
func exactQuantile(sorted []float64, q float64) float64 {
	return sorted[int(math.Round(q*float64(len(sorted)-1)))]
}

func TestDistQuantilesWithinOnePercentAndMeanExact(t *testing.T) {
	r := sim.NewRand(7)
	var vs []float64
	var d Dist
	sum := 0.0
	for i := 0; i < 5000; i++ {
		// A long-tailed latency in ns, a zero now and then, a few negatives.
		v := float64(1+r.Intn(1000)) * float64(1+r.Intn(1000)) * 1e3
		switch i % 97 {
		case 0:
			v = 0
		case 1:
			v = -v
		}
		vs = append(vs, v)
		d.Add(v)
		sum += v
	}
	d.Add(math.NaN())
	d.Add(math.Inf(1))
	d.finish()
	sort.Float64s(vs)
	if d.Count != uint64(len(vs)) {
		t.Fatalf("count %d, want %d (NaN and Inf are not counted)", d.Count, len(vs))
	}
	if d.Min != vs[0] || d.Max != vs[len(vs)-1] {
		t.Fatalf("min/max %v/%v, want %v/%v", d.Min, d.Max, vs[0], vs[len(vs)-1])
	}
	if want := sum / float64(len(vs)); math.Abs(d.Mean-want) > 1e-9*math.Abs(want) {
		t.Fatalf("mean %v, want %v", d.Mean, want)
	}
	for _, q := range []float64{0.5, 0.9, 0.99} {
		got, want := d.Quantile(q), exactQuantile(vs, q)
		if math.Abs(got-want) > 0.0101*math.Abs(want) {
			t.Errorf("p%v = %v, exact %v: more than 1%% off", q*100, got, want)
		}
	}
	if len(d.Buckets) > 2*MaxBucketKey+1 {
		t.Fatalf("%d buckets", len(d.Buckets))
	}
}

func TestDistMergeIsOrderFreeAndEqualsWhole(t *testing.T) {
	r := sim.NewRand(3)
	var vs []float64
	for i := 0; i < 300; i++ {
		vs = append(vs, float64(r.Intn(1_000_000))/7)
	}
	var whole, rev Dist
	for i := range vs {
		whole.Add(vs[i])
		rev.Add(vs[len(vs)-1-i])
	}
	whole.finish()
	rev.finish()
	if d := cmp.Diff(whole, rev); d != "" {
		t.Fatalf("adding in another order differs:\n%s", d)
	}
	// Three parts through JSON (what campaign merge reads), merged.
	var merged Dist
	for p := 0; p < 3; p++ {
		var part Dist
		for i := p; i < len(vs); i += 3 {
			part.Add(vs[i])
		}
		part.finish()
		b, err := json.Marshal(&part)
		if err != nil {
			t.Fatal(err)
		}
		var back Dist
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if err := merged.merge(&back); err != nil {
			t.Fatal(err)
		}
	}
	merged.finish()
	if d := cmp.Diff(whole, merged); d != "" {
		t.Fatalf("merged parts differ from the whole (-whole +merged):\n%s", d)
	}
}

func TestDistSumIsExactBeyondFloat64(t *testing.T) {
	var d Dist
	// 2^53+1 thousandths cannot be held by a float64 sum.
	d.Add(float64(1<<53) / 1000)
	d.Add(0.001)
	d.finish()
	if d.SumMilli != "9007199254740993" {
		t.Fatalf("sum_milli %s, want 9007199254740993", d.SumMilli)
	}
	var neg Dist
	neg.Add(-2.5)
	neg.Add(1)
	neg.finish()
	if neg.SumMilli != "-1500" || neg.Mean != -0.75 {
		t.Fatalf("negative sum %s mean %v", neg.SumMilli, neg.Mean)
	}
}

// A real system's metrics: shards of a raft campaign merge to what the
// unsharded campaign reports, through the JSON campaign merge reads.
func TestRaftMetricsMergeAcrossShards(t *testing.T) {
	ss := match(t, "raft/unreliable-churn")
	o := Options{Scenarios: ss, Seeds: 6, From: 1, Workers: 2, DoubleRunEvery: 1 << 40}
	whole := Run(context.Background(), o)
	var parts []*Summary
	for i := 0; i < 2; i++ {
		po := o
		po.Shard = Shard{i, 2}
		b, err := json.Marshal(Run(context.Background(), po))
		if err != nil {
			t.Fatal(err)
		}
		p, err := ParseSummary("part", b)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, p)
	}
	merged, err := Merge(parts)
	if err != nil {
		t.Fatal(err)
	}
	ms := whole.Metrics["raft/unreliable-churn"]
	for _, k := range []string{"first_leader_ns", "leader_changes", "no_leader_total_ns", "commit_latency_p99_ns",
		"op_latency_p50_ns", "msgs_per_commit", "retries", scenarios.WorkUnderFaults} {
		if ms[k] == nil || ms[k].Count != 6 {
			t.Errorf("metric %s: %+v, want 6 values", k, ms[k])
		}
	}
	if d := cmp.Diff(whole.Metrics, merged.Metrics); d != "" {
		t.Fatalf("merged metrics differ from the whole campaign (-whole +merged):\n%s", d)
	}
}

func TestCheckRejectsBadMetrics(t *testing.T) {
	sum := Run(context.Background(), Options{Scenarios: match(t, "counter/swarm"), Seeds: 4})
	name := "counter/swarm"
	if len(sum.Metrics[name]) == 0 {
		t.Fatal("counter/swarm recorded no metrics")
	}
	b, err := json.Marshal(sum)
	if err != nil {
		t.Fatal(err)
	}
	for what, bad := range map[string]func(d *Dist){
		"more values than runs":       func(d *Dist) { d.Count = 5 },
		"buckets not adding up":       func(d *Dist) { d.Buckets[0][1]++ },
		"min above max":               func(d *Dist) { d.Min, d.Max = d.Max+1, d.Min },
		"buckets out of order":        func(d *Dist) { d.Buckets = append(d.Buckets, d.Buckets[0]); d.Count++ },
		"min not in the first bucket": func(d *Dist) { d.Min = -1e6 },
	} {
		var s Summary
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatal(err)
		}
		d := s.Metrics[name][scenarios.WorkUnderFaults]
		bad(d)
		if err := s.Check(); err == nil {
			t.Errorf("%s: Check accepted %+v", what, d)
		}
	}
	for what, js := range map[string]string{
		"bucket key out of range": `{"count":1,"buckets":[[99999,1]]}`,
		"bad sum":                 `{"count":1,"sum_milli":"12x","buckets":[[1,1]]}`,
		"sum past 128 bits":       `{"count":1,"sum_milli":"9999999999999999999999999999999999999999","buckets":[[1,1]]}`,
	} {
		var d Dist
		if err := json.Unmarshal([]byte(js), &d); err == nil {
			t.Errorf("%s: decoded %s", what, js)
		}
	}
	var s Summary
	_ = json.Unmarshal(b, &s)
	s.Metrics["nosuch/scenario"] = map[string]*Dist{"x": {}}
	if err := s.Check(); err == nil {
		t.Error("Check accepted metrics of a scenario without a seed range")
	}
}
