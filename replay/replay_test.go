package replay

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smilingraft/dsim/scenarios"
	_ "github.com/smilingraft/dsim/scenarios/all"
	"github.com/smilingraft/dsim/sim"
)

// failing returns the failure file of counter/unsafe-nosync seed 7, with its
// trace tail, written into a temp dir.
func failing(t *testing.T) (*File, string) {
	t.Helper()
	s, err := scenarios.Lookup("counter/unsafe-nosync")
	if err != nil {
		t.Fatal(err)
	}
	res := scenarios.Run(s, scenarios.Variant{}, 7, scenarios.Config{})
	if res.Failure == nil {
		t.Fatal("counter/unsafe-nosync seed 7 passed; the example's bug is gone?")
	}
	f := FromResult(res, "test")
	f.Capture(40, 0)
	path, err := f.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return f, path
}

func TestWriteReadReplayExact(t *testing.T) {
	f, path := failing(t)
	g, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if g.Seed != 7 || g.FormatVersion != FormatVersion || len(g.Plan) != len(f.Plan) || len(g.TraceTail) == 0 {
		t.Fatalf("read back %+v", g)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("atomic write left %d entries in its directory", len(entries))
	}
	out, err := Replay(g, Options{Keep: true})
	if err != nil {
		t.Fatal(err)
	}
	if !out.Same || out.FirstDiff != "" {
		t.Fatalf("replay differs: %v %s", out.Diffs, out.FirstDiff)
	}
	last := out.Window[len(out.Window)-1]
	if last.Index != g.Failure.Event {
		t.Fatalf("timeline window ends at event %d, failure at %d", last.Index, g.Failure.Event)
	}
	var b bytes.Buffer
	PrintTimeline(&b, out.Window, out.Result.Failure)
	if !strings.Contains(b.String(), "=>") || !strings.Contains(b.String(), "durability") {
		t.Fatalf("timeline does not mark the failure:\n%s", b.String())
	}
	var h bytes.Buffer
	if err := HTML(&h, g, out.Kept, out.Result.Failure); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "counter/unsafe-nosync seed 7", `stroke="red"`, "s1", "acknowledged value 1 twice"} {
		if !strings.Contains(h.String(), want) {
			t.Fatalf("HTML timeline lacks %q", want)
		}
	}
}

// A tampered file must be reported as different, naming what differs and the
// first differing trace event.
func TestReplaySaysWhatDiffers(t *testing.T) {
	f, _ := failing(t)
	g := *f
	g.TraceHash = "0000000000000000"
	fail := *f.Failure
	fail.Event += 3
	g.Failure = &fail
	out, err := Replay(&g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := strings.Join(out.Diffs, "\n")
	if out.Same || !strings.Contains(d, "failure event: file") || !strings.Contains(d, "trace hash: file 0000000000000000") {
		t.Fatalf("diffs = %q", d)
	}
	// A different plan changes the run: the first differing event is named.
	h := *f
	h.Plan = append(sim.Plan{}, f.Plan...)
	h.Plan[0].At += sim.Millisecond
	out, err = Replay(&h, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if out.Same || !strings.Contains(out.FirstDiff, "first differing event") {
		t.Fatalf("changed plan: same=%v firstdiff=%q diffs=%v", out.Same, out.FirstDiff, out.Diffs)
	}
}

func TestReadRejectsBadFiles(t *testing.T) {
	_, good := failing(t)
	goodBytes, _ := os.ReadFile(good)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "nope.json"), "no such file"},
		{"empty", write("empty.json", nil), "empty file"},
		{"truncated", write("trunc.json", goodBytes[:len(goodBytes)/2]), "truncated JSON"},
		{"binary", write("bin.json", []byte("\x00\xff garbage")), "binary data"},
		{"not object", write("arr.json", []byte("[1,2]")), "not a JSON object"},
		{"no version", write("nover.json", []byte(`{"scenario":"counter/basic"}`)), "no format_version"},
		{"future", write("future.json", bytes.Replace(goodBytes, []byte(`"format_version": 1`), []byte(`"format_version": 99`), 1)), "newer"},
		{"unknown scenario", write("unknown.json", bytes.Replace(goodBytes, []byte(`"counter/unsafe-nosync"`), []byte(`"no/such"`), 1)), "unknown scenario"},
		{"bad variant", write("variant.json", bytes.Replace(goodBytes, []byte(`"variant": ""`), []byte(`"variant": "x.y=1"`), 1)), "unknown variant key"},
		{"bad plan", write("plan.json", bytes.Replace(goodBytes, []byte(`"kind": "crash"`), []byte(`"kind": "explode"`), 1)), "unknown kind"},
	} {
		_, err := Read(c.path)
		if err == nil || !errors.Is(err, ErrBadFile) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v, want one line with %q", c.name, err, c.want)
		}
	}
}

