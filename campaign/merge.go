package campaign

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ReadSummaries reads campaign summaries (campaign --json output) from
// files and directories (every *.json directly inside).
func ReadSummaries(paths []string) ([]*Summary, []string, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, nil, fmt.Errorf("merge: %w", err)
		}
		if st.IsDir() {
			m, _ := filepath.Glob(filepath.Join(p, "*.json"))
			sort.Strings(m)
			files = append(files, m...)
			continue
		}
		files = append(files, p)
	}
	if len(files) == 0 {
		return nil, nil, fmt.Errorf("merge: no summary files")
	}
	var out []*Summary
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, fmt.Errorf("merge: %w", err)
		}
		var s Summary
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, nil, fmt.Errorf("merge %s: not a campaign summary: %v", f, err)
		}
		if s.Seeds == nil {
			return nil, nil, fmt.Errorf("merge %s: not a campaign summary (no seeds field)", f)
		}
		out = append(out, &s)
	}
	return out, files, nil
}

// Merge combines per-shard summaries into one whose runs, failures and seed
// coverage equal the unsharded campaign's. Missing shards, duplicated
// shards and summaries of different campaigns (other first seed, seed count
// or shard count) are listed in Problems.
func Merge(parts []*Summary) *Summary {
	out := &Summary{Coverage: map[string]*Facts{}}
	type key struct {
		scenario, variant string
		from, seeds       uint64
	}
	ranges := map[key]*SeedRange{}
	counts := map[key]int{}
	seen := map[key]map[int]int{}
	var keys []key
	for _, p := range parts {
		out.Runs += p.Runs
		out.Passed += p.Passed
		out.Events += p.Events
		out.VTimeNs += p.VTimeNs
		if p.WallNs > out.WallNs {
			out.WallNs = p.WallNs // shards run side by side
		}
		out.Workers += p.Workers
		out.DoubleRuns += p.DoubleRuns
		out.Interrupted = out.Interrupted || p.Interrupted
		out.Failures = append(out.Failures, p.Failures...)
		out.Problems = append(out.Problems, p.Problems...)
		for name, f := range p.Coverage {
			m := out.Coverage[name]
			if m == nil {
				m = &Facts{Reached: map[string]uint64{}}
				out.Coverage[name] = m
			}
			for k, n := range f.Reached {
				m.Reached[k] += n
			}
		}
		for _, r := range p.Seeds {
			k := key{r.Scenario, r.Variant, r.From, r.Seeds}
			sr := ranges[k]
			if sr == nil {
				sr = &SeedRange{Scenario: r.Scenario, Variant: r.Variant, From: r.From, Seeds: r.Seeds, Shard: All}
				ranges[k] = sr
				counts[k] = r.Shard.Count
				seen[k] = map[int]int{}
				keys = append(keys, k)
			}
			if counts[k] != r.Shard.Count {
				out.Problems = append(out.Problems, fmt.Sprintf("%s: shards of %d and %d parts mixed", r.Scenario, counts[k], r.Shard.Count))
			}
			sr.Runs += r.Runs
			idx := r.Shard.Index
			if len(r.Shards) > 0 { // an already merged summary
				for _, i := range r.Shards {
					seen[k][i]++
				}
				continue
			}
			seen[k][idx]++
		}
	}
	for _, k := range keys {
		sr := ranges[k]
		var missing, dup []string
		for i := 0; i < counts[k]; i++ {
			switch n := seen[k][i]; {
			case n == 0:
				missing = append(missing, fmt.Sprintf("%d/%d", i, counts[k]))
			case n > 1:
				dup = append(dup, fmt.Sprintf("%d/%d (x%d)", i, counts[k], n))
			}
			if seen[k][i] > 0 {
				sr.Shards = append(sr.Shards, i)
			}
		}
		if len(missing) > 0 {
			out.Problems = append(out.Problems, fmt.Sprintf("%s: missing shards %s", k.scenario, strings.Join(missing, ", ")))
			sr.Shard = Shard{Index: -1, Count: counts[k]}
		}
		if len(dup) > 0 {
			out.Problems = append(out.Problems, fmt.Sprintf("%s: duplicated shards %s", k.scenario, strings.Join(dup, ", ")))
		}
		if len(missing) == 0 && len(dup) == 0 {
			sr.Shards = nil // the whole campaign: same as an unsharded run
		}
		out.Seeds = append(out.Seeds, *sr)
	}
	sort.Strings(out.Problems)
	out.Problems = dedup(out.Problems)
	out.finish()
	if out.Seeds == nil {
		out.Seeds = []SeedRange{}
	}
	return out
}

func dedup(s []string) []string {
	var out []string
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}
