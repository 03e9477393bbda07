package campaign

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"sort"
)

// Dist summarises one metric of one scenario (any name the scenario
// records with scenarios.Cluster.Metric) over the runs of a campaign that
// reported it: count, exact mean, min and max, and the p50, p90 and p99
// over runs. It is mergeable: merging the Dists of two shards gives what
// one campaign over both would have, whatever order runs finished in.
//
// Exact quantiles would need every run's value, and a million-seed
// campaign must stay in bounded memory, so the quantiles come from a
// log-bucketed histogram (the DDSketch idea): a positive value v falls in
// bucket ceil(log_g v) with g = (1+a)/(1-a), a = 1%, and a quantile is
// reported as its bucket's midpoint, within 1% of the true value (clamped
// to the exact min and max). Values are clamped to 1e-3..1e18 in
// magnitude (zero has its own bucket, negatives mirror positives), so a
// Dist never holds more than 2*MaxBucketKey+1 buckets however many runs it
// covers. The sum behind the mean is kept exactly, in thousandths, as a
// 128-bit integer, so that adding runs in any order gives the same bits.
// NaN and infinite values are not counted.
type Dist struct {
	Count uint64  `json:"count"`
	Mean  float64 `json:"mean"`
	Min   float64 `json:"min"`
	Max   float64 `json:"max"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	// SumMilli is the exact sum of the values rounded to thousandths, in
	// decimal (it may need 128 bits).
	SumMilli string `json:"sum_milli"`
	// Buckets are the histogram, (key, count) by increasing key: key 0
	// holds zeros, key k > 0 positive values in (g^(k-o-1), g^(k-o)] with
	// o = bucketOffset, key -k their negatives.
	Buckets [][2]int64 `json:"buckets"`
	// Sum is SumMilli as a number, kept while adding (not in JSON).
	Sum int128 `json:"-"`
}

// Sketch parameters; see Dist.
const (
	distAccuracy = 0.01
	// MaxBucketKey bounds |key| of a Dist bucket: values 1e-3..1e18.
	MaxBucketKey = 2451
	bucketOffset = 350
	// MaxMetricsPerScenario bounds the metric names a summary keeps per
	// scenario; names past it (in the order first seen) are not
	// aggregated.
	MaxMetricsPerScenario = 256
	minMagnitude          = 1e-3
	maxMagnitude          = 1e18
)

var logGamma = math.Log((1 + distAccuracy) / (1 - distAccuracy))

// bucketKey returns v's bucket (see Dist.Buckets).
func bucketKey(v float64) int32 {
	if v == 0 {
		return 0
	}
	m := math.Min(math.Max(math.Abs(v), minMagnitude), maxMagnitude)
	k := int32(math.Ceil(math.Log(m)/logGamma)) + bucketOffset
	k = max(1, min(k, MaxBucketKey))
	if v < 0 {
		return -k
	}
	return k
}

// bucketValue returns the value a bucket stands for: the midpoint (in
// relative terms) of its range.
func bucketValue(k int32) float64 {
	if k == 0 {
		return 0
	}
	a := k
	if a < 0 {
		a = -a
	}
	g := math.Exp(logGamma)
	v := math.Exp(float64(a-bucketOffset)*logGamma) * 2 / (1 + g)
	if k < 0 {
		return -v
	}
	return v
}

// Add counts one run's value.
func (d *Dist) Add(v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	if d.Count == 0 || v < d.Min {
		d.Min = v
	}
	if d.Count == 0 || v > d.Max {
		d.Max = v
	}
	d.Count++
	d.addBucket(int64(bucketKey(v)), 1)
	d.Sum = d.Sum.add(milli(v))
}

// addBucket adds n to bucket k, keeping Buckets sorted by key.
func (d *Dist) addBucket(k, n int64) {
	i := sort.Search(len(d.Buckets), func(i int) bool { return d.Buckets[i][0] >= k })
	if i < len(d.Buckets) && d.Buckets[i][0] == k {
		d.Buckets[i][1] += n
		return
	}
	d.Buckets = append(d.Buckets, [2]int64{})
	copy(d.Buckets[i+1:], d.Buckets[i:])
	d.Buckets[i] = [2]int64{k, n}
}

// merge adds another Dist's runs (both decoded or built by Add).
func (d *Dist) merge(o *Dist) error {
	if o.Count == 0 {
		return nil
	}
	if d.Count == 0 || o.Min < d.Min {
		d.Min = o.Min
	}
	if d.Count == 0 || o.Max > d.Max {
		d.Max = o.Max
	}
	var c uint64
	if d.Count, c = bits.Add64(d.Count, o.Count, 0); c != 0 {
		return fmt.Errorf("metric counts overflow")
	}
	for _, kv := range o.Buckets {
		d.addBucket(kv[0], kv[1]) // checked: at most Count, no overflow
	}
	d.Sum = d.Sum.add(o.Sum)
	return nil
}

// finish derives the summary fields from the histogram and the sum.
func (d *Dist) finish() {
	if d.Buckets == nil {
		d.Buckets = [][2]int64{}
	}
	s := d.Sum.big()
	d.SumMilli = s.String()
	d.Mean, d.P50, d.P90, d.P99 = 0, 0, 0, 0
	if d.Count == 0 {
		return
	}
	f, _ := new(big.Float).Quo(new(big.Float).SetInt(s), new(big.Float).SetUint64(d.Count)).Float64()
	d.Mean = f / 1000
	d.P50, d.P90, d.P99 = d.Quantile(0.50), d.Quantile(0.90), d.Quantile(0.99)
}

// Quantile returns the q-quantile over runs (nearest rank) as its
// bucket's value, within 1% of the exact one, clamped to [Min, Max].
func (d *Dist) Quantile(q float64) float64 {
	if d.Count == 0 {
		return 0
	}
	rank := uint64(math.Round(q * float64(d.Count-1)))
	var seen uint64
	for _, kv := range d.Buckets {
		seen += uint64(kv[1])
		if seen > rank {
			return math.Min(math.Max(bucketValue(int32(kv[0])), d.Min), d.Max)
		}
	}
	return d.Max
}

// UnmarshalJSON decodes a Dist and rebuilds its histogram and sum, so
// that it can be merged; Check validates it.
func (d *Dist) UnmarshalJSON(b []byte) error {
	type plain Dist
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*d = Dist(p)
	if len(d.Buckets) > 2*MaxBucketKey+1 {
		return fmt.Errorf("more than %d buckets", 2*MaxBucketKey+1)
	}
	for _, kv := range d.Buckets {
		if kv[0] < -MaxBucketKey || kv[0] > MaxBucketKey || kv[1] <= 0 {
			return fmt.Errorf("bucket (%d, %d) out of range", kv[0], kv[1])
		}
	}
	if d.SumMilli == "" {
		d.SumMilli = "0"
	}
	if len(d.SumMilli) > 45 {
		return fmt.Errorf("sum_milli %.20q... too long", d.SumMilli)
	}
	s, ok := new(big.Int).SetString(d.SumMilli, 10)
	if !ok {
		return fmt.Errorf("sum_milli %q is not an integer", d.SumMilli)
	}
	if d.Sum, ok = int128FromBig(s); !ok {
		return fmt.Errorf("sum_milli %q overflows 128 bits", d.SumMilli)
	}
	return nil
}

// check validates a decoded Dist against the runs of its scenario.
func (d *Dist) check(runs uint64) error {
	if d.Count > runs {
		return fmt.Errorf("%d values in %d runs", d.Count, runs)
	}
	var n uint64
	for i, kv := range d.Buckets {
		if i > 0 && kv[0] <= d.Buckets[i-1][0] {
			return fmt.Errorf("buckets not increasing")
		}
		var c uint64
		if n, c = bits.Add64(n, uint64(kv[1]), 0); c != 0 || n > d.Count {
			return fmt.Errorf("bucket counts above the count %d", d.Count)
		}
	}
	if n != d.Count {
		return fmt.Errorf("bucket counts add up to %d, not the count %d", n, d.Count)
	}
	for _, v := range []float64{d.Min, d.Max, d.Mean} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("min, max or mean not finite")
		}
	}
	if d.Count > 0 && (d.Min > d.Max || int64(bucketKey(d.Min)) != d.Buckets[0][0] ||
		int64(bucketKey(d.Max)) != d.Buckets[len(d.Buckets)-1][0]) {
		return fmt.Errorf("min %v and max %v do not agree with the buckets", d.Min, d.Max)
	}
	return nil
}

// addMetrics folds one run's metrics into a scenario's Dists.
func addMetrics(to map[string]*Dist, ms map[string]float64) {
	names := make([]string, 0, len(ms))
	for k := range ms {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		d := to[k]
		if d == nil {
			if len(to) >= MaxMetricsPerScenario {
				continue
			}
			d = &Dist{}
			to[k] = d
		}
		d.Add(ms[k])
	}
}

// int128 is a two's-complement 128-bit integer: the exact sum of
// thousandths.
type int128 struct {
	Hi int64
	Lo uint64
}

func (a int128) add(b int128) int128 {
	lo, c := bits.Add64(a.Lo, b.Lo, 0)
	return int128{a.Hi + b.Hi + int64(c), lo}
}

// milli returns round(v*1000), saturated to the int64 range.
func milli(v float64) int128 {
	m := math.Round(v * 1000)
	var x int64
	switch {
	case m >= math.MaxInt64:
		x = math.MaxInt64
	case m <= math.MinInt64:
		x = math.MinInt64
	default:
		x = int64(m)
	}
	hi := int64(0)
	if x < 0 {
		hi = -1
	}
	return int128{hi, uint64(x)}
}

func (a int128) big() *big.Int {
	b := new(big.Int).SetInt64(a.Hi)
	b.Lsh(b, 64)
	return b.Add(b, new(big.Int).SetUint64(a.Lo))
}

func int128FromBig(b *big.Int) (int128, bool) {
	if b.BitLen() > 127 {
		return int128{}, false
	}
	lo := new(big.Int).And(b, new(big.Int).SetUint64(math.MaxUint64)).Uint64()
	hi := new(big.Int).Rsh(b, 64).Int64()
	return int128{hi, lo}, true
}
