package cover

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// handData is a two-package table: p/a has blocks 0-2, p/b blocks 3-4.
func handData() *Data {
	return &Data{Format: DataFormat, Table: &Table{Hash: "h", Mode: "atomic",
		Packages: []Package{{Path: "m/p/a", First: 0, N: 3}, {Path: "m/p/b", First: 3, N: 2}},
		Blocks: []Block{
			{Pkg: 0, File: "m/p/a/a.go", Func: "F", StartLine: 3, EndLine: 4, Stmts: 2},
			{Pkg: 0, File: "m/p/a/a.go", Func: "F", StartLine: 5, EndLine: 6, Stmts: 1},
			{Pkg: 0, File: "m/p/a/a.go", Func: "G", StartLine: 9, EndLine: 9, Stmts: 1},
			{Pkg: 1, File: "m/p/b/b.go", Func: "H", StartLine: 1, EndLine: 2, Stmts: 3},
			{Pkg: 1, File: "m/p/b/b.go", Func: "H", StartLine: 3, EndLine: 3, Stmts: 1},
		}},
		Scenarios: map[string]*Reach{}}
}

func TestMergeIsExact(t *testing.T) {
	a, b, whole := handData(), handData(), handData()
	a.Parts = []Part{{Scenario: "s/x", From: 1, Seeds: 4, Shard: "0/2", Runs: 2}}
	b.Parts = []Part{{Scenario: "s/x", From: 1, Seeds: 4, Shard: "1/2", Runs: 2}}
	a.Scenarios["s/x"] = &Reach{Runs: 2, Blocks: [][3]uint64{{0, 2, 1}, {3, 1, 3}}}
	b.Scenarios["s/x"] = &Reach{Runs: 2, Blocks: [][3]uint64{{0, 1, 4}, {1, 2, 2}, {3, 2, 2}}}
	a.Outside, b.Outside = []BlockID{4}, []BlockID{4}
	whole.Scenarios["s/x"] = &Reach{Runs: 4, Blocks: [][3]uint64{{0, 3, 1}, {1, 2, 2}, {3, 3, 2}}}
	whole.Outside = []BlockID{4}
	m, err := Merge([]*Data{b, a})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m.Scenarios, whole.Scenarios) || !reflect.DeepEqual(m.Outside, whole.Outside) {
		t.Errorf("merged %+v, want %+v", m.Scenarios["s/x"], whole.Scenarios["s/x"])
	}
	var r1, r2 bytes.Buffer
	m.Report(&r1, nil)
	whole.Report(&r2, nil)
	if r1.String() != r2.String() {
		t.Errorf("reports differ:\n%s\n%s", r1.String(), r2.String())
	}
	if !strings.Contains(r1.String(), "a.go:9.0,9.0 G (1 statements)") || !strings.Contains(r1.String(), "m/p/a") {
		t.Errorf("report does not list the never-executed block G:\n%s", r1.String())
	}
	if _, err := Merge([]*Data{a, a}); err == nil || !strings.Contains(err.Error(), "given twice") {
		t.Errorf("a shard merged twice: %v", err)
	}
	other := handData()
	other.Table = &Table{Hash: "other"}
	if _, err := Merge([]*Data{a, other}); err == nil || !strings.Contains(err.Error(), "another build") {
		t.Errorf("data of two builds merged: %v", err)
	}
	st := m.Stats(MatchPackages("p/a"))
	if len(st) != 1 || st[0].StmtsCovered != 3 || st[0].Stmts != 4 || st[0].Percent() != 75 {
		t.Errorf("stats of p/a: %+v", st)
	}
	if sat := m.Saturations(); len(sat) != 1 || sat[0].NewSeeds != 2 || sat[0].LastNew != 2 || sat[0].Blocks != 3 {
		t.Errorf("saturation %+v, want 3 blocks first reached by seeds 1 and 2", sat)
	}
	if got := m.Reached(0); len(got) != 1 || got[0] != "s/x 3/4 (seed 1)" {
		t.Errorf("Reached(0) = %v", got)
	}
}

func TestDataRoundTripAndCheck(t *testing.T) {
	d := handData()
	d.Scenarios["s/x"] = &Reach{Runs: 1, Blocks: [][3]uint64{{2, 1, 7}}}
	dir := t.TempDir()
	if err := WriteDir(dir, d); err != nil {
		t.Fatal(err)
	}
	back, err := ReadData(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Scenarios, d.Scenarios) || !IsDataPath(dir) || IsDataPath(t.TempDir()) {
		t.Errorf("round trip lost data: %+v", back.Scenarios["s/x"])
	}
	prof, _ := os.ReadFile(filepath.Join(dir, "coverage.out"))
	if !strings.HasPrefix(string(prof), "mode: count\nm/p/a/a.go:3.0,4.0 2 0\n") || !strings.Contains(string(prof), "a.go:9.0,9.0 1 1\n") {
		t.Errorf("coverage.out:\n%s", prof)
	}
	for name, bad := range map[string]func(*Data){
		"block past the table": func(d *Data) { d.Scenarios["s/x"].Blocks[0][0] = 5 },
		"more seeds than runs": func(d *Data) { d.Scenarios["s/x"].Blocks[0][1] = 2 },
		"packages overlap":     func(d *Data) { d.Table.Packages[1].First = 2 },
		"outside past table":   func(d *Data) { d.Outside = []BlockID{9} },
		"newer format":         func(d *Data) { d.Format = 2 },
	} {
		d := handData()
		d.Scenarios["s/x"] = &Reach{Runs: 1, Blocks: [][3]uint64{{2, 1, 7}}}
		bad(d)
		if d.Check() == nil {
			t.Errorf("%s: Check passed", name)
		}
	}
}

func TestMatchPackages(t *testing.T) {
	for _, c := range []struct {
		pattern, pkg string
		want         bool
	}{
		{"", "a/b", true},
		{"nodes/kv", "github.com/x/nodes/kv", true},
		{"kv", "github.com/x/nodes/kv", true},
		{"./nodes/kv", "github.com/x/nodes/kv", true},
		{"nodes/kv", "github.com/x/nodes/kvsrv", false},
		{"nodes", "github.com/x/nodes/kv", false},
		{"nodes/...", "github.com/x/nodes/kv", true},
		{"nodes/...", "github.com/x/nodes", true},
		{"github.com/x/nodes/kv", "github.com/x/nodes/kv", true},
	} {
		if got := MatchPackages(c.pattern)(c.pkg); got != c.want {
			t.Errorf("MatchPackages(%q)(%q) = %v", c.pattern, c.pkg, got)
		}
	}
}