func TestShrinkKeepsCheckerAndGetsSmaller(t *testing.T) {
	f, _ := failing(t)
	small, rep, err := Shrink(f, ShrinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.After.Actions >= rep.Before.Actions {
		t.Fatalf("shrink did not remove actions: %+v -> %+v", rep.Before, rep.After)
	}
	if small.Failure.Checker != f.Failure.Checker {
		t.Fatalf("shrunk failure has checker %q, want %q", small.Failure.Checker, f.Failure.Checker)
	}
	out, err := Replay(small, Options{})
	if err != nil || !out.Same {
		t.Fatalf("shrunk file does not replay exactly: %v %v", err, out.Diffs)
	}
	t.Logf("shrunk in %d runs: %+v -> %+v", rep.Runs, rep.Before, rep.After)
}

func TestShrinkRefusesPassingFile(t *testing.T) {
	f, _ := failing(t)
	g := *f
	g.Variant = "counter.sync=true" // fixed: no failure left to shrink
	if _, _, err := Shrink(&g, ShrinkOptions{}); err == nil || !strings.Contains(err.Error(), "does not fail") {
		t.Fatalf("shrinking a passing case: %v", err)
	}
}

func TestDdmin(t *testing.T) {
	// The failure needs items 3 and 7 together.
	runs := 0
	got := ddmin(10, func(idx []int) bool {
		runs++
		has := map[int]bool{}
		for _, i := range idx {
			has[i] = true
		}
		return has[3] && has[7]
	})
	if len(got) != 2 || got[0] != 3 || got[1] != 7 {
		t.Fatalf("ddmin = %v, want [3 7]", got)
	}
	if got := ddmin(5, func(idx []int) bool { return true }); len(got) != 0 {
		t.Fatalf("ddmin with an always-failing test = %v, want []", got)
	}
}

func TestDiffTraces(t *testing.T) {
	a := []byte(`{"i":1,"t":0,"k":"send","h":"a"}` + "\n" + `{"i":2,"t":5,"k":"deliver","h":"b"}` + "\n")
	b := []byte(`{"i":1,"t":0,"k":"send","h":"a"}` + "\n" + `{"i":2,"t":6,"k":"deliver","h":"c"}` + "\n")
	if d := DiffTraces(a, a); d != "" {
		t.Fatalf("identical traces differ: %s", d)
	}
	d := DiffTraces(a, b)
	if !strings.Contains(d, "line 2 (event 2)") {
		t.Fatalf("diff = %q", d)
	}
	if line, evs := firstDifferingLine(a, a); line != 0 || evs[0] != nil || evs[1] != nil {
		t.Fatalf("identical traces part at line %d, events %v", line, evs)
	}
	if line, evs := firstDifferingLine(a, b); line != 2 || evs[0] == nil || evs[1] == nil || evs[0].Hash != "b" || evs[1].Hash != "c" {
		t.Fatalf("firstDifferingLine = %d, %+v; want line 2, hashes b and c", line, evs)
	}
	short := a[:bytes.IndexByte(a, '\n')+1]
	if line, evs := firstDifferingLine(a, short); line != 2 || evs[0] == nil || evs[1] != nil {
		t.Fatalf("a trace that ends early: %d, %+v; want line 2 with no event on the short side", line, evs)
	}
	if d := DiffTraces(a, short); !strings.Contains(d, "line 2 (event 2)") || !strings.Contains(d, "run 2: (trace ended)") {
		t.Fatalf("diff with a short trace = %q", d)
	}
}
