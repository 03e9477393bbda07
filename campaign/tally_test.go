package campaign

import (
	"testing"
	"time"
)

// TestProgressOf: the time left comes from the runs left when their number
// is known, else from the time limit (a guided campaign with -time gave
// none), and is zero once done. The bounds leave 5 s for a slow machine.
func TestProgressOf(t *testing.T) {
	start := time.Now().Add(-10 * time.Second)
	sum := &Summary{Runs: 50, Failures: make([]Failure, 2)}
	p := progressOf(sum, 100, 0, start, false)
	if p.Runs != 50 || p.Failures != 2 || p.Total != 100 || p.Remaining < 10*time.Second || p.Remaining > 15*time.Second {
		t.Fatalf("50 of 100 runs in 10 s: %+v, want about 10 s left", p)
	}
	if p.SeedsPerS < 3 || p.SeedsPerS > 5 {
		t.Fatalf("50 runs in 10 s: %v runs/s", p.SeedsPerS)
	}
	if p := progressOf(sum, 0, time.Minute, start, false); p.Remaining < 45*time.Second || p.Remaining > 50*time.Second {
		t.Fatalf("10 s into a 1 min campaign: %v left, want about 50 s", p.Remaining)
	}
	if p := progressOf(sum, 0, time.Minute, start, true); p.Remaining != 0 || !p.Done {
		t.Fatalf("done: %+v", p)
	}
}
