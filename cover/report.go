package cover

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// PkgStat is one package's coverage in a Data.
type PkgStat struct {
	Path                  string
	Stmts, StmtsCovered   uint64
	Blocks, BlocksCovered int
}

// Percent is the share of statements covered (100 for an empty package).
func (s PkgStat) Percent() float64 {
	if s.Stmts == 0 {
		return 100
	}
	return 100 * float64(s.StmtsCovered) / float64(s.Stmts)
}

// Stats lists every package's coverage matching match (nil: all), in
// import path order.
func (d *Data) Stats(match func(pkg string) bool) []PkgStat {
	cov := d.Covered()
	var out []PkgStat
	for _, p := range d.packages(match) {
		s := PkgStat{Path: p.Path, Blocks: p.N}
		for i := 0; i < p.N; i++ {
			id := p.First + BlockID(i)
			b := d.Table.Blocks[id]
			s.Stmts += uint64(b.Stmts)
			if cov.Has(id) {
				s.BlocksCovered++
				s.StmtsCovered += uint64(b.Stmts)
			}
		}
		out = append(out, s)
	}
	return out
}

// WriteStats prints one line per package: statements covered, blocks.
func (d *Data) WriteStats(w io.Writer, match func(pkg string) bool) error {
	bw := bufio.NewWriter(w)
	for _, s := range d.Stats(match) {
		fmt.Fprintf(bw, "  %-44s %5.1f%% of statements (%d/%d), %d of %d blocks never executed\n",
			s.Path, s.Percent(), s.StmtsCovered, s.Stmts, s.Blocks-s.BlocksCovered, s.Blocks)
	}
	return bw.Flush()
}

// sortedBlocks returns a package's block IDs in source order.
func (d *Data) sortedBlocks(p Package) []BlockID {
	ids := make([]BlockID, p.N)
	for i := range ids {
		ids[i] = p.First + BlockID(i)
	}
	sort.Slice(ids, func(i, j int) bool {
		a, b := d.Table.Blocks[ids[i]], d.Table.Blocks[ids[j]]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.StartLine != b.StartLine {
			return a.StartLine < b.StartLine
		}
		return a.StartCol < b.StartCol
	})
	return ids
}

// Where names a block for people: file (base name), lines, function.
func (d *Data) Where(id BlockID) string {
	b := d.Table.Blocks[id]
	lines := fmt.Sprintf("%d", b.StartLine)
	if b.EndLine != b.StartLine {
		lines = fmt.Sprintf("%d-%d", b.StartLine, b.EndLine)
	}
	return fmt.Sprintf("%s:%s %s", path.Base(b.File), lines, b.Func)
}

func (d *Data) packages(match func(string) bool) []Package {
	var ps []Package
	for _, p := range d.Table.Packages {
		if match == nil || match(p.Path) {
			ps = append(ps, p)
		}
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].Path < ps[j].Path })
	return ps
}

// Report writes the text report of the packages matching match (nil:
// all): the per-package figures, then per package its functions not fully
// covered and its blocks no seed executed.
func (d *Data) Report(w io.Writer, match func(pkg string) bool) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "coverage of %d runs of %d scenarios (%s, meta-data %s)\n", d.Runs(), len(d.Scenarios), d.Table.Mode, d.Table.Hash)
	if err := d.WriteStats(bw, match); err != nil {
		return err
	}
	d.writeSaturation(bw)
	cov := d.Covered()
	for _, p := range d.packages(match) {
		ids := d.sortedBlocks(p)
		type fstat struct {
			name, file     string
			line           uint32
			stmts, covered uint64
		}
		var fns []*fstat
		byName := map[[2]string]*fstat{}
		var missed []BlockID
		for _, id := range ids {
			b := d.Table.Blocks[id]
			k := [2]string{b.File, b.Func}
			f := byName[k]
			if f == nil {
				f = &fstat{name: b.Func, file: b.File, line: b.StartLine}
				byName[k] = f
				fns = append(fns, f)
			}
			f.line = min(f.line, b.StartLine)
			f.stmts += uint64(b.Stmts)
			if cov.Has(id) {
				f.covered += uint64(b.Stmts)
			} else {
				missed = append(missed, id)
			}
		}
		fmt.Fprintf(bw, "\npackage %s\n", p.Path)
		if len(missed) == 0 {
			fmt.Fprintf(bw, "  every block executed\n")
			continue
		}
		fmt.Fprintf(bw, "  functions not fully covered:\n")
		for _, f := range fns {
			if f.covered == f.stmts {
				continue
			}
			pct := 100.0
			if f.stmts > 0 {
				pct = 100 * float64(f.covered) / float64(f.stmts)
			}
			fmt.Fprintf(bw, "    %5.1f%%  %s:%d %s\n", pct, path.Base(f.file), f.line, f.name)
		}
		fmt.Fprintf(bw, "  never executed (%d blocks):\n", len(missed))
		for _, id := range missed {
			b := d.Table.Blocks[id]
			fmt.Fprintf(bw, "    %s:%d.%d,%d.%d %s (%d statements)\n", path.Base(b.File), b.StartLine, b.StartCol, b.EndLine, b.EndCol, b.Func, b.Stmts)
		}
	}
	return bw.Flush()
}

