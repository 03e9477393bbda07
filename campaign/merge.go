package campaign

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"
)

// MaxSummaryBytes bounds a summary file merge reads: a summary listing
// every failure of a 100,000-failure campaign is about 50 MB.
const MaxSummaryBytes = 128 << 20

// ReadSummaries reads campaign summaries (campaign --json output) from
// files and directories (every *.json directly inside), each checked by
// ParseSummary.
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
		b, err := readBounded(f, MaxSummaryBytes)
		if err != nil {
			return nil, nil, fmt.Errorf("merge: %w", err)
		}
		s, err := ParseSummary(f, b)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, s)
	}
	return out, files, nil
}

// readBounded reads at most max bytes of a file (a device like /dev/zero
// included) and fails beyond that.
func readBounded(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: larger than %d MiB, not a campaign summary", path, max>>20)
	}
	return b, nil
}

// maxRangesPerScenario bounds the seed ranges of one (scenario, variant) a
// summary may hold (one per merged campaign), so that placing each failure
// in its range stays linear in the file's size.
const maxRangesPerScenario = 16

// ParseSummary decodes one summary (campaign --json output) and checks it
// with Check; name labels errors, which are one line.
func ParseSummary(name string, b []byte) (*Summary, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("merge %s: not a campaign summary: %s", name, fmt.Sprintf(format, args...))
	}
	trimmed := bytes.TrimSpace(b)
	switch {
	case len(trimmed) == 0:
		return nil, bad("empty file")
	case !utf8.Valid(b) || bytes.IndexByte(b, 0) >= 0:
		return nil, bad("binary data")
	case trimmed[0] != '{':
		return nil, bad("not a JSON object")
	}
	var s Summary
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, bad("truncated JSON")
		}
		return nil, bad("%s", strings.ReplaceAll(err.Error(), "\n", " "))
	}
	if dec.More() {
		return nil, bad("more than one JSON value")
	}
	if s.Seeds == nil {
		return nil, bad("no seeds field")
	}
	if s.FormatVersion < 0 || s.FormatVersion > SummaryFormat {
		return nil, fmt.Errorf("merge %s: format_version %d is not one this dsim reads (1..%d); merge with the dsim that wrote it", name, s.FormatVersion, SummaryFormat)
	}
	if err := s.Check(); err != nil {
		return nil, bad("%v", err)
	}
	s.Groups = Groups(s.Failures) // derived, never trusted (older summaries have none)
	return &s, nil
}

