package cover

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/smilingraft/dsim/replay"
)

// DataFile is the name of the data file in a coverage directory (written
// by campaign --cover and campaign merge --cover): a Data as JSON.
const DataFile = "coverage.dsimcov"

// DataFormat is the version of Data's JSON this build writes and reads.
const DataFormat = 1

// MaxDataBytes bounds a data file ReadData reads (dsim's default campaign
// writes about 1 MB).
const MaxDataBytes = 64 << 20

// Data is a campaign's coverage: the binary's block table and, per
// scenario, the blocks its seeds reached. It merges exactly (Merge): seed
// counts add up and first seeds take the minimum, so shards merged equal one
// unsharded campaign.
type Data struct {
	Format int    `json:"format"`
	Table  *Table `json:"table"`
	// Parts are the campaigns (shards) merged into this data.
	Parts []Part `json:"parts"`
	// Outside are the blocks executed outside every seed (package
	// initialisation, scenario validation), counted as covered.
	Outside []BlockID `json:"outside"`
	// Scenarios maps a scenario name to what its seeds reached.
	Scenarios map[string]*Reach `json:"scenarios"`
}

// Part is one campaign or shard of a Data: the seeds it ran of one
// scenario.
type Part struct {
	Scenario string `json:"scenario"`
	Variant  string `json:"variant"`
	From     uint64 `json:"from"`
	Seeds    uint64 `json:"seeds"`
	// Shard is "I/N" ("0/1": unsharded).
	Shard string `json:"shard"`
	Runs  uint64 `json:"runs"`
}

// Reach is what one scenario's seeds reached.
type Reach struct {
	// Runs is how many seeds were measured.
	Runs uint64 `json:"runs"`
	// Blocks lists, by increasing BlockID, each block reached with the
	// number of seeds that reached it and the lowest such seed:
	// [block, seeds, first seed].
	Blocks [][3]uint64 `json:"blocks"`
}

// Recorder accumulates per-seed profiles into a Data. It is safe for
// concurrent use; Seed measures through Measure (one seed at a time).
type Recorder struct {
	mu      sync.Mutex
	tab     *Table
	outside []BlockID
	per     map[string]*acc
	parts   []Part
}

type acc struct {
	runs  uint64
	seeds []uint64 // per block
	first []uint64 // per block: lowest seed + 1 (0: none)
}

// NewRecorder starts recording; the blocks executed so far (package
// initialisation and anything run before it) are Data.Outside.
func NewRecorder() (*Recorder, error) {
	tab, err := Blocks()
	if err != nil {
		return nil, err
	}
	p, err := Snapshot()
	if err != nil {
		return nil, err
	}
	r := &Recorder{tab: tab, per: map[string]*acc{}}
	for _, h := range p.Hits {
		r.outside = append(r.outside, h.Block)
	}
	return r, nil
}

// Seed runs fn (one run of scenario's seed) under Measure and records
// the blocks it reached.
func (r *Recorder) Seed(scenario string, seed uint64, fn func()) (*Profile, error) {
	p, err := Measure(fn)
	if err != nil {
		return nil, err
	}
	r.Add(scenario, seed, p)
	return p, nil
}

// Add records a profile measured by the caller as one seed of scenario.
func (r *Recorder) Add(scenario string, seed uint64, p *Profile) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a := r.per[scenario]
	if a == nil {
		a = &acc{seeds: make([]uint64, len(r.tab.Blocks)), first: make([]uint64, len(r.tab.Blocks))}
		r.per[scenario] = a
	}
	a.runs++
	for _, h := range p.Hits {
		if int(h.Block) >= len(a.seeds) {
			continue
		}
		a.seeds[h.Block]++
		if f := a.first[h.Block]; f == 0 || seed+1 < f {
			a.first[h.Block] = seed + 1
		}
	}
}

// AddPart records which seeds a campaign ran (one call per scenario).
func (r *Recorder) AddPart(p Part) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.parts = append(r.parts, p)
}

