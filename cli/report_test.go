package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/smilingraft/dsim/campaign"
)

// campaign --report and campaign merge --report --history write the page
// and a replay page per failure group beside it; campaign trend prints the
// nights and marks a new group and a gone one, and writes its page; bad
// input is one line and exit 2, before any run.
func TestCampaignReportAndTrendCLI(t *testing.T) {
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	var parts []string
	for i := 0; i < 2; i++ {
		code, out, errs := run(t, "campaign", "counter/basic", "counter/unsafe-nosync", "--seeds", "6", "--shard", fmt.Sprintf("%d/2", i),
			"--out", filepath.Join(dir, "f"), "--json", "--report", filepath.Join(dir, fmt.Sprintf("shard%d.html", i)))
		if code != ExitFailed || !strings.Contains(errs, "report page: "+filepath.Join(dir, fmt.Sprintf("shard%d.html", i))) {
			t.Fatalf("campaign --report: exit %d:\n%s", code, errs)
		}
		p := filepath.Join(dir, fmt.Sprintf("s%d.json", i))
		if err := os.WriteFile(p, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, p)
	}
	if _, err := os.Stat(filepath.Join(dir, "shard0-group-1.html")); err != nil {
		t.Fatalf("no replay page beside the shard's report: %v", err)
	}

	// History: night 1 has a bug that night 2 does not; tonight's merge
	// brings counter/unsafe-nosync's durability group.
	hist := filepath.Join(dir, "nights")
	os.Mkdir(hist, 0o755)
	night := func(name string, fails ...campaign.Failure) {
		s := campaign.Summary{FormatVersion: 1, Runs: 12, Passed: 12 - uint64(len(fails)), Failures: fails, WallNs: 1e9, SeedsPerS: 12}
		for _, sc := range []string{"counter/basic", "counter/unsafe-nosync"} {
			s.Seeds = append(s.Seeds, campaign.SeedRange{Scenario: sc, From: 1, Seeds: 6, Shard: campaign.Shard{Index: 0, Count: 1}, Runs: 6})
		}
		b, _ := json.Marshal(s)
		if err := os.WriteFile(filepath.Join(hist, name+".json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	night("2026-12-01", campaign.Failure{Scenario: "counter/basic", Seed: 2, Checker: "durability", Message: "lost 3 acks", Repro: "dsim run counter/basic --seed 2"})
	night("2026-12-02")
	code, out, errs := run(t, append([]string{"campaign", "merge", "--report", page, "--history", hist}, parts...)...)
	if code != ExitFailed || !strings.Contains(errs, "report page: "+page) {
		t.Fatalf("merge --report --history: exit %d:\n%s%s", code, out, errs)
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(b); !strings.Contains(s, `<tr class="night">`) || !strings.Contains(s, "this campaign") || !strings.Contains(s, `href="report-group-1.html"`) {
		t.Fatalf("the merged report lacks its trend or its replay link")
	}

	// Tonight's merged summary as night 3: durability on counter/unsafe-nosync is new.
	code, out, _ = run(t, append([]string{"campaign", "merge", "--json"}, parts...)...)
	if code != ExitFailed {
		t.Fatalf("merge --json: exit %d", code)
	}
	os.WriteFile(filepath.Join(hist, "2026-12-03.json"), []byte(out), 0o644)
	tpage := filepath.Join(dir, "trend.html")
	code, out, errs = run(t, "campaign", "trend", hist, "--report", tpage)
	if code != ExitPass {
		t.Fatalf("trend: exit %d:\n%s%s", code, out, errs)
	}
	for _, want := range []string{"2026-12-02 GONE  counter/basic durability: lost 3 acks", "2026-12-03 NEW   counter/unsafe-nosync durability:", "trend page: " + tpage} {
		if !strings.Contains(out, want) {
			t.Errorf("trend output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(tpage); err != nil {
		t.Fatal(err)
	}

	broken := filepath.Join(dir, "broken")
	os.Mkdir(broken, 0o755)
	os.WriteFile(filepath.Join(broken, "x.json"), []byte("{\"runs\":"), 0o644)
	for _, args := range [][]string{
		{"campaign", "trend"},
		{"campaign", "trend", filepath.Join(dir, "nope")},
		{"campaign", "trend", broken},
		{"campaign", "trend", page},
		{"campaign", "trend", hist, "--last", "-1"},
		{"campaign", "trend", hist, "--report", filepath.Join(dir, "no", "dir", "t.html")},
		{"campaign", "counter/basic", "--history", hist},
		{"campaign", "counter/basic", "--report", page, "--history", broken},
		{"campaign", "counter/basic", "--report", filepath.Join(dir, "no", "dir", "r.html")},
		{"campaign", "merge", parts[0], "--report", dir},
	} {
		code, _, errs := run(t, args...)
		if code != ExitUsage || strings.Count(errs, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line", args, code, errs)
		}
	}
}

// campaign --junit FIFO: the reader of a named pipe gets the whole JUnit
// file (before: checking the target opened and closed the fifo, so the
// reader got an empty file and the final write waited for a reader
// forever). The reader reads again after an empty read so that the test
// fails instead of hanging.
func TestCampaignJUnitToFifo(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "junit.fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip(err)
	}
	reads := make(chan []byte, 2)
	go func() {
		for i := 0; i < 2; i++ {
			b, _ := os.ReadFile(fifo)
			reads <- b
			if len(b) > 0 {
				return
			}
		}
	}()
	code, _, errs := run(t, "campaign", "counter/basic", "--seeds", "2", "--junit", fifo)
	if code != ExitPass {
		t.Fatalf("campaign --junit FIFO: exit %d:\n%s", code, errs)
	}
	if b := <-reads; !strings.Contains(string(b), "<testsuites") {
		t.Errorf("the fifo's reader got %d bytes, not the JUnit file: %q", len(b), b)
	}
}