// Check validates every count of a summary against the others, so that
// merge never trusts a number it cannot bound: shard counts within
// 1..MaxShards and indices within them; seed ranges within 0..2^64-1; a
// range's runs at most its shard's seeds; runs = passed + failures = the
// sum of the ranges' runs; double runs, files and coverage counts at most
// the runs; every failure inside a range it belongs to; no negative time or
// worker count.
func (s *Summary) Check() error {
	if s.WallNs < 0 || s.VTimeNs < 0 || s.Workers < 0 || s.SeedsPerS < 0 {
		return fmt.Errorf("negative wall_ns, vtime_ns, workers or seeds_per_s")
	}
	type sv struct{ scenario, variant string }
	ranges := map[sv][]SeedRange{}
	runsOf := map[string]uint64{} // per scenario, over variants
	var sumRuns uint64
	for _, r := range s.Seeds {
		if r.Scenario == "" {
			return fmt.Errorf("a seed range without a scenario")
		}
		if r.Shard.Count < 1 || r.Shard.Count > MaxShards {
			return fmt.Errorf("%s: shard count %d outside 1..%d", r.Scenario, r.Shard.Count, MaxShards)
		}
		if r.Seeds > 0 && r.Seeds-1 > math.MaxUint64-r.From {
			return fmt.Errorf("%s: seeds %d+%d run past 2^64-1", r.Scenario, r.From, r.Seeds)
		}
		var most uint64
		if len(r.Shards) > 0 { // a merged part: the shards it holds
			if r.Shard.Index != -1 {
				return fmt.Errorf("%s: shards listed with shard index %d (want -1)", r.Scenario, r.Shard.Index)
			}
			for i, x := range r.Shards {
				if x < 0 || x >= r.Shard.Count || (i > 0 && x <= r.Shards[i-1]) {
					return fmt.Errorf("%s: shards list is not increasing within 0..%d", r.Scenario, r.Shard.Count-1)
				}
				most = satAdd(most, Shard{x, r.Shard.Count}.MaxRuns(r.From, r.Seeds))
			}
		} else {
			if err := r.Shard.Check(); err != nil {
				return fmt.Errorf("%s: %v", r.Scenario, err)
			}
			most = r.Shard.MaxRuns(r.From, r.Seeds)
		}
		if r.Runs > most {
			return fmt.Errorf("%s: %d runs, but shard %s has only %d seeds", r.Scenario, r.Runs, r.Shard, most)
		}
		var c uint64
		if sumRuns, c = bits.Add64(sumRuns, r.Runs, 0); c != 0 {
			return fmt.Errorf("the seed ranges' runs overflow")
		}
		k := sv{r.Scenario, r.Variant}
		for _, o := range ranges[k] {
			if o.From == r.From && o.Seeds == r.Seeds {
				return fmt.Errorf("%s: the seed range from %d listed twice", r.Scenario, r.From)
			}
		}
		if len(ranges[k]) == maxRangesPerScenario {
			return fmt.Errorf("%s: more than %d seed ranges (campaigns) of one scenario and variant", r.Scenario, maxRangesPerScenario)
		}
		ranges[k] = append(ranges[k], r)
		runsOf[r.Scenario] += r.Runs // at most sumRuns: no overflow
	}
	if sumRuns != s.Runs {
		return fmt.Errorf("runs %d, but the seed ranges add up to %d", s.Runs, sumRuns)
	}
	if s.Passed > s.Runs || s.Runs-s.Passed != uint64(len(s.Failures))+uint64(len(s.Undecided)) {
		return fmt.Errorf("runs %d is not passed %d plus %d failures plus %d undecided", s.Runs, s.Passed, len(s.Failures), len(s.Undecided))
	}
	if s.DoubleRuns > s.Runs {
		return fmt.Errorf("double_runs %d above runs %d", s.DoubleRuns, s.Runs)
	}
	if s.UnwrittenFiles > uint64(len(s.Failures)) || s.FilesSkipped > uint64(len(s.Failures)) ||
		s.StoppedAfterFailures > uint64(len(s.Failures)) {
		return fmt.Errorf("unwritten_files, files_skipped or stopped_after_failures above the %d failures", len(s.Failures))
	}
	failed := map[sv]uint64{}
	for _, f := range s.Failures {
		k := sv{f.Scenario, f.Variant}
		in := false
		for _, r := range ranges[k] {
			if r.holds(f.Seed) {
				in = true
				break
			}
		}
		if !in {
			return fmt.Errorf("failure %s seed %d is in none of the summary's seed ranges", f.Scenario, f.Seed)
		}
		failed[k]++
	}
	for k, n := range failed {
		var runs uint64
		for _, r := range ranges[k] {
			runs += r.Runs
		}
		if n > runs {
			return fmt.Errorf("%s: %d failures in %d runs", k.scenario, n, runs)
		}
	}
	for name, f := range s.Coverage {
		if f == nil {
			continue
		}
		if _, ok := runsOf[name]; !ok {
			return fmt.Errorf("coverage of %s, which has no seed range", name)
		}
		for fact, n := range f.Reached {
			if n > runsOf[name] {
				return fmt.Errorf("coverage of %s: %q reached %d times in %d runs", name, fact, n, runsOf[name])
			}
		}
		if len(f.Declared) > maxDeclared {
			return fmt.Errorf("coverage of %s: more than %d declared facts", name, maxDeclared)
		}
	}
	for name, w := range s.Work {
		if w == nil {
			continue
		}
		if _, ok := runsOf[name]; !ok {
			return fmt.Errorf("work_under_faults of %s, which has no seed range", name)
		}
		if w.Runs > runsOf[name] || w.ZeroRuns > w.Runs {
			return fmt.Errorf("work_under_faults of %s: %d runs (%d with none) in %d runs", name, w.Runs, w.ZeroRuns, runsOf[name])
		}
		if w.Runs == 0 && (w.Sum != 0 || w.Min != 0 || w.Max != 0) {
			return fmt.Errorf("work_under_faults of %s: values without runs", name)
		}
		if w.Runs > 0 && (w.Min > w.Max || w.Max > w.Sum || (w.ZeroRuns > 0) != (w.Min == 0)) {
			return fmt.Errorf("work_under_faults of %s: min %d, max %d, sum %d and %d runs with none do not agree", name, w.Min, w.Max, w.Sum, w.ZeroRuns)
		}
	}
	for name, ms := range s.Metrics {
		if _, ok := runsOf[name]; !ok && len(ms) > 0 {
			return fmt.Errorf("metrics of %s, which has no seed range", name)
		}
		if len(ms) > MaxMetricsPerScenario {
			return fmt.Errorf("metrics of %s: more than %d names", name, MaxMetricsPerScenario)
		}
		for k, d := range ms {
			if d == nil {
				continue
			}
			if err := d.check(runsOf[name]); err != nil {
				return fmt.Errorf("metric %s of %s: %v", k, name, err)
			}
		}
	}
	return nil
}

