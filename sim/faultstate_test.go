package sim

import "testing"

// Each fault kind turns FaultActive on, and its undoing turns it off again.
func TestFaultActive(t *testing.T) {
	w, _, _ := pair(t, Options{Net: NetOptions{DelayMin: Millisecond, DelayMax: 5 * Millisecond}})
	a, b := NodeID(0), NodeID(1)
	cases := []struct {
		name    string
		on, off func()
		phrase  string
		lingers Duration // the fault ends on its own after this
	}{
		{"crash", func() { w.Crash(a) }, func() { w.Restart(a) }, "a crashed", 0},
		{"pause", func() { w.Pause(b) }, func() { w.Resume(b) }, "b paused", 0},
		{"cut", func() { w.Cut(a, b) }, func() { w.Connect(a, b) }, "cut a->b", 0},
		{"partition", func() { w.Partition([][]NodeID{{a}, {b}}) }, w.Heal, "cut b->a", 0},
		{"flaky", func() { w.Flaky(b, a, R(1, 2)) }, func() { w.Flaky(b, a, Ratio{}) }, "flaky b->a 1/2", 0},
		{"clog", func() { w.Clog(a, 50*Millisecond, 100*Millisecond) }, nil, "a clogged +50ms", 100 * Millisecond},
		{"loss", func() { w.SetNet(NetOptions{Loss: R(1, 10)}) }, func() { w.SetNet(NetOptions{}) }, "net loss=1/10", 0},
		{"dup", func() { w.SetNet(NetOptions{Dup: R(1, 10)}) }, func() { w.SetNet(NetOptions{}) }, "net dup=1/10", 0},
		{"reorder", func() { w.SetNet(NetOptions{Reorder: R(1, 10)}) }, func() { w.SetNet(NetOptions{}) }, "net reorder=1/10", 0},
		{"tail", func() { w.SetNet(NetOptions{Tail: R(1, 10), TailMax: Second}) }, func() { w.SetNet(NetOptions{}) }, "net tail=1/10<=1s", 0},
		{"long delay", func() { w.SetNet(NetOptions{DelayMax: 30 * Millisecond}) }, func() { w.SetNet(NetOptions{DelayMax: CalmDelayMax}) }, "net delay<=30ms", 0},
		{"drift", func() { w.SetDrift(b, 5000) }, func() { w.SetDrift(b, 0) }, "b drift 5000ppm", 0},
	}
	for _, tc := range cases {
		if w.FaultActive() || len(w.ActiveFaults()) != 0 {
			t.Fatalf("before %s: active %v", tc.name, w.ActiveFaults())
		}
		tc.on()
		if !w.FaultActive() {
			t.Errorf("%s: FaultActive false", tc.name)
		}
		found := false
		for _, f := range w.ActiveFaults() {
			found = found || f == tc.phrase
		}
		if !found {
			t.Errorf("%s: ActiveFaults %q lacks %q", tc.name, w.ActiveFaults(), tc.phrase)
		}
		if tc.off != nil {
			tc.off()
		}
		w.RunFor(tc.lingers + Millisecond)
		if w.FaultActive() {
			t.Errorf("after undoing %s: still active %v", tc.name, w.ActiveFaults())
		}
	}
	// A jump acts once; nothing stays active.
	w.Jump(a, Second)
	if w.FaultActive() {
		t.Errorf("a jump left %v active", w.ActiveFaults())
	}
}
