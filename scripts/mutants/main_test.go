package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smilingraft/dsim/scenarios"
	_ "github.com/smilingraft/dsim/scenarios/all"
)

const repoRoot = "../.."

// TestMutantsApply keeps the mutants from rotting: every patch in
// testdata/mutants must still apply cleanly to the current tree, change one
// line, carry a description, and name campaign patterns that match
// scenarios. When a change to nodes/ breaks one, regenerate it by making
// the same one-line bug by hand and `git diff > testdata/mutants/NAME.patch`
// (keeping its header).
func TestMutantsApply(t *testing.T) {
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git not installed")
	}
	ms, err := LoadMutants(filepath.Join(repoRoot, "testdata", "mutants"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 20 {
		t.Errorf("%d mutants, want at least 20", len(ms))
	}
	for _, m := range ms {
		abs, _ := filepath.Abs(m.File)
		cmd := exec.Command(git, "apply", "--check", abs)
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s no longer applies: %v\n%s", m.Name, err, out)
		}
		b, err := os.ReadFile(m.File)
		if err != nil {
			t.Fatal(err)
		}
		if rm, add := ChangedLines(b); rm > 1 || add > 1 || rm+add == 0 {
			t.Errorf("%s: removes %d and adds %d lines; a mutant is a single-line bug", m.Name, rm, add)
		}
		if strings.Contains(m.Description, "\n") || len(m.Description) < 20 {
			t.Errorf("%s: description %q is not one informative line", m.Name, m.Description)
		}
		if _, err := scenarios.Match(m.Campaign); err != nil {
			t.Errorf("%s: campaign %q: %v", m.Name, m.Campaign, err)
		}
	}
}

// TestParseMutantRejects shows the header check can fail: a patch without
// a description or campaign, or without a diff, is an error.
func TestParseMutantRejects(t *testing.T) {
	dir := t.TempDir()
	diff := "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n"
	for name, body := range map[string]string{
		"nodesc":   "Campaign: raft/*\n\n" + diff,
		"nocamp":   "Description: something broke in a realistic way\n\n" + diff,
		"nodiff":   "Description: something broke in a realistic way\nCampaign: raft/*\n",
		"goodcase": "Description: something broke in a realistic way\nCampaign: raft/* mr/*\n\n" + diff,
	} {
		f := filepath.Join(dir, name+".patch")
		if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := ParseMutant(f)
		if (err == nil) != (name == "goodcase") {
			t.Errorf("%s: err = %v", name, err)
		}
		if name == "goodcase" && (len(m.Campaign) != 2 || m.Name != "goodcase") {
			t.Errorf("goodcase parsed as %+v", m)
		}
	}
	if rm, add := ChangedLines([]byte(diff + "@@ -5 +5 @@\n-c\n+d\n")); rm != 2 || add != 2 {
		t.Errorf("ChangedLines = %d, %d; want 2, 2", rm, add)
	}
}