// Saturation is how one scenario's seeds found its blocks.
type Saturation struct {
	Scenario string
	Runs     uint64
	Blocks   int
	// NewSeeds is how many seeds reached a block no lower seed of the
	// scenario reached; LastNew is the highest of them. A scenario whose
	// last new block came early has stopped finding code.
	NewSeeds int
	LastNew  uint64
}

// Saturations lists every scenario's Saturation, by name. It depends only
// on each block's lowest seed, so it merges exactly.
func (d *Data) Saturations() []Saturation {
	var out []Saturation
	for name, r := range d.Scenarios {
		s := Saturation{Scenario: name, Runs: r.Runs, Blocks: len(r.Blocks)}
		firsts := map[uint64]bool{}
		for _, b := range r.Blocks {
			firsts[b[2]] = true
			s.LastNew = max(s.LastNew, b[2])
		}
		s.NewSeeds = len(firsts)
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Scenario < out[j].Scenario })
	return out
}

// WriteSaturation prints Saturations, one line per scenario that ran.
func (d *Data) WriteSaturation(w io.Writer) error {
	bw := bufio.NewWriter(w)
	d.writeSaturation(bw)
	return bw.Flush()
}

func (d *Data) writeSaturation(w io.Writer) {
	fmt.Fprintf(w, "\nper scenario: runs, blocks reached, seeds that reached a block no lower seed did, the last of them\n")
	for _, s := range d.Saturations() {
		if s.Runs == 0 {
			continue
		}
		fmt.Fprintf(w, "  %-44s %6d runs %6d blocks %4d new-block seeds, last at seed %d\n", s.Scenario, s.Runs, s.Blocks, s.NewSeeds, s.LastNew)
	}
}

// Reached lists the scenarios that reached block id, most seeds first:
// "kv/partition 12/50 (seed 3)".
func (d *Data) Reached(id BlockID) []string {
	type r struct {
		name         string
		seeds, first uint64
		runs         uint64
	}
	var rs []r
	for name, re := range d.Scenarios {
		i := sort.Search(len(re.Blocks), func(i int) bool { return re.Blocks[i][0] >= uint64(id) })
		if i < len(re.Blocks) && re.Blocks[i][0] == uint64(id) {
			rs = append(rs, r{name, re.Blocks[i][1], re.Blocks[i][2], re.Runs})
		}
	}
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].seeds != rs[j].seeds {
			return rs[i].seeds > rs[j].seeds
		}
		return rs[i].name < rs[j].name
	})
	out := make([]string, len(rs))
	for i, x := range rs {
		out[i] = fmt.Sprintf("%s %d/%d (seed %d)", x.name, x.seeds, x.runs, x.first)
	}
	return out
}

// Attribution writes, for every covered block of the packages matching
// match, the scenarios whose seeds reached it (seeds that did / seeds run,
// and the lowest such seed, to replay): at most maxNames of them, most
// seeds first (0: all).
func (d *Data) Attribution(w io.Writer, match func(pkg string) bool, maxNames int) error {
	bw := bufio.NewWriter(w)
	outside := &Set{}
	for _, b := range d.Outside {
		outside.Insert(b)
	}
	for _, p := range d.packages(match) {
		fmt.Fprintf(bw, "package %s\n", p.Path)
		for _, id := range d.sortedBlocks(p) {
			names := d.Reached(id)
			if outside.Has(id) {
				names = append(names, "(outside seeds: initialisation)")
			}
			if len(names) == 0 {
				continue
			}
			more := ""
			if maxNames > 0 && len(names) > maxNames {
				more = fmt.Sprintf(", +%d more", len(names)-maxNames)
				names = names[:maxNames]
			}
			fmt.Fprintf(bw, "  %s: %s%s\n", d.Where(id), strings.Join(names, ", "), more)
		}
	}
	return bw.Flush()
}

