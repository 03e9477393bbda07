package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// figure8Failure writes raft/unsafe-figure8's failure files (seeds 1-3)
// with a campaign and returns seed 3's.
func figure8Failure(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := mainExit([]string{"campaign", "raft/unsafe-figure8", "--seeds", "3", "--out", dir}, &out, &errb); code != 1 {
		t.Fatalf("campaign exit %d, want 1 (failures):\n%s%s", code, out.String(), errb.String())
	}
	m, _ := filepath.Glob(filepath.Join(dir, "raft_unsafe-figure8-seed3-*.json"))
	if len(m) != 1 {
		t.Fatalf("failure files %v", m)
	}
	return m[0]
}

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := mainExit(args, &out, &errb)
	return code, out.String(), errb.String()
}

// dsim explain names the decisive window; replay writes the page and the
// exports; replay --break prints the nodes' state; bad flags exit 2.
func TestExplainAndExportsCLI(t *testing.T) {
	file := figure8Failure(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "x.html")
	code, out, errs := run(t, "explain", file, "--forks", "10", "--points", "12", "--html", page)
	if code != 0 || !strings.Contains(out, "decisive window: events") || !strings.Contains(out, "isolate") {
		t.Fatalf("explain exit %d:\n%s%s", code, out, errs)
	}
	if b, err := os.ReadFile(page); err != nil || !bytes.Contains(b, []byte(`"explain":{`)) {
		t.Fatalf("explain --html wrote no curve: %v", err)
	}
	pf, sv, h := filepath.Join(dir, "t.json"), filepath.Join(dir, "t.shiviz"), filepath.Join(dir, "t.html")
	code, out, errs = run(t, "replay", file, "--html", h, "--perfetto", pf, "--shiviz", sv)
	if code != 1 || !strings.Contains(out, "REPRODUCED") {
		t.Fatalf("replay exit %d:\n%s%s", code, out, errs)
	}
	for _, p := range []string{pf, sv, h} {
		if st, err := os.Stat(p); err != nil || st.Size() < 1000 {
			t.Fatalf("%s not written: %v", p, err)
		}
	}
	code, out, errs = run(t, "replay", file, "--break", "60")
	if code != 0 || !strings.Contains(out, "STOPPED after event 60") || !strings.Contains(out, `"s4"`) {
		t.Fatalf("replay --break exit %d:\n%s%s", code, out, errs)
	}
	code, out, _ = run(t, "replay", file, "--break", "100000000")
	if code != 1 || !strings.Contains(out, "the run failed before event 100000000") {
		t.Fatalf("replay --break past the failure: exit %d\n%s", code, out)
	}
	for _, bad := range [][]string{
		{"replay", file, "--break", "5", "--html", h},
		{"replay", file, "--explain"},
		{"replay", file, "--max-events", "0", "--html", h},
		{"explain", file, "--forks", "0"},
		{"explain", file, "--points", "1"},
		{"explain", filepath.Join(dir, "missing.json")},
		{"explain"},
	} {
		if code, _, errs := run(t, bad...); code != 2 || strings.Count(errs, "\n") != 1 {
			t.Fatalf("%v: exit %d, stderr %q (want 2 and one line)", bad, code, errs)
		}
	}
}
