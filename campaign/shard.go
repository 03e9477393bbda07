package campaign

import (
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
)

// Shard is one part of a campaign split N ways: shard I runs the seeds
// from + k·N + I, so shards are disjoint and their union is the whole.
type Shard struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

// All is the unsharded campaign.
var All = Shard{Index: 0, Count: 1}

// String prints "I/N".
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// Valid reports whether 0 <= I < N <= MaxShards.
func (s Shard) Valid() bool { return s.Check() == nil }

// Check says what is wrong with a shard: a count below 1 or above
// MaxShards, an index outside 0..N-1.
func (s Shard) Check() error {
	if s.Count < 1 || s.Count > MaxShards {
		return fmt.Errorf("shard count %d outside 1..%d", s.Count, MaxShards)
	}
	if s.Index < 0 || s.Index >= s.Count {
		return fmt.Errorf("shard index %d outside 0..%d", s.Index, s.Count-1)
	}
	return nil
}

// ParseShard parses "I/N" with 0 <= I < N <= MaxShards.
func ParseShard(s string) (Shard, error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Shard{}, fmt.Errorf("bad shard %q: want I/N with 0 <= I < N", s)
	}
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil {
		return Shard{}, fmt.Errorf("bad shard %q: want I/N with 0 <= I < N", s)
	}
	sh := Shard{Index: i, Count: n}
	if err := sh.Check(); err != nil {
		return Shard{}, fmt.Errorf("bad shard %q: %v", s, err)
	}
	return sh, nil
}

// ShardFromEnv finds the shard a job engine assigned through environment
// variables, in this order (the first one present wins):
//
//   - DSIM_SHARD="I/N"
//   - DSIM_SHARD_INDEX and DSIM_SHARD_COUNT (a GitHub Actions matrix sets them
//     from strategy.job-index and strategy.job-total)
//   - JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) with DSIM_SHARD_COUNT
//     (or JOB_COMPLETIONS) as N
//   - SLURM_ARRAY_TASK_ID with SLURM_ARRAY_TASK_COUNT, _MIN (default 0) and
//     _STEP (default 1): I = (ID-MIN)/STEP
//   - CI_NODE_INDEX and CI_NODE_TOTAL (GitLab parallel:, 1-based)
//
// It returns ok=false when none is set; a malformed or out-of-range value is
// an error naming the variable. source names the variables used.
func ShardFromEnv(getenv func(string) string) (sh Shard, source string, ok bool, err error) {
	num := func(name string) (int, bool, error) {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			return 0, false, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, true, fmt.Errorf("%s=%q is not an integer", name, v)
		}
		return n, true, nil
	}
	check := func(sh Shard, source string) (Shard, string, bool, error) {
		if err := sh.Check(); err != nil {
			return Shard{}, source, true, fmt.Errorf("%s: %v", source, err)
		}
		return sh, source, true, nil
	}
	// pair reads an index variable and a count variable, both required once
	// the index is set.
	pair := func(idxName string, countNames ...string) (int, int, bool, error) {
		i, has, err := num(idxName)
		if err != nil || !has {
			return 0, 0, has, err
		}
		for _, c := range countNames {
			n, hasN, err := num(c)
			if err != nil {
				return 0, 0, true, err
			}
			if hasN {
				return i, n, true, nil
			}
		}
		return 0, 0, true, fmt.Errorf("%s is set but %s is not", idxName, strings.Join(countNames, " or "))
	}

	if v := strings.TrimSpace(getenv("DSIM_SHARD")); v != "" {
		sh, err := ParseShard(v)
		if err != nil {
			return Shard{}, "DSIM_SHARD", true, fmt.Errorf("DSIM_SHARD: %v", err)
		}
		return sh, "DSIM_SHARD", true, nil
	}
	if i, n, has, err := pair("DSIM_SHARD_INDEX", "DSIM_SHARD_COUNT"); has || err != nil {
		if err != nil {
			return Shard{}, "DSIM_SHARD_INDEX", true, err
		}
		return check(Shard{i, n}, "DSIM_SHARD_INDEX/DSIM_SHARD_COUNT")
	}
	if i, n, has, err := pair("JOB_COMPLETION_INDEX", "DSIM_SHARD_COUNT", "JOB_COMPLETIONS"); has || err != nil {
		if err != nil {
			return Shard{}, "JOB_COMPLETION_INDEX", true, err
		}
		return check(Shard{i, n}, "JOB_COMPLETION_INDEX")
	}
	if id, has, err := num("SLURM_ARRAY_TASK_ID"); has || err != nil {
		if err != nil {
			return Shard{}, "SLURM_ARRAY_TASK_ID", true, err
		}
		min, _, err := num("SLURM_ARRAY_TASK_MIN")
		if err != nil {
			return Shard{}, "SLURM_ARRAY_TASK_MIN", true, err
		}
		step, hasStep, err := num("SLURM_ARRAY_TASK_STEP")
		if err != nil {
			return Shard{}, "SLURM_ARRAY_TASK_STEP", true, err
		}
		if !hasStep {
			step = 1
		}
		if step < 1 {
			return Shard{}, "SLURM_ARRAY_TASK_STEP", true, fmt.Errorf("SLURM_ARRAY_TASK_STEP=%d must be at least 1", step)
		}
		count, hasCount, err := num("SLURM_ARRAY_TASK_COUNT")
		if err != nil {
			return Shard{}, "SLURM_ARRAY_TASK_COUNT", true, err
		}
		if !hasCount {
			return Shard{}, "SLURM_ARRAY_TASK_ID", true, fmt.Errorf("SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not")
		}
		// An array given as a list (--array=0,2,5) sets MIN=0, MAX=5,
		// COUNT=3: IDs are not MIN + k*STEP, so (ID-MIN)/STEP would run
		// shards 0 and 2 of 3 and never 1. Every task refuses it.
		max, hasMax, err := num("SLURM_ARRAY_TASK_MAX")
		if err != nil {
			return Shard{}, "SLURM_ARRAY_TASK_MAX", true, err
		}
		if hasMax && (max < min || (max-min)%step != 0 || (max-min)/step+1 != count) {
			return Shard{}, "SLURM_ARRAY_TASK_MAX", true, fmt.Errorf(
				"SLURM_ARRAY_TASK_MAX=%d, _MIN=%d, _STEP=%d and _COUNT=%d are not a range MIN-MAX:STEP of COUNT tasks (an --array list like 0,2,5?): give sbatch a range such as --array=0-%d",
				max, min, step, count, count-1)
		}
		if (id-min)%step != 0 {
			return Shard{}, "SLURM_ARRAY_TASK_ID", true, fmt.Errorf("SLURM_ARRAY_TASK_ID=%d is not MIN %d plus a multiple of STEP %d", id, min, step)
		}
		return check(Shard{(id - min) / step, count}, "SLURM_ARRAY_TASK_ID")
	}
	if i, n, has, err := pair("CI_NODE_INDEX", "CI_NODE_TOTAL"); has || err != nil {
		if err != nil {
			return Shard{}, "CI_NODE_INDEX", true, err
		}
		return check(Shard{i - 1, n}, "CI_NODE_INDEX/CI_NODE_TOTAL (1-based)")
	}
	return All, "", false, nil
}