// Profile writes a Go text coverage profile ("mode: count", each block's
// count the number of seeds that reached it) for go tool cover -html and
// -func, which find the sources through the go command (run them inside
// the module).
func (d *Data) Profile(w io.Writer) error {
	bw := bufio.NewWriter(w)
	counts := make([]uint64, len(d.Table.Blocks))
	for _, b := range d.Outside {
		counts[b]++
	}
	for _, r := range d.Scenarios {
		for _, b := range r.Blocks {
			counts[b[0]] += b[1]
		}
	}
	fmt.Fprintln(bw, "mode: count")
	for _, p := range d.packages(nil) {
		for _, id := range d.sortedBlocks(p) {
			b := d.Table.Blocks[id]
			fmt.Fprintf(bw, "%s:%d.%d,%d.%d %d %d\n", b.File, b.StartLine, b.StartCol, b.EndLine, b.EndCol, b.Stmts, counts[id])
		}
	}
	return bw.Flush()
}

// Sources finds a block's source file: Block.File is an import path and
// file name, found under the module whose go.mod is in root or above it.
type Sources struct {
	root, module string
	files        map[string][]string
}

// NewSources looks for go.mod in root and its parents ("": none found,
// then only absolute file names are read).
func NewSources(root string) *Sources {
	s := &Sources{files: map[string][]string{}}
	dir, err := filepath.Abs(root)
	if err != nil {
		return s
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if f := strings.Fields(line); len(f) >= 2 && f[0] == "module" {
					s.root, s.module = dir, strings.Trim(f[1], `"`)
					return s
				}
			}
		}
		up := filepath.Dir(dir)
		if up == dir {
			return s
		}
		dir = up
	}
}

// Lines returns a file's lines (nil when it cannot be found).
func (s *Sources) Lines(file string) []string {
	if l, ok := s.files[file]; ok {
		return l
	}
	name := file
	if s.module != "" && strings.HasPrefix(file, s.module+"/") {
		name = filepath.Join(s.root, filepath.FromSlash(strings.TrimPrefix(file, s.module+"/")))
	}
	var lines []string
	if b, err := os.ReadFile(name); err == nil {
		lines = strings.Split(string(b), "\n")
	}
	s.files[file] = lines
	return lines
}

// Uncovered writes every never-executed block of the packages matching
// match with its source lines (at most maxLines a block), and returns how
// many blocks it listed.
func (d *Data) Uncovered(w io.Writer, match func(pkg string) bool, src *Sources, maxLines int) (int, error) {
	bw := bufio.NewWriter(w)
	cov := d.Covered()
	n := 0
	for _, p := range d.packages(match) {
		fmt.Fprintf(bw, "package %s\n", p.Path)
		for _, id := range d.sortedBlocks(p) {
			if cov.Has(id) {
				continue
			}
			n++
			b := d.Table.Blocks[id]
			fmt.Fprintf(bw, "%s:%d.%d,%d.%d %s (%d statements)\n", b.File, b.StartLine, b.StartCol, b.EndLine, b.EndCol, b.Func, b.Stmts)
			lines := src.Lines(b.File)
			if lines == nil {
				fmt.Fprintf(bw, "\t(source not found: run inside the module or give --src)\n")
				continue
			}
			for l := b.StartLine; l <= b.EndLine && int(l) <= len(lines); l++ {
				if maxLines > 0 && int(l-b.StartLine) == maxLines {
					fmt.Fprintf(bw, "\t...\n")
					break
				}
				fmt.Fprintf(bw, "%6d\t%s\n", l, lines[l-1])
			}
		}
	}
	return n, bw.Flush()
}

// MatchPackages returns a matcher for a package pattern: an import path,
// or a path relative to the module ("nodes/kv"), or a suffix ("kv"), each
// with an optional trailing "/..." for the packages below; "" matches
// every package.
func MatchPackages(pattern string) func(pkg string) bool {
	pattern = strings.TrimPrefix(strings.TrimSpace(pattern), "./")
	if pattern == "" || pattern == "..." {
		return func(string) bool { return true }
	}
	tree := strings.HasSuffix(pattern, "/...")
	pattern = strings.TrimSuffix(pattern, "/...")
	return func(pkg string) bool {
		for p := pkg; ; {
			if p == pattern || strings.HasSuffix(p, "/"+pattern) {
				return true
			}
			if !tree {
				return false
			}
			i := strings.LastIndex(p, "/")
			if i < 0 {
				return false
			}
			p = p[:i]
		}
	}
}
