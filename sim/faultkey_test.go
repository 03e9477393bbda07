package sim

import (
	"fmt"
	"strings"
	"testing"
)

// TestAppendFaultKey: every fault ActiveFaults names changes the key, and
// equal keys always come with equal ActiveFaults (the promise callers that
// skip rebuilding the phrases rely on).
func TestAppendFaultKey(t *testing.T) {
	w, _, _ := pair(t, Options{Net: NetOptions{DelayMin: Millisecond, DelayMax: 5 * Millisecond}})
	a, b := NodeID(0), NodeID(1)
	seen := map[string]string{} // key -> ActiveFaults joined
	sample := func(what string) string {
		k := fmt.Sprint(w.AppendFaultKey(nil))
		f := strings.Join(w.ActiveFaults(), ", ")
		if prev, ok := seen[k]; ok && prev != f {
			t.Errorf("%s: key %s had faults %q, now %q", what, k, prev, f)
		}
		seen[k] = f
		return k
	}
	calm := sample("calm")
	steps := []struct {
		name    string
		on, off func()
	}{
		{"crash", func() { w.Crash(a) }, func() { w.Restart(a) }},
		{"pause", func() { w.Pause(b) }, func() { w.Resume(b) }},
		{"cut", func() { w.Cut(a, b) }, func() { w.Connect(a, b) }},
		{"partition", func() { w.Partition([][]NodeID{{a}, {b}}) }, w.Heal},
		{"isolate", func() { w.Isolate(b, []NodeID{a}) }, w.Heal},
		{"links action", func() { w.apply(Action{Kind: ActLinks, Cuts: [][2]int{{1, 0}}}, []NodeID{a, b}, nil) },
			func() { w.apply(Action{Kind: ActLinks}, []NodeID{a, b}, nil) }},
		{"flaky", func() { w.Flaky(b, a, R(1, 2)) }, func() { w.Flaky(b, a, Ratio{}) }},
		{"flaky 2/4", func() { w.Flaky(b, a, R(2, 4)) }, func() { w.Flaky(b, a, Ratio{}) }},
		{"clog", func() { w.Clog(a, 50*Millisecond, 100*Millisecond) }, func() { w.RunFor(101 * Millisecond) }},
		{"loss", func() { w.SetNet(NetOptions{Loss: R(1, 10)}) }, func() { w.SetNet(NetOptions{}) }},
		{"tail", func() { w.SetNet(NetOptions{Tail: R(1, 10), TailMax: Second}) }, func() { w.SetNet(NetOptions{}) }},
		{"long delay", func() { w.SetNet(NetOptions{DelayMax: 30 * Millisecond}) }, func() { w.SetNet(NetOptions{}) }},
		{"drift", func() { w.SetDrift(b, 5000) }, func() { w.SetDrift(b, 0) }},
	}
	for _, s := range steps {
		s.on()
		if k := sample(s.name); k == calm {
			t.Errorf("%s: key unchanged from calm (%s)", s.name, k)
		}
		s.off()
		if k := sample("after " + s.name); k != calm {
			t.Errorf("after %s: key %s, calm was %s", s.name, k, calm)
		}
	}
	// Two faults at once differ from each alone.
	w.Crash(a)
	w.SetDrift(b, 5000)
	sample("crash and drift")
	// partition and isolate cut both ways: the same faults, the same key.
	if want := len(steps) + 1; len(seen) != want {
		t.Errorf("%d distinct keys, want %d (calm, one per fault but partition = isolate, one pair)", len(seen), want)
	}
}
