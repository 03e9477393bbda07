package main

// CLI tests of issue 15's input cases (hostile and out-of-range input must
// be refused at the door: one line, exit 2), plus the failure file's own
// hardening (names, modes, bounded reads, escaped trace text).

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// refused fails unless r is a refusal: exit 2, one line on stderr, no
// panic trace, and (when want is set) the line mentions want.
func refused(t *testing.T, what string, r result, want string) {
	t.Helper()
	lines := strings.Count(strings.TrimSpace(r.stderr), "\n") + 1
	if r.code != 2 || strings.TrimSpace(r.stderr) == "" || lines != 1 || strings.Contains(r.stderr, "goroutine ") ||
		(want != "" && !strings.Contains(r.stderr, want)) {
		t.Errorf("%s: exit %d, stderr %q, stdout %.300q; want exit 2 and one line mentioning %q", what, r.code, r.stderr, r.stdout, want)
	}
}

// Case 15: out-of-range variant values are refused by run, campaign and
// replay before anything runs (before: every seed failed as "setup", exit 1,
// one failure file per seed).
func TestCase15VariantRangesRefusedAtTheDoor(t *testing.T) {
	for _, c := range []struct{ scenario, variant, want string }{
		{"counter/basic", "counter.servers=0", "counter.servers"},
		{"raft/initial-election", "raft.heartbeat_ms=0", "raft.heartbeat_ms"},
		{"raft/initial-election", "raft.read=bogus", "raft.read"},
		{"raft/initial-election", "raft.election_min_ms=700", "raft.election_min_ms"},
	} {
		r := dsim(t, nil, "run", c.scenario, "--variant", c.variant)
		refused(t, "run "+c.variant, r, c.want)
		out := t.TempDir()
		r = dsim(t, nil, "campaign", c.scenario, "--variant", c.variant, "--seeds", "3", "--out", out)
		refused(t, "campaign "+c.variant, r, c.want)
		if entries, _ := os.ReadDir(out); len(entries) != 0 {
			t.Errorf("campaign %s wrote %d files", c.variant, len(entries))
		}
	}
	// A failure file whose variant is out of range is refused too.
	dir := t.TempDir()
	p := filepath.Join(dir, "f.json")
	body := `{"format_version": 1, "scenario": "counter/basic", "variant": "counter.servers=0", "seed": 1, "plan": [], "failure": {"checker": "setup", "message": "x"}}`
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	refused(t, "replay counter.servers=0", dsim(t, nil, "replay", p), "counter.servers")
}

var _ = json.Marshal