// Data returns what was recorded so far.
func (r *Recorder) Data() *Data {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := &Data{Format: DataFormat, Table: r.tab, Parts: append([]Part(nil), r.parts...),
		Outside: append([]BlockID(nil), r.outside...), Scenarios: map[string]*Reach{}}
	for name, a := range r.per {
		re := &Reach{Runs: a.runs, Blocks: [][3]uint64{}}
		for b, n := range a.seeds {
			if n > 0 {
				re.Blocks = append(re.Blocks, [3]uint64{uint64(b), n, a.first[b] - 1})
			}
		}
		d.Scenarios[name] = re
	}
	for _, p := range d.Parts {
		if d.Scenarios[p.Scenario] == nil {
			d.Scenarios[p.Scenario] = &Reach{Blocks: [][3]uint64{}}
		}
	}
	d.sortParts()
	return d
}

func (d *Data) sortParts() {
	sort.Slice(d.Parts, func(i, j int) bool {
		a, b := d.Parts[i], d.Parts[j]
		if a.Scenario != b.Scenario {
			return a.Scenario < b.Scenario
		}
		if a.Variant != b.Variant {
			return a.Variant < b.Variant
		}
		if a.From != b.From {
			return a.From < b.From
		}
		return a.Shard < b.Shard
	})
}

// Runs is the number of seeds measured over every scenario.
func (d *Data) Runs() uint64 {
	var n uint64
	for _, r := range d.Scenarios {
		n += r.Runs
	}
	return n
}

// Covered is the set of blocks reached by any seed or outside seeds.
func (d *Data) Covered() *Set {
	s := &Set{}
	for _, b := range d.Outside {
		s.Insert(b)
	}
	for _, r := range d.Scenarios {
		for _, b := range r.Blocks {
			s.Insert(BlockID(b[0]))
		}
	}
	return s
}

// Check validates a Data read from a file: block IDs inside the table,
// packages tiling it, reaches sorted and within their runs.
func (d *Data) Check() error {
	if d.Format != DataFormat {
		return fmt.Errorf("format %d, this dsim reads %d", d.Format, DataFormat)
	}
	if d.Table == nil || d.Table.Hash == "" {
		return fmt.Errorf("no block table")
	}
	n := uint64(len(d.Table.Blocks))
	next := BlockID(0)
	for _, p := range d.Table.Packages {
		if p.First != next || p.N < 0 || uint64(p.First)+uint64(p.N) > n {
			return fmt.Errorf("package %s does not tile the block table", p.Path)
		}
		next += BlockID(p.N)
	}
	if uint64(next) != n {
		return fmt.Errorf("the packages hold %d of %d blocks", next, n)
	}
	for _, b := range d.Table.Blocks {
		if b.Pkg < 0 || b.Pkg >= len(d.Table.Packages) {
			return fmt.Errorf("a block of package %d of %d", b.Pkg, len(d.Table.Packages))
		}
	}
	for _, b := range d.Outside {
		if uint64(b) >= n {
			return fmt.Errorf("outside block %d of %d", b, n)
		}
	}
	for name, r := range d.Scenarios {
		if r == nil {
			return fmt.Errorf("scenario %q without data", name)
		}
		for i, b := range r.Blocks {
			if b[0] >= n || (i > 0 && b[0] <= r.Blocks[i-1][0]) || b[1] == 0 || b[1] > r.Runs {
				return fmt.Errorf("scenario %s: block entry %v out of order or range (%d blocks, %d runs)", name, b, n, r.Runs)
			}
		}
	}
	return nil
}

