package replay

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/smilingraft/dsim/sim"
)

// Fork re-seeds the streams World.Rand handed out (a scenario's workload),
// with the same salt the same way, while a world that is not forked keeps
// its sequence.
func TestForkReseedsWorkload(t *testing.T) {
	draw := func(salt uint64) []uint64 {
		w := sim.NewWorld(7, sim.Options{})
		r := w.Rand("workload")
		out := []uint64{r.Uint64()}
		if salt != 0 {
			w.Fork(salt)
		}
		return append(out, r.Uint64(), r.Uint64())
	}
	plain, a, b, c := draw(0), draw(forkSalt(0)), draw(forkSalt(0)), draw(forkSalt(1))
	if plain[0] != a[0] || cmp.Equal(plain, a) || cmp.Equal(a, c) || !cmp.Equal(a, b) {
		t.Fatalf("plain %v, fork 0 %v and %v, fork 1 %v", plain, a, b, c)
	}
}

// dsim explain on a figure-8 failure names a window of at most a few
// hundred events holding the decisive partition, well within a minute.
func TestExplainFigure8(t *testing.T) {
	f := figure8File(t)
	start := time.Now()
	x, err := Explain(f, ExplainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wall := time.Since(start)
	var out bytes.Buffer
	x.Print(&out, 60)
	t.Logf("%v\n%s", wall, out.String())
	if !x.Found || x.Hi <= x.Lo || x.Hi-x.Lo > 300 {
		t.Fatalf("window (%d, %d]: want at most 300 events", x.Lo, x.Hi)
	}
	if x.Base >= x.Near {
		t.Fatalf("base rate %.2f: continuations from the start do not differ", x.Base)
	}
	last := x.Points[len(x.Points)-1]
	if last.P() < x.Near {
		t.Fatalf("P just before the failure is %.2f", last.P())
	}
	partition := false
	for _, e := range x.Decisive {
		if e.Index <= x.Lo || e.Index > x.Hi {
			t.Fatalf("decisive event %d outside the window (%d, %d]", e.Index, x.Lo, x.Hi)
		}
		partition = partition || e.Kind == "net" && e.What == "isolate"
	}
	if !partition {
		t.Fatalf("no partition (isolate) in the window:\n%s", out.String())
	}
	if wall > time.Minute {
		t.Fatalf("explain took %v", wall)
	}
	if !strings.Contains(out.String(), "decisive window: events") {
		t.Fatalf("output does not name the window:\n%s", out.String())
	}
	// The same answer on one worker: runs are independent, salts fixed.
	y, err := Explain(f, ExplainOptions{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(x.Points, y.Points); d != "" || x.Lo != y.Lo || x.Hi != y.Hi {
		t.Fatalf("explain depends on the workers: (%d,%d] vs (%d,%d]\n%s", x.Lo, x.Hi, y.Lo, y.Hi, d)
	}
	// The page draws the curve and the window.
	rec := record(t, f)
	var page bytes.Buffer
	if err := rec.WriteHTML(&page, PageOptions{Explain: x}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(page.String(), `"explain":{"base":`) {
		t.Fatal("the page holds no explain curve")
	}
}

// A file whose failure no longer reproduces is refused, not explained.
func TestExplainRefusesADifferentRun(t *testing.T) {
	f := *figure8File(t)
	fail := *f.Failure
	fail.Event += 5
	f.Failure = &fail
	if _, err := Explain(&f, ExplainOptions{Forks: 2, Points: 2}); err == nil || !strings.Contains(err.Error(), "does not reproduce") {
		t.Fatalf("err = %v", err)
	}
}
