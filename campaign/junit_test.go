package campaign

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// nightly runs a 4-shard campaign of two buggy scenarios and one that
// passes, merges the shards' summaries (read back from JSON, as
// campaign merge does) and adds one undecided run by hand.
func nightly(t *testing.T) *Summary {
	t.Helper()
	ss := match(t, "groups/unsafe-*", "counter/swarm")
	var parts []*Summary
	for i := 0; i < 4; i++ {
		p := Run(context.Background(), Options{Scenarios: ss, Seeds: 40, From: 1, Workers: 1, Shard: Shard{i, 4}, Out: t.TempDir(), FilesPerChecker: 2})
		parts = append(parts, roundTrip(t, p))
	}
	merged, err := Merge(parts)
	if err != nil {
		t.Fatal(err)
	}
	if len(merged.Failures) != 80 || len(merged.Groups) != 2 || len(merged.Incomplete()) != 0 {
		t.Fatalf("merged nightly: %d failures, %d groups, incomplete %v", len(merged.Failures), len(merged.Groups), merged.Incomplete())
	}
	merged.Undecided = append(merged.Undecided, "counter/swarm seed 7: linearizability: porcupine timed out after 10s")
	merged.Passed--
	return merged
}

// wantCounts is the mapping's arithmetic for nightly's summary: each group
// is one failing case (2), and the scenario that passed but for one
// undecided run is one error case (1).
var wantCounts = JUnitCounts{Tests: 3, Failures: 2, Errors: 1}

// TestJUnitMergedNightly: the JUnit XML of a merged 4-shard nightly
// declares the right counts per suite and in all, every group's failure
// names its checker, seed, message, repro command and failure file, and
// the undecided run is an error.
func TestJUnitMergedNightly(t *testing.T) {
	s := nightly(t)
	var buf bytes.Buffer
	n, err := WriteJUnit(&buf, s)
	if err != nil {
		t.Fatal(err)
	}
	if n != wantCounts {
		t.Errorf("counts %+v, want %+v", n, wantCounts)
	}
	var doc junitSuites
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("not XML: %v\n%s", err, buf.String())
	}
	if doc.Tests != 3 || doc.Failures != 2 || doc.Errors != 1 || len(doc.Suites) != 2 {
		t.Fatalf("declared %d tests %d failures %d errors in %d suites:\n%s", doc.Tests, doc.Failures, doc.Errors, len(doc.Suites), buf.String())
	}
	failures := 0
	for _, st := range doc.Suites {
		for _, c := range st.Cases {
			if f := c.Failure; f != nil {
				failures++
				g := s.Groups[0]
				if c.Classname != g.Scenario {
					g = s.Groups[1]
				}
				for _, want := range []string{"checker:  " + g.Checker, "seed 1,", "repro:   " + g.First.Repro,
					"file:    " + g.Smallest.File, "dsim replay " + g.Smallest.File, "40 of 40 runs"} {
					if !strings.Contains(f.Text+f.Message, want) {
						t.Errorf("%s failure lacks %q:\n%s", c.Classname, want, f.Text)
					}
				}
				if f.Type != g.Checker || !strings.Contains(c.Name, g.ID) {
					t.Errorf("case %q failure type %q, want checker %s and id %s", c.Name, f.Type, g.Checker, g.ID)
				}
			}
			if c.Error != nil && (c.Classname != "counter/swarm" || c.Name != "undecided") {
				t.Errorf("error in %s %s", c.Classname, c.Name)
			}
		}
	}
	if failures != 2 {
		t.Errorf("%d failure elements, want 2", failures)
	}

	// A shard missing: the campaign suite's "incomplete" error names it.
	ss := match(t, "groups/unsafe-a")
	var parts []*Summary
	for i := 0; i < 3; i++ {
		parts = append(parts, Run(context.Background(), Options{Scenarios: ss, Seeds: 8, From: 1, Workers: 1, Shard: Shard{i, 4}}))
	}
	partial, err := Merge(parts)
	if err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if n, err = WriteJUnit(&buf, partial); err != nil || n != (JUnitCounts{Tests: 2, Failures: 1, Errors: 1}) {
		t.Fatalf("missing shard: counts %+v, %v", n, err)
	}
	if !strings.Contains(buf.String(), `<testcase name="incomplete" classname="campaign">`) || !strings.Contains(buf.String(), "missing shards 3/4") {
		t.Errorf("missing shard not an incomplete error:\n%s", buf.String())
	}
}

// TestJUnitSchema validates the output against Jenkins' junit-4.xsd
// (testdata/junit-4.xsd) with xmllint, including hostile text: control
// characters and markup in scenario names and messages.
func TestJUnitSchema(t *testing.T) {
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Skip("xmllint not installed (Debian: apt-get install libxml2-utils): the JUnit output is not validated against junit-4.xsd")
	}
	s := nightly(t)
	s.Failures[0].Message = "bad \x1b[31m <tag> & \"quote\" \x00 \u202e end"
	s.Failures[0].File = ""
	s.Groups = Groups(s.Failures)
	path := filepath.Join(t.TempDir(), "junit.xml")
	if _, err := WriteJUnitFile(path, s); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(xmllint, "--noout", "--schema", "testdata/junit-4.xsd", path).CombinedOutput()
	if err != nil {
		b, _ := os.ReadFile(path)
		t.Fatalf("xmllint: %v\n%s\n%s", err, out, b)
	}
}

