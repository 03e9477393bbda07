package rsm

import (
	"errors"
	"testing"

	"github.com/smilingraft/dsim/sim"
)

// TestStaleOpAtApply reaches the apply-time stale check, which no seed of
// the default campaign executes (issue 23 item 5: clerks submit one op at a
// time, so a lower seq of a client reaches the log after a higher one only
// when a clerk gave up on an op): a client's seq 2 and then its seq 1 both
// enter the log; seq 1 is applied after seq 2, refused with ErrStale (its
// op never runs) and its Submit is answered ErrStale.
func TestStaleOpAtApply(t *testing.T) {
	w := newWorld(t, 3, 1, nil)
	l := w.leader()
	w.do(7, 1, "inc")
	newer := w.submitTo(l, 9, 2, "inc")
	older := w.submitTo(l, 9, 1, "inc")
	for k := 0; k < 100 && !(newer.done && older.done); k++ {
		w.run(10 * sim.Millisecond)
	}
	w.run(500 * sim.Millisecond) // followers apply both too
	if !newer.done || newer.err != nil || string(newer.res) != "2" {
		t.Fatalf("(9,2): %+v, want 2", newer)
	}
	if !older.done || !errors.Is(older.err, ErrStale) {
		t.Fatalf("(9,1) after (9,2) in the log: %+v, want ErrStale", older)
	}
	if st := w.host(l).s.Stats(); st.Stale != 1 {
		t.Errorf("stats: %d stale ops at apply, want 1", st.Stale)
	}
	for i, n := range w.counters() {
		if n != 2 {
			t.Errorf("server %d counter %d, want 2 (the stale op must not run)", i, n)
		}
	}
}