// Seed returns the k-th seed of shard sh of a campaign starting at from.
func (sh Shard) Seed(from uint64, k uint64) uint64 {
	return from + k*uint64(sh.Count) + uint64(sh.Index)
}

// SeedOK is Seed with ok=false when the seed would pass 2^64-1.
func (sh Shard) SeedOK(from uint64, k uint64) (seed uint64, ok bool) {
	hi, off := bits.Mul64(k, uint64(sh.Count))
	off, c1 := bits.Add64(off, uint64(sh.Index), 0)
	seed, c2 := bits.Add64(from, off, 0)
	return seed, hi == 0 && c1 == 0 && c2 == 0
}

// MaxRuns is how many seeds shard sh has in from..from+seeds-1, or with
// seeds 0 (a time-bounded campaign) in from..2^64-1.
func (sh Shard) MaxRuns(from, seeds uint64) uint64 {
	if seeds > 0 {
		return sh.Len(seeds)
	}
	first, c := bits.Add64(from, uint64(sh.Index), 0)
	if c != 0 || sh.Count < 1 {
		return 0
	}
	n := (math.MaxUint64-first)/uint64(sh.Count) + 1
	if n == 0 { // 2^64 seeds: from 0 unsharded; no summary can hold that many runs
		return math.MaxUint64
	}
	return n
}

// Len returns how many of the seeds from..from+total-1 belong to the shard.
func (sh Shard) Len(total uint64) uint64 {
	i, n := uint64(sh.Index), uint64(sh.Count)
	if total <= i {
		return 0
	}
	return (total-i-1)/n + 1
}
