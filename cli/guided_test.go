package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// campaign --guided through the command line: its JSON summary carries the
// search's report, its failure file replays, and it refuses to shard (flag
// or job-engine variable) in one line with exit 2.
func TestGuidedCampaignCLI(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := run(t, "campaign", "counter/crash", "counter/unsafe-nosync", "--guided", "--seeds", "12",
		"--from", "3", "--workers", "2", "--max-failures", "1", "--out", dir, "--json")
	if code != ExitFailed {
		t.Fatalf("exit %d, want %d:\n%s", code, ExitFailed, errs)
	}
	var got struct {
		Runs     uint64 `json:"runs"`
		Failures []struct {
			File string `json:"file"`
		} `json:"failures"`
		Guided struct {
			Signal string            `json:"signal"`
			From   uint64            `json:"from"`
			Corpus []json.RawMessage `json:"corpus"`
		} `json:"guided"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("summary: %v\n%s", err, out)
	}
	if got.Guided.Signal != "facts" || got.Guided.From != 3 || len(got.Failures) != 1 || got.Failures[0].File == "" {
		t.Fatalf("summary %+v", got)
	}
	if code, out, errs := run(t, "replay", got.Failures[0].File); code != ExitFailed || !strings.Contains(out+errs, "REPRODUCED") {
		t.Fatalf("replay exit %d:\n%s%s", code, out, errs)
	}
	code, out, _ = run(t, "campaign", "counter/crash", "--guided", "--seeds", "4", "--out", dir)
	if code != ExitPass || !strings.Contains(out, "guided (signal facts, from 1)") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	code, _, errs = run(t, "campaign", "counter/crash", "--guided", "--shard", "0/2")
	if code != ExitUsage || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "--guided does not shard") {
		t.Fatalf("--guided --shard: exit %d, stderr %q", code, errs)
	}
	for _, args := range [][]string{
		{"--signal", "code"},               // without --guided
		{"--guided", "--signal", "blocks"}, // unknown
		{"--guided", "--signal", "code"},   // a test binary has no atomic counters
	} {
		code, _, errs = run(t, append([]string{"campaign", "counter/crash"}, args...)...)
		if code != ExitUsage || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "--signal") {
			t.Fatalf("%v: exit %d, stderr %q", args, code, errs)
		}
	}
	t.Setenv("DSIM_SHARD", "1/2")
	code, _, errs = run(t, "campaign", "counter/crash", "--guided")
	if code != ExitUsage || strings.Count(errs, "\n") != 1 {
		t.Fatalf("--guided with DSIM_SHARD: exit %d, stderr %q", code, errs)
	}
}
