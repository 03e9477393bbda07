package compare

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smilingraft/dsim/scenarios"
)

func lookup(t *testing.T, name string) *scenarios.Scenario {
	t.Helper()
	s, err := scenarios.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSideBySide: arms running their own scenarios (Options.Scenarios) on
// the same seeds: each arm runs its scenario, the plan fingerprints say
// where both faced the same faults, the benchmark files name each arm's
// scenario, and a mismatched Scenarios/Variants pair or a variant foreign
// to its scenario is refused.
func TestSideBySide(t *testing.T) {
	halves, bridge := lookup(t, "raft/halves"), lookup(t, "raft/bridge")
	o := Options{Scenarios: []*scenarios.Scenario{halves, halves, bridge}, From: 1, Seeds: 3, Workers: 2,
		Variants: []scenarios.Variant{{}, variant(t, "raft.prevote=true"), {}}}
	r, err := Execute(o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Scenario != "raft/halves+raft/halves+raft/bridge" || r.Arms[2].Scenario != "raft/bridge" {
		t.Fatalf("scenario %q, arms %q", r.Scenario, r.Arms[2].Scenario)
	}
	if same, n := r.SamePlans(1); same != 3 || n != 3 {
		t.Errorf("one shape under two protocol options: same plan on %d of %d seeds, want 3 of 3", same, n)
	}
	if same, n := r.SamePlans(2); same != 0 || n != 3 {
		t.Errorf("two shapes: same plan on %d of %d seeds, want 0 of 3", same, n)
	}
	dir := t.TempDir()
	if _, err := r.WriteBench(dir); err != nil {
		t.Fatal(err)
	}
	all, err := os.ReadFile(filepath.Join(dir, "all.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(all, []byte("variant: raft/bridge (defaults)")) || !bytes.Contains(all, []byte("Benchmarkraft/halves+raft/halves+raft/bridge")) {
		t.Errorf("all.txt:\n%.600s", all)
	}
	var text bytes.Buffer
	if err := r.WriteText(&text, r.Table()); err != nil || !strings.Contains(text.String(), "identical to A's on 3 of 3 seeds") {
		t.Errorf("text (%v):\n%s", err, text.String())
	}

	for _, bad := range []Options{
		{Scenarios: []*scenarios.Scenario{halves, bridge}, From: 1, Seeds: 1, Variants: []scenarios.Variant{{}, {}, {}}},
		{Scenarios: []*scenarios.Scenario{halves, bridge}, From: 1, Seeds: 1, Variants: []scenarios.Variant{{}, variant(t, "kv.clients=2")}},
	} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}