// junitparserScript is a real JUnit consumer (Python's junitparser, as
// Debian's python3-junitparser ships it) counting what it parses.
const junitparserScript = `
import json, sys, junitparser
xml = junitparser.JUnitXml.fromfile(sys.argv[1])
out = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0, "suites": [], "failure_texts": []}
for suite in xml:
    s = {"name": suite.name, "tests": 0, "failures": 0, "errors": 0, "declared": [suite.tests, suite.failures, suite.errors]}
    for case in suite:
        s["tests"] += 1
        res = case.result
        if not isinstance(res, list):
            res = [res] if res else []
        for r in res:
            if isinstance(r, junitparser.Failure):
                s["failures"] += 1
                out["failure_texts"].append((r.type or "") + "\n" + (r.message or "") + "\n" + (r.text or ""))
            elif isinstance(r, junitparser.Error):
                s["errors"] += 1
            elif isinstance(r, junitparser.Skipped):
                out["skipped"] += 1
    for k in ("tests", "failures", "errors"):
        out[k] += s[k]
    out["suites"].append(s)
print(json.dumps(out))
`

// TestJUnitConsumer: Python's junitparser parses a merged 4-shard
// nightly's JUnit file with the right counts (each suite's as declared).
// It skips when no python3 with junitparser is installed.
func TestJUnitConsumer(t *testing.T) {
	var py string
	for _, c := range []string{"python3", "/usr/bin/python3"} {
		if p, err := exec.LookPath(c); err == nil && exec.Command(p, "-c", "import junitparser").Run() == nil {
			py = p
			break
		}
	}
	if py == "" {
		t.Skip("no python3 with junitparser (Debian: apt-get install python3-junitparser): the JUnit output is not checked by a real consumer")
	}
	s := nightly(t)
	path := filepath.Join(t.TempDir(), "junit.xml")
	n, err := WriteJUnitFile(path, s)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "-c", junitparserScript, path).Output()
	if err != nil {
		t.Fatalf("junitparser: %v", err)
	}
	var got struct {
		Tests, Failures, Errors, Skipped int
		Suites                           []struct {
			Name                    string
			Tests, Failures, Errors int
			Declared                []int
		}
		FailureTexts []string `json:"failure_texts"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	t.Logf("junitparser: %s", out)
	if (JUnitCounts{got.Tests, got.Failures, got.Errors}) != wantCounts || got.Skipped != 0 || n != wantCounts {
		t.Errorf("junitparser counted %d tests %d failures %d errors %d skipped; written %+v; want %+v",
			got.Tests, got.Failures, got.Errors, got.Skipped, n, wantCounts)
	}
	for _, st := range got.Suites {
		if len(st.Declared) != 3 || st.Declared[0] != st.Tests || st.Declared[1] != st.Failures || st.Declared[2] != st.Errors {
			t.Errorf("suite %s: parsed %d/%d/%d, declared %v", st.Name, st.Tests, st.Failures, st.Errors, st.Declared)
		}
	}
	for _, g := range s.Groups {
		found := false
		for _, txt := range got.FailureTexts {
			if strings.Contains(txt, g.Smallest.File) && strings.Contains(txt, g.First.Repro) && strings.HasPrefix(txt, g.Checker) {
				found = true
			}
		}
		if !found {
			t.Errorf("no parsed failure carries group %s's checker, repro and file", g.ID)
		}
	}
}

// TestJUnitEscapesHostileText: control characters and terminal escapes in
// a summary (read back from a hostile JSON file) reach the XML as Go
// escapes, never raw nor as the U+FFFD encoding/xml would put in their
// place (xmllint accepts both, so TestJUnitSchema cannot tell).
func TestJUnitEscapesHostileText(t *testing.T) {
	s := &Summary{DsimVersion: "v1\x1b[2J", Failures: []Failure{{Scenario: "sys/x\x1b]0;", Checker: "c\x07",
		Seed: 1, Message: "bad \x1b[31m <tag> \x00 \u202e end", Moment: "m\x1b", Repro: "dsim run --seed 1\x1b"}},
		Undecided: []string{"sys/y\x1b seed 2: timed out\x00"}}
	var buf bytes.Buffer
	if _, err := WriteJUnit(&buf, s); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, c := range out {
		if c == '\uFFFD' || c == '\u202e' || c < ' ' && c != '\n' && c != '\t' {
			t.Fatalf("raw or replaced character %q in the XML:\n%s", c, out)
		}
	}
	for _, want := range []string{`v1\x1b[2J`, `sys/x\x1b]0;`, `c\a`, `bad \x1b[31m`, `\x00`, `\u202e`, `sys/y\x1b seed 2`} {
		if !strings.Contains(out, want) {
			t.Errorf("XML lacks %q:\n%s", want, out)
		}
	}
	var doc junitSuites
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("not XML: %v\n%s", err, out)
	}
}