// maxDeclared bounds the declared facts of one scenario a summary may hold.
const maxDeclared = 1000

// holds reports whether seed is one of the range's shards' seeds.
func (r SeedRange) holds(seed uint64) bool {
	if seed < r.From || (r.Seeds > 0 && seed-r.From >= r.Seeds) {
		return false
	}
	i := int((seed - r.From) % uint64(r.Shard.Count))
	if len(r.Shards) == 0 {
		return i == r.Shard.Index
	}
	j := sort.SearchInts(r.Shards, i)
	return j < len(r.Shards) && r.Shards[j] == i
}

func satAdd(a, b uint64) uint64 {
	s, c := bits.Add64(a, b, 0)
	if c != 0 {
		return math.MaxUint64
	}
	return s
}

// satMul is a*b, or MaxUint64 where that overflows.
func satMul(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	if hi != 0 {
		return math.MaxUint64
	}
	return lo
}

// SameBuild refuses summaries written by different dsim builds (dsim or
// format version; a summary of an older build, which records neither,
// counts as a build of its own): their seeds may not have run the same
// code, so their counts do not add up to one campaign. names label the
// summaries in the error (nil: "summary N").
func SameBuild(parts []*Summary, names []string) error {
	label := func(i int) string {
		if i < len(names) {
			return names[i]
		}
		return fmt.Sprintf("summary %d", i+1)
	}
	build := func(p *Summary) string {
		if p.DsimVersion == "" && p.FormatVersion == 0 {
			return "no version (an older dsim)"
		}
		return fmt.Sprintf("dsim %q format %d", p.DsimVersion, p.FormatVersion)
	}
	for i, p := range parts {
		if build(p) != build(parts[0]) {
			return fmt.Errorf("merge: summaries of different dsim builds: %s has %s, %s has %s; merge shards of one build",
				label(0), build(parts[0]), label(i), build(p))
		}
	}
	return nil
}

// rangeKey identifies one campaign of one scenario: every shard of it has
// the same key.
type rangeKey struct {
	scenario, variant string
	from, seeds       uint64
}

// shardClaim is one shard I/N of one campaign that a summary holds.
type shardClaim struct {
	k    rangeKey
	i, n int
}

// overlaps reports whether two shards of one campaign share a seed: shard
// I/N holds the seeds base + k·N + I, so I/N and J/M share one exactly
// when I and J agree modulo gcd(N, M).
func (a shardClaim) overlaps(b shardClaim) bool {
	g := gcd(a.n, b.n)
	return a.k == b.k && a.i%g == b.i%g
}

