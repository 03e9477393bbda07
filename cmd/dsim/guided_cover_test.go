package main

import (
	"encoding/json"
	"testing"
)

// TestGuidedByCodeIsDeterministic runs one code-guided campaign twice on
// the instrumented dsim, with one worker and with two: the same corpus, the
// same features and the same failures (Go's counters per seed are as
// deterministic as the seed, and Measure serialises the workers).
func TestGuidedByCodeIsDeterministic(t *testing.T) {
	tmp := t.TempDir()
	run := func(workers string) string {
		t.Helper()
		r := coverDsim(t, tmp, "campaign", "raft/pause", "counter/unsafe-nosync", "--guided", "--signal", "code",
			"--seeds", "12", "--from", "5", "--workers", workers, "--out", "failures", "--json")
		if r.code == 0 {
			t.Fatalf("campaign passed; counter/unsafe-nosync should fail: %s", r.stderr)
		}
		var s struct {
			Runs     uint64            `json:"runs"`
			Failures []json.RawMessage `json:"failures"`
			Guided   struct {
				Signal   string          `json:"signal"`
				Features int             `json:"features"`
				Corpus   json.RawMessage `json:"corpus"`
			} `json:"guided"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
			t.Fatalf("summary: %v: %s", err, r.stderr)
		}
		if s.Runs != 24 || s.Guided.Signal != "code" || s.Guided.Features < 100 || len(s.Failures) == 0 {
			t.Fatalf("runs %d, signal %q, %d features, %d failures: want 24 runs guided by code over hundreds of blocks, failures",
				s.Runs, s.Guided.Signal, s.Guided.Features, len(s.Failures))
		}
		b, _ := json.Marshal(s)
		return string(b)
	}
	if a, b := run("1"), run("2"); a != b {
		i := 0
		for i < len(a) && i < len(b) && a[i] == b[i] {
			i++
		}
		lo := max(0, i-200)
		t.Fatalf("two code-guided campaigns of one seed differ at byte %d:\n%s\n%s", i, a[lo:min(len(a), i+200)], b[lo:min(len(b), i+200)])
	}
}
