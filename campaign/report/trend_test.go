package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smilingraft/dsim/campaign"
)

// night is a hand-made nightly summary: 100 seeds of kv/a and of raft/b,
// with the given failures.
func night(wallNs int64, fails ...campaign.Failure) *campaign.Summary {
	s := &campaign.Summary{DsimVersion: "test", FormatVersion: campaign.SummaryFormat, Runs: 200,
		Passed: 200 - uint64(len(fails)), Failures: fails, WallNs: wallNs, Workers: 2,
		SeedsPerS: 200 / (float64(wallNs) / 1e9)}
	for _, sc := range []string{"kv/a", "raft/b"} {
		s.Seeds = append(s.Seeds, campaign.SeedRange{Scenario: sc, From: 1, Seeds: 100, Shard: campaign.Shard{Index: 0, Count: 1}, Runs: 100})
	}
	return s
}

// twoLeaders and notLinear are two bugs, each failing on many seeds with
// messages that differ only in numbers.
func twoLeaders(seed uint64) campaign.Failure {
	return campaign.Failure{Scenario: "raft/b", Seed: seed, Checker: "election-safety",
		Message: fmt.Sprintf("s%d and s%d both lead term %d", seed%5, (seed+1)%5, seed+2), Event: 100 + seed,
		Repro: fmt.Sprintf("dsim run raft/b --seed %d", seed)}
}

func notLinear(seed uint64) campaign.Failure {
	return campaign.Failure{Scenario: "kv/a", Seed: seed, Checker: "linearizability",
		Message: fmt.Sprintf("history of key k%d is not linearizable (%d operations)", seed%3, 40+seed), Event: 500 + seed,
		Repro: fmt.Sprintf("dsim run kv/a --seed %d", seed)}
}

// threeNights writes three nights to a directory: night 1 has the
// two-leaders bug; night 2 has it and a new one (not linearizable); on
// night 3 two-leaders is gone. File names sort by date.
func threeNights(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	nights := map[string]*campaign.Summary{
		"2026-12-01": night(2e9, twoLeaders(3), twoLeaders(17), twoLeaders(40)),
		"2026-12-02": night(2.5e9, notLinear(5), twoLeaders(8), notLinear(9), notLinear(60)),
		"2026-12-03": night(1.6e9, notLinear(2), notLinear(77)),
	}
	for name, s := range nights {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Over three hand-made nights the trend marks the group that appears on
// night 2 as new and the one missing on night 3 as gone, in the text and
// on the page (headless Chromium).
func TestTrendMarksNewAndGoneGroups(t *testing.T) {
	dir := threeNights(t)
	tr, err := ReadTrend(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Nights) != 3 {
		t.Fatalf("%d nights, want 3", len(tr.Nights))
	}
	n1, n2, n3 := tr.Nights[0], tr.Nights[1], tr.Nights[2]
	if n1.Name != "2026-12-01" || len(n1.Groups) != 1 || len(n1.New) != 0 || len(n1.Gone) != 0 {
		t.Fatalf("night 1: %s, %d groups, %d new, %d gone; want 2026-12-01, 1, 0, 0", n1.Name, len(n1.Groups), len(n1.New), len(n1.Gone))
	}
	if len(n2.Groups) != 2 || len(n2.New) != 1 || n2.New[0].Checker != "linearizability" || n2.New[0].Count != 3 || len(n2.Gone) != 0 {
		t.Fatalf("night 2: %d groups, new %+v, %d gone; want 2 groups, linearizability new with 3 failures", len(n2.Groups), n2.New, len(n2.Gone))
	}
	if len(n3.New) != 0 || len(n3.Gone) != 1 || n3.Gone[0].Checker != "election-safety" {
		t.Fatalf("night 3: new %+v, gone %+v; want election-safety gone", n3.New, n3.Gone)
	}
	var b bytes.Buffer
	if err := tr.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	t.Logf("\n%s", text)
	for _, want := range []string{
		"2026-12-01        200         3       1     -     -      100.0\n",
		"2026-12-02        200         4       2     1     0       80.0\n",
		"2026-12-03        200         2       1     0     1      125.0\n",
		"2026-12-02 NEW   kv/a linearizability: history of key k2 is not linearizable (45 operations) (3 failures, first seed 5)\n      repro: dsim run kv/a --seed 5\n",
		"2026-12-03 GONE  raft/b election-safety: s3 and s4 both lead term 10 (fixed or no longer found; failures the night before: 1)\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("trend text lacks %q", want)
		}
	}

	page := filepath.Join(t.TempDir(), "trend.html")
	var pb bytes.Buffer
	if err := WriteTrend(&pb, tr, ""); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, pb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	sc := pageSelfCheck(t, render(t, needChromium(t), page))
	if sc.Nights != 3 || sc.Plots != 5 || sc.Status != "FAIL" {
		t.Fatalf("page: %d nights, %d plots, status %q; want 3, 5, FAIL", sc.Nights, sc.Plots, sc.Status)
	}
	if len(sc.NewMarks) != 1 || !strings.Contains(sc.NewMarks[0], "kv/a linearizability") {
		t.Fatalf("new marks %q: want kv/a's linearizability group once", sc.NewMarks)
	}
	if len(sc.GoneMarks) != 1 || !strings.Contains(sc.GoneMarks[0], "raft/b election-safety") {
		t.Fatalf("gone marks %q: want raft/b's election-safety group once", sc.GoneMarks)
	}

	// The last night alone still says what it lost since the night before.
	tr.Last(1)
	b.Reset()
	tr.WriteText(&b)
	if text := b.String(); !strings.Contains(text, "2026-12-03        200         2       1     0     1      125.0\n") ||
		!strings.Contains(text, "2026-12-03 GONE  raft/b") || strings.Contains(text, "2026-12-02") {
		t.Fatalf("--last 1:\n%s", text)
	}
}

// A group whose scenario did not run on a night is not taken for fixed.
func TestTrendScenarioNotRunIsNotGone(t *testing.T) {
	tr := &Trend{}
	tr.Add("1", night(1e9, twoLeaders(3)))
	only := night(1e9)
	only.Seeds = only.Seeds[:1] // kv/a alone
	only.Runs, only.Passed = 100, 100
	tr.Add("2", only)
	if n := tr.Nights[1]; len(n.Gone) != 0 || len(n.NotRun) != 1 {
		t.Fatalf("gone %d, not run %d; want 0 and 1", len(n.Gone), len(n.NotRun))
	}
}

// Bad trend input is one line naming the problem, prefixed "trend".
func TestTrendBadInput(t *testing.T) {
	empty := t.TempDir()
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "a.json"), []byte(`{"runs": 3, "seeds": [`), 0o644)
	file := filepath.Join(bad, "a.json")
	for _, c := range []struct{ dir, want string }{
		{filepath.Join(empty, "nope"), "no such file"},
		{empty, "no *.json summaries"},
		{bad, "truncated JSON"},
		{file, "not a directory"},
	} {
		_, err := ReadTrend(c.dir)
		if err == nil || !strings.HasPrefix(err.Error(), "trend") || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ReadTrend(%s) = %v; want one line starting trend, saying %q", c.dir, err, c.want)
		}
	}
}
