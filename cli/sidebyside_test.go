package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestCompareSideBySide: `dsim compare A B` runs two scenarios on the same
// seeds and compares their metrics with the variants' statistics. Two
// runs of one shared shape under different protocol options face the
// identical fault plan on every seed; two different shapes do not.
func TestCompareSideBySide(t *testing.T) {
	code, out, errs := run(t, "compare", "raft/halves", "raft/halves", "--seeds", "3",
		"--variant", "", "--variant", "raft.prevote=true,raft.checkquorum=true", "--workers", "2")
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errs)
	}
	for _, want := range []string{"raft/halves+raft/halves", "A: raft/halves (defaults)",
		"B: raft/halves raft.checkquorum=true,raft.prevote=true (fault plan identical to A's on 3 of 3 seeds)",
		"no_leader_total_ns", "commit_latency_p50_ns"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	code, out, errs = run(t, "compare", "raft/halves", "raft/bridge", "--seeds", "2", "--json", "--metric", "leader_changes")
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errs)
	}
	var res struct {
		Scenario string `json:"scenario"`
		Rows     []struct {
			Metric string `json:"metric"`
		} `json:"metrics"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Scenario != "raft/halves+raft/bridge" || len(res.Rows) != 1 {
		t.Fatalf("json %+v (%v):\n%s", res, err, out)
	}
	code, out, _ = run(t, "compare", "raft/halves", "raft/bridge", "--seeds", "2")
	if code != 0 || !strings.Contains(out, "identical to A's on 0 of 2 seeds") {
		t.Fatalf("exit %d, different shapes should not share plans:\n%s", code, out)
	}
}

// TestCompareSideBySideUsage: bad side-by-side input is a one-line error
// and exit 2.
func TestCompareSideBySideUsage(t *testing.T) {
	for _, args := range [][]string{
		{"compare", "raft/halves", "raft/bridge", "--variant", "raft.prevote=true"},
		{"compare", "raft/halves", "raft/bridge", "--variant", "", "--variant", "", "--variant", ""},
		{"compare", "raft/halves", "raft/bridge", "--sweep", "raft.prevote=true,false"},
		{"compare", "raft/halves", "raft/nope"},
		{"compare", "raft/halves", "raft/bridge", "raft/ring"},
		{"compare", "raft/halves", "raft/bridge", "--variant", "", "--variant", "raft.nope=1"},
	} {
		code, out, errs := run(t, append(args, "--seeds", "1")...)
		if code != 2 || strings.Count(strings.TrimSpace(errs), "\n") != 0 || errs == "" {
			t.Errorf("%v: exit %d, stderr %q, stdout %q", args, code, errs, out)
		}
	}
}
