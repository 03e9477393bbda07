package campaign

import (
	"testing"
	"time"
)

// TestProgressOf: the time left comes from the runs left when their number
// is known, else from the time limit (a guided campaign with -time gave
// none), and is zero once done. The elapsed time is given, so the figures
// are exact.
func TestProgressOf(t *testing.T) {
	el := 10 * time.Second
	sum := &Summary{Runs: 50, Failures: make([]Failure, 2)}
	p := progressOf(sum, 100, 0, el, false)
	if p.Runs != 50 || p.Failures != 2 || p.Total != 100 || p.Remaining != 10*time.Second {
		t.Fatalf("50 of 100 runs in 10 s: %+v, want about 10 s left", p)
	}
	if p.SeedsPerS != 5 {
		t.Fatalf("50 runs in 10 s: %v runs/s", p.SeedsPerS)
	}
	if p := progressOf(sum, 0, time.Minute, el, false); p.Remaining != 50*time.Second {
		t.Fatalf("10 s into a 1 min campaign: %v left, want about 50 s", p.Remaining)
	}
	if p := progressOf(sum, 0, time.Minute, el, true); p.Remaining != 0 || !p.Done {
		t.Fatalf("done: %+v", p)
	}
}