// Merge combines the data of shards (or of campaigns over disjoint seeds)
// of one build: it refuses tables of different builds and a part given
// twice.
func Merge(parts []*Data) (*Data, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("no coverage data to merge")
	}
	out := &Data{Format: DataFormat, Table: parts[0].Table, Scenarios: map[string]*Reach{}}
	seenPart := map[Part]bool{}
	outside := &Set{}
	for i, d := range parts {
		if d.Table.Hash != out.Table.Hash {
			return nil, fmt.Errorf("coverage %d is of another build (meta-data hash %s, the first's %s): merge data of one binary", i+1, d.Table.Hash, out.Table.Hash)
		}
		for _, p := range d.Parts {
			k := p
			k.Runs = 0
			if seenPart[k] {
				return nil, fmt.Errorf("%s seeds from %d shard %s given twice", p.Scenario, p.From, p.Shard)
			}
			seenPart[k] = true
			out.Parts = append(out.Parts, p)
		}
		for _, b := range d.Outside {
			outside.Insert(b)
		}
		for name, r := range d.Scenarios {
			o := out.Scenarios[name]
			if o == nil {
				o = &Reach{Blocks: [][3]uint64{}}
				out.Scenarios[name] = o
			}
			o.Runs += r.Runs
			o.Blocks = mergeReach(o.Blocks, r.Blocks)
		}
	}
	out.Outside = outside.IDs()
	out.sortParts()
	return out, nil
}

func mergeReach(a, b [][3]uint64) [][3]uint64 {
	out := make([][3]uint64, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i][0] < b[j][0]):
			out = append(out, a[i])
			i++
		case i == len(a) || b[j][0] < a[i][0]:
			out = append(out, b[j])
			j++
		default:
			e := a[i]
			e[1] += b[j][1]
			e[2] = min(e[2], b[j][2])
			out = append(out, e)
			i++
			j++
		}
	}
	return out
}

// IsDataPath reports whether path is a coverage directory (holding
// DataFile) or a data file itself.
func IsDataPath(path string) bool {
	if filepath.Base(path) == DataFile || strings.HasSuffix(path, ".dsimcov") {
		return true
	}
	st, err := os.Stat(filepath.Join(path, DataFile))
	return err == nil && st.Mode().IsRegular()
}

// ReadData reads a coverage directory's DataFile (or the file itself) and
// checks it; errors are one line.
func ReadData(path string) (*Data, error) {
	file := path
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		file = filepath.Join(path, DataFile)
	}
	f, err := os.Open(file)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("%s: %v (give a directory written by campaign --cover)", file, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxDataBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	if len(b) > MaxDataBytes {
		return nil, fmt.Errorf("%s: larger than %d MiB, not coverage data", file, MaxDataBytes>>20)
	}
	bad := func(why string) error { return fmt.Errorf("%s: not dsim coverage data: %s", file, why) }
	t := bytes.TrimSpace(b)
	if len(t) == 0 || t[0] != '{' || !utf8.Valid(b) {
		return nil, bad("not a JSON object")
	}
	var d Data
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&d); err != nil {
		return nil, bad(strings.ReplaceAll(err.Error(), "\n", " "))
	}
	if err := d.Check(); err != nil {
		return nil, bad(err.Error())
	}
	return &d, nil
}

// WriteDir writes d into dir (created if need be): DataFile, the text
// report (report.txt, Report), the attribution of covered blocks to
// scenarios (attribution.txt, Attribution) and a Go text profile
// (coverage.out, Profile) for go tool cover -html and -func. Each file is
// written atomically (replay.WriteAtomic, as every file dsim writes).
func WriteDir(dir string, d *Data) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := []struct {
		name  string
		write func(io.Writer) error
	}{
		{DataFile, func(w io.Writer) error { return json.NewEncoder(w).Encode(d) }},
		{"report.txt", func(w io.Writer) error { return d.Report(w, nil) }},
		{"attribution.txt", func(w io.Writer) error { return d.Attribution(w, nil, 8) }},
		{"coverage.out", d.Profile},
	}
	for _, f := range files {
		if err := replay.WriteAtomic(filepath.Join(dir, f.name), f.write); err != nil {
			return err
		}
	}
	return nil
}
