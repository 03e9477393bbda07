package main

import (
	"strings"
	"testing"
)

// TestRunCrashStates drives --crash-states as a user does: a Raft follower
// crashed before the Sync of an appended entry, in every state its log can
// be left in, passes every checker; bad points are one-line usage errors.
func TestRunCrashStates(t *testing.T) {
	r := dsim(t, nil, "run", "raft/persist1", "--seed", "1", "--crash-states", "51")
	if r.code != 0 || !strings.Contains(r.stdout, "PASS all 5 crash states") || !strings.Contains(r.stdout, "append log") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, args := range [][]string{
		{"--crash-states", "999999"},
		{"--crash-states", "51", "--crash-node", "nobody"},
		{"--crash-states", "51", "--break", "3"},
		{"--crash-node", "s0"},
		{"--crash-states", "51", "--crash-down", "-1s"},
	} {
		r := dsim(t, nil, append([]string{"run", "raft/persist1", "--seed", "1"}, args...)...)
		if r.code != 2 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q: want exit 2 and one line", args, r.code, r.stderr)
		}
	}
}
