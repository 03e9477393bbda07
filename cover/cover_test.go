package cover

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestSet(t *testing.T) {
	var s Set
	if !s.Insert(3) || s.Insert(3) || !s.Insert(200) || s.Len() != 2 || !s.Has(200) || s.Has(4) || s.Has(100000) {
		t.Fatalf("set misbehaves: %v", s.IDs())
	}
	p := &Profile{Hits: []Hit{{3, 1}, {5, 2}, {200, 1}, {201, 9}}}
	if n := p.NewBlocks(&s); n != 2 {
		t.Errorf("NewBlocks = %d, want 2", n)
	}
	if n := s.Add(p); n != 2 || s.Len() != 4 {
		t.Errorf("Add = %d (len %d), want 2 (4)", n, s.Len())
	}
	if got := s.IDs(); len(got) != 4 || got[0] != 3 || got[3] != 201 {
		t.Errorf("IDs = %v", got)
	}
}

func TestMalformedData(t *testing.T) {
	for _, b := range [][]byte{nil, []byte("garbage"), append(metaMagic[:], 1, 0, 0, 0, 9)} {
		if _, err := ParseMeta(b); err == nil {
			t.Errorf("ParseMeta(%q) accepted", b)
		}
	}
	tab := &Table{Hash: "00"}
	if _, err := tab.ParseCounters(append(counterMagic[:], 1, 0, 0)); err == nil {
		t.Error("ParseCounters accepted a truncated file")
	}
}

// TestMeasure builds testdata/selftest with atomic counters over this
// package and runs it: Measure sees Set.Insert's blocks in the run that
// calls it, and a Reset clears them for the next.
func TestMeasure(t *testing.T) {
	if err := Check(); err == nil || !errors.Is(err, ErrNotInstrumented) || !strings.Contains(err.Error(), "go build -cover -covermode=atomic") {
		t.Errorf("Check in a test binary: %v; want ErrNotInstrumented saying how to build", err)
	}
	if _, err := Snapshot(); err == nil {
		t.Error("Snapshot works without counters")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build an instrumented binary")
	}
	bin := filepath.Join(t.TempDir(), "selftest")
	build := exec.Command(gobin, "build", "-cover", "-covermode=atomic", "-coverpkg=github.com/smilingraft/dsim/cover,github.com/smilingraft/dsim/cover/testdata/selftest", "-o", bin, "./testdata/selftest")
	if out, err := build.CombinedOutput(); err != nil {
		t.Skipf("the toolchain cannot build with -cover here: %v: %s", err, out)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "GOCOVERDIR="+t.TempDir())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("selftest: %v: %s", err, out)
	}
	got := string(out)
	if !strings.Contains(got, "mode atomic") || strings.Contains(got, "new 0\n") || !strings.Contains(got, "insert true after-reset false") {
		t.Errorf("selftest printed:\n%s", got)
	}
}

func BenchmarkSnapshot(b *testing.B) {
	if Check() != nil {
		b.Skip("not built with -cover -covermode=atomic")
	}
	for b.Loop() {
		if err := Reset(); err != nil {
			b.Fatal(err)
		}
		if _, err := Snapshot(); err != nil {
			b.Fatal(err)
		}
	}
}
