package cli

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smilingraft/dsim/campaign"
)

// junitTotals are the root attributes of a JUnit file.
type junitTotals struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Errors   int `xml:"errors,attr"`
	Suites   []struct {
		Name  string `xml:"name,attr"`
		Cases []struct {
			Name      string `xml:"name,attr"`
			Classname string `xml:"classname,attr"`
			Failure   *struct {
				Type string `xml:"type,attr"`
				Text string `xml:",chardata"`
			} `xml:"failure"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func readJUnit(t *testing.T, path string) junitTotals {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var j junitTotals
	if err := xml.Unmarshal(b, &j); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return j
}

// TestCampaignJUnitMarkdownCLI: campaign --junit and --markdown on each of
// 4 shards, then campaign merge --junit --markdown of their summaries: one
// JUnit file with one passing scenario and one failure group (the bug's
// many seeds), the markdown job summary, the text summary's group line;
// bad targets are one line and exit 2 before any run.
func TestCampaignJUnitMarkdownCLI(t *testing.T) {
	dir := t.TempDir()
	var parts []string
	for i := 0; i < 4; i++ {
		junit := filepath.Join(dir, fmt.Sprintf("shard%d.xml", i))
		code, out, errs := run(t, "campaign", "counter/basic", "counter/unsafe-nosync", "--seeds", "8", "--shard", fmt.Sprintf("%d/4", i),
			"--out", filepath.Join(dir, "f"), "--json", "--junit", junit)
		if code != ExitFailed || !strings.Contains(errs, "JUnit XML: "+junit+" (2 tests, 1 failures, 0 errors)") {
			t.Fatalf("campaign --junit: exit %d:\n%s", code, errs)
		}
		p := filepath.Join(dir, fmt.Sprintf("s%d.json", i))
		if err := os.WriteFile(p, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, p)
	}
	junit, md := filepath.Join(dir, "nightly.xml"), filepath.Join(dir, "summary.md")
	code, out, errs := run(t, append([]string{"campaign", "merge", "--junit", junit, "--markdown", md}, parts...)...)
	if code != ExitFailed {
		t.Fatalf("merge: exit %d:\n%s%s", code, out, errs)
	}
	if !strings.Contains(out, "failures in 1 group by cause:") || !strings.Contains(out, "x counter/unsafe-nosync ") {
		t.Errorf("the merged text summary has no group line:\n%s", out)
	}
	j := readJUnit(t, junit)
	if j.Tests != 2 || j.Failures != 1 || j.Errors != 0 || len(j.Suites) != 1 || len(j.Suites[0].Cases) != 2 {
		t.Fatalf("merged JUnit: %d tests, %d failures, %d errors, %d suites", j.Tests, j.Failures, j.Errors, len(j.Suites))
	}
	for _, c := range j.Suites[0].Cases {
		switch c.Classname {
		case "counter/basic":
			if c.Failure != nil || c.Name != "counter/basic" {
				t.Errorf("counter/basic case %q failed", c.Name)
			}
		case "counter/unsafe-nosync":
			if c.Failure == nil || !strings.Contains(c.Failure.Text, "dsim replay "+filepath.Join(dir, "f")) || !strings.Contains(c.Failure.Text, "of 8 runs") {
				t.Errorf("the failure group's case lacks its repro or counts: %+v", c)
			}
		default:
			t.Errorf("unexpected case %s %s", c.Classname, c.Name)
		}
	}
	b, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"### dsim campaign: FAIL", "#### Failures by cause", "| counter/unsafe-nosync |", "`` dsim replay "} {
		if !strings.Contains(string(b), want) && !strings.Contains(string(b), strings.ReplaceAll(want, "``", "`")) {
			t.Errorf("markdown lacks %q:\n%s", want, b)
		}
	}

	for _, args := range [][]string{
		{"campaign", "counter/basic", "--junit", filepath.Join(dir, "no", "dir", "j.xml")},
		{"campaign", "counter/basic", "--markdown", dir},
		{"campaign", "merge", parts[0], "--junit", dir},
	} {
		code, _, errs := run(t, args...)
		if code != ExitUsage || strings.Count(errs, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line", args, code, errs)
		}
	}
}

// The text summary lists at most maxGroupLines failure groups and says how
// many more there are.
func TestPrintGroupsCapsTheList(t *testing.T) {
	s := &campaign.Summary{}
	for i := 0; i < maxGroupLines+5; i++ {
		f := campaign.Failure{Scenario: fmt.Sprintf("kv/s%02d", i), Checker: "linearizability", Seed: uint64(i + 1), Repro: fmt.Sprintf("dsim run kv/s%02d --seed %d", i, i+1)}
		s.Failures = append(s.Failures, f)
		s.Groups = append(s.Groups, campaign.Group{Scenario: f.Scenario, Checker: f.Checker, Pattern: "history not linearizable", Count: 1, First: f, Smallest: f})
	}
	var b strings.Builder
	printGroups(&b, s)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 1+maxGroupLines+1 {
		t.Fatalf("%d lines, want a header, %d groups and a tail:\n%s", len(lines), maxGroupLines, b.String())
	}
	if !strings.Contains(lines[maxGroupLines], "kv/s29") || strings.Contains(b.String(), "kv/s30") {
		t.Fatalf("the list is not the first %d groups:\n%s", maxGroupLines, b.String())
	}
	if want := "... and 5 more groups (--json lists them all)"; !strings.Contains(lines[len(lines)-1], want) {
		t.Fatalf("last line %q, want %q", lines[len(lines)-1], want)
	}
}