// within reports whether every seed of a is one of b's.
func (a shardClaim) within(b shardClaim) bool {
	return a.k == b.k && a.n%b.n == 0 && a.i%b.n == b.i
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// claims lists the (campaign, shard) pairs a summary holds.
func claims(p *Summary) []shardClaim {
	var out []shardClaim
	for _, r := range p.Seeds {
		k := rangeKey{r.Scenario, r.Variant, r.From, r.Seeds}
		if len(r.Shards) > 0 {
			for _, i := range r.Shards {
				out = append(out, shardClaim{k, i, r.Shard.Count})
			}
			continue
		}
		out = append(out, shardClaim{k, r.Shard.Index, r.Shard.Count})
	}
	return out
}

// Merge combines per-shard summaries into one whose runs, failures and seed
// coverage equal the unsharded campaign's. A shard given twice is counted
// once (the complete copy with the most runs is kept); missing, duplicated
// and interrupted shards, shards that stopped short of their seeds, and
// summaries of the same campaign split different ways are listed in
// Problems, which makes the result incomplete. Parts are checked first
// (Summary.Check); an invalid part or a total that would overflow is an
// error.
func Merge(parts []*Summary) (*Summary, error) {
	for i, p := range parts {
		if err := p.Check(); err != nil {
			return nil, fmt.Errorf("merge: summary %d: %v", i+1, err)
		}
	}
	if err := SameBuild(parts, nil); err != nil {
		return nil, err
	}
	// Prefer complete copies, then more runs; otherwise keep the order given.
	order := make([]int, len(parts))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		pa, pb := parts[order[a]], parts[order[b]]
		if len(pa.Incomplete()) == 0 != (len(pb.Incomplete()) == 0) {
			return len(pa.Incomplete()) == 0
		}
		return pa.Runs > pb.Runs
	})

	out := &Summary{Coverage: map[string]*Facts{}, Work: map[string]*Work{}, Metrics: map[string]map[string]*Dist{}}
	if len(parts) > 0 {
		out.DsimVersion, out.FormatVersion = parts[0].DsimVersion, parts[0].FormatVersion
	}
	var err error
	add := func(name string, to *uint64, n uint64) {
		var c uint64
		if *to, c = bits.Add64(*to, n, 0); c != 0 && err == nil {
			err = fmt.Errorf("merge: the merged %s overflow 2^64-1", name)
		}
	}
	ranges := map[rangeKey]*SeedRange{}
	counts := map[rangeKey]int{}
	seen := map[shardClaim]int{}           // shard -> summaries holding it
	counted := map[rangeKey][]shardClaim{} // the shards counted
	var keys []rangeKey
	var vtime, workers uint64
	for _, pi := range order {
		p := parts[pi]
		dup := false
		var notes []string
		for _, c := range claims(p) {
			seen[c]++
			for _, d := range counted[c.k] {
				if !c.overlaps(d) {
					continue
				}
				dup = true
				switch {
				case c == d: // named below with how many summaries hold it
				case c.within(d):
					notes = append(notes, fmt.Sprintf("%s"+duplicatedPrefix+"%d/%d (within shard %d/%d, already counted), counted once", c.k.scenario, c.i, c.n, d.i, d.n))
				default:
					notes = append(notes, fmt.Sprintf("%s"+duplicatedPrefix+"%d/%d (overlaps shard %d/%d, already counted): not counted", c.k.scenario, c.i, c.n, d.i, d.n))
				}
				break
			}
		}
		if dup {
			// Counted once already: its runs and failures are not added again.
			out.Problems = append(out.Problems, notes...)
			continue
		}
		add("runs", &out.Runs, p.Runs)
		add("passed", &out.Passed, p.Passed)
		add("events", &out.Events, p.Events)
		add("vtime_ns", &vtime, uint64(p.VTimeNs))
		add("workers", &workers, uint64(p.Workers))
		add("double_runs", &out.DoubleRuns, p.DoubleRuns)
		add("unwritten_files", &out.UnwrittenFiles, p.UnwrittenFiles)
		add("files_skipped", &out.FilesSkipped, p.FilesSkipped)
		if p.WallNs > out.WallNs {
			out.WallNs = p.WallNs // shards run side by side
		}
		if p.StoppedAfterFailures > out.StoppedAfterFailures {
			out.StoppedAfterFailures = p.StoppedAfterFailures
		}
		out.Interrupted = out.Interrupted || p.Interrupted
		out.Failures = append(out.Failures, p.Failures...)
		out.Undecided = append(out.Undecided, p.Undecided...)
		for _, pr := range p.Problems {
			// Missing and duplicated shards are recomputed from the shards
			// lists below; an earlier merge's verdict on them is stale.
			if !strings.Contains(pr, missingPrefix) && !strings.Contains(pr, duplicatedPrefix) {
				out.Problems = append(out.Problems, pr)
			}
		}
		out.RecoveredFiles = append(out.RecoveredFiles, p.RecoveredFiles...)
		out.PartialTempFiles = append(out.PartialTempFiles, p.PartialTempFiles...)
		for name, f := range p.Coverage {
			if f == nil {
				continue
			}
			m := out.Coverage[name]
			if m == nil {
				m = &Facts{Reached: map[string]uint64{}}
				out.Coverage[name] = m
			}
			for k, n := range f.Reached {
				v := m.Reached[k]
				add("coverage counts", &v, n)
				m.Reached[k] = v
			}
			m.Declared = mergeNames(m.Declared, f.Declared)
		}
		for name, w := range p.Work {
			if w == nil || w.Runs == 0 {
				continue
			}
			m := out.Work[name]
			if m == nil {
				m = &Work{Min: w.Min}
				out.Work[name] = m
			}
			if w.Min < m.Min {
				m.Min = w.Min
			}
			if w.Max > m.Max {
				m.Max = w.Max
			}
			add("work_under_faults runs", &m.Runs, w.Runs)
			add("work_under_faults counts", &m.Sum, w.Sum)
			add("work_under_faults runs", &m.ZeroRuns, w.ZeroRuns)
		}
		for name, ms := range p.Metrics {
			for k, d := range ms {
				if d == nil || d.Count == 0 {
					continue
				}
				if out.Metrics[name] == nil {
					out.Metrics[name] = map[string]*Dist{}
				}
				m := out.Metrics[name][k]
				if m == nil {
					if len(out.Metrics[name]) >= MaxMetricsPerScenario {
						continue
					}
					m = &Dist{}
					out.Metrics[name][k] = m
				}
				if e := m.merge(d); e != nil && err == nil {
					err = fmt.Errorf("merge: %s %s: %v", name, k, e)
				}
			}
		}
		for _, r := range p.Seeds {
			k := rangeKey{r.Scenario, r.Variant, r.From, r.Seeds}
			sr := ranges[k]
			if sr == nil {
				sr = &SeedRange{Scenario: r.Scenario, Variant: r.Variant, From: r.From, Seeds: r.Seeds, Shard: All}
				ranges[k] = sr
				counts[k] = r.Shard.Count
				keys = append(keys, k)
			}
			if counts[k] != r.Shard.Count {
				out.Problems = append(out.Problems, fmt.Sprintf("%s: shards of %d and %d parts mixed", r.Scenario, counts[k], r.Shard.Count))
			}
			add("runs", &sr.Runs, r.Runs)
			shards := r.Shards
			if len(shards) == 0 {
				shards = []int{r.Shard.Index}
			}
			for _, i := range shards {
				counted[k] = append(counted[k], shardClaim{k, i, r.Shard.Count})
			}
			if len(r.Shards) > 0 {
				continue // a merged part carries its own problems
			}
			if p.Interrupted {
				out.Problems = append(out.Problems, fmt.Sprintf("%s: shard %s interrupted after %d of its runs", r.Scenario, r.Shard, r.Runs))
			} else if most := r.Shard.MaxRuns(r.From, r.Seeds); r.Seeds > 0 && r.Runs < most && p.StoppedAfterFailures == 0 {
				out.Problems = append(out.Problems, fmt.Sprintf("%s: shard %s ran %d of its %d seeds", r.Scenario, r.Shard, r.Runs, most))
			}
		}
	}
	if err != nil {
		return nil, err
	}
	if vtime > math.MaxInt64 || workers > math.MaxInt32 {
		return nil, fmt.Errorf("merge: the merged vtime_ns or workers overflow")
	}
	out.VTimeNs, out.Workers = int64(vtime), int(workers)
	for _, k := range keys {
		sr := ranges[k]
		n := counts[k]
		var have []int
		var dup []string
		for _, c := range counted[k] {
			if c.n == n && c.i >= 0 && c.i < n {
				have = append(have, c.i)
			}
		}
		for c, times := range seen {
			if c.k == k && times > 1 {
				dup = append(dup, fmt.Sprintf("%d/%d (x%d)", c.i, c.n, times))
			}
		}
		sort.Ints(have)
		sort.Strings(dup)
		if len(have) < n {
			out.Problems = append(out.Problems, fmt.Sprintf("%s"+missingPrefix+"%s", k.scenario, missingShards(have, n)))
			sr.Shard = Shard{Index: -1, Count: n}
			sr.Shards = have
		}
		if len(dup) > 0 {
			out.Problems = append(out.Problems, fmt.Sprintf("%s"+duplicatedPrefix+"%s, each counted once", k.scenario, strings.Join(dup, ", ")))
		}
		out.Seeds = append(out.Seeds, *sr)
	}
	sort.Strings(out.Problems)
	out.Problems = dedup(out.Problems)
	out.finish()
	if out.Seeds == nil {
		out.Seeds = []SeedRange{}
	}
	return out, nil
}

// The problems Merge derives from shard lists (and recomputes when a
// merged summary is merged again).
const (
	missingPrefix    = ": missing shards "
	duplicatedPrefix = ": duplicated shards "
)

// missingShards names the shards of 0..n-1 not in have (sorted), as
// "I/N" and "I-J/N" runs, the first 20 of them: a summary may claim a
// million shards, and one line must still say which are missing.
func missingShards(have []int, n int) string {
	var parts []string
	total, next := 0, 0
	gap := func(a, b int) { // shards a..b-1 are missing
		if a >= b {
			return
		}
		total += b - a
		if len(parts) < 20 {
			if b-a == 1 {
				parts = append(parts, fmt.Sprintf("%d/%d", a, n))
			} else {
				parts = append(parts, fmt.Sprintf("%d-%d/%d", a, b-1, n))
			}
		}
	}
	for _, i := range have {
		gap(next, i)
		next = i + 1
	}
	gap(next, n)
	s := strings.Join(parts, ", ")
	if total > 0 && len(parts) == 20 {
		s += fmt.Sprintf(" ... (%d missing in all)", total)
	}
	return s
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
