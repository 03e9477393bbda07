package main

// CLI tests of issue 15's input cases (hostile and out-of-range input must
// be refused at the door: one line, exit 2), plus the failure file's own
// hardening (names, modes, bounded reads, escaped trace text).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
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

// failureFile writes counter/unsafe-nosync seed 7's failure file with a
// campaign and returns its path and decoded form.
func failureFile(t *testing.T) (string, map[string]any) {
	t.Helper()
	dir := t.TempDir()
	s, _ := campaignJSON(t, nil, "counter/unsafe-nosync", "--seeds", "1", "--from", "7", "--out", dir)
	if len(s.FailureFiles) != 1 {
		t.Fatalf("campaign wrote %v", s.FailureFiles)
	}
	b, err := os.ReadFile(s.FailureFiles[0])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return s.FailureFiles[0], m
}

// writeJSONFile writes v as JSON into a new file of a temp dir.
func writeJSONFile(t *testing.T, name string, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// withPlan returns a copy of the failure file m whose plan starts with a.
func withPlan(m map[string]any, a ...map[string]any) map[string]any {
	c := map[string]any{}
	for k, v := range m {
		c[k] = v
	}
	var plan []any
	for _, x := range a {
		plan = append(plan, x)
	}
	c["plan"] = append(plan, m["plan"].([]any)...)
	delete(c, "trace_tail")
	return c
}

// Case 1: shrink --out refuses anything at PATH that is not a regular file
// (before: it renamed the shrunk file over a fifo; as root over /dev/null).
func TestCase1ShrinkOutRefusesNonRegular(t *testing.T) {
	file, _ := failureFile(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip(err)
	}
	for _, out := range []string{fifo, dir} {
		start := time.Now()
		r := dsim(t, nil, "shrink", file, "--out", out)
		refused(t, "shrink --out "+filepath.Base(out), r, "not a regular file")
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("refusing --out %s took %v (checked after shrinking?)", out, el)
		}
	}
	if st, err := os.Lstat(fifo); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("the fifo was replaced: %v %v", st.Mode(), err)
	}
}

// Case 2: replay and shrink read failure files within bounds: an oversized
// file or a plan of a million actions is refused in one line (before: read
// whole, ~800 MB for 200 MB, ~1 GB for a million actions).
func TestCase2OversizedFilesRefused(t *testing.T) {
	_, m := failureFile(t)
	big := withPlan(m)
	tail := []any{}
	ev := map[string]any{"i": 1, "t": 0, "k": "send", "m": strings.Repeat("x", 200), "h": "0"}
	for i := 0; i < 100_000; i++ {
		tail = append(tail, ev)
	}
	big["trace_tail"] = tail
	bigPath := writeJSONFile(t, "big.json", big)
	var plan bytes.Buffer
	plan.WriteString("[")
	for i := 0; i < 1_000_000; i++ {
		if i > 0 {
			plan.WriteString(",")
		}
		plan.WriteString(`{"kind":"heal"}`)
	}
	plan.WriteString("]")
	long := withPlan(m)
	long["plan"] = json.RawMessage(plan.Bytes())
	longPath := writeJSONFile(t, "long.json", long)
	for _, cmd := range []string{"replay", "shrink"} {
		refused(t, cmd+" big", dsim(t, nil, cmd, bigPath), "larger than")
		refused(t, cmd+" long plan", dsim(t, nil, cmd, longPath), "more than")
	}
}

// Case 2: an endless device is refused after a bounded read (before: dsim
// replay /dev/zero grew to gigabytes).
func TestCase2ReplayDevZeroBounded(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	refused(t, "replay /dev/zero", dsim(t, nil, "replay", "/dev/zero"), "larger than")
	refused(t, "shrink /dev/zero", dsim(t, nil, "shrink", "/dev/zero", "--out", filepath.Join(t.TempDir(), "x.json")), "larger than")
}

// Case 4: replay --window is capped (before: --window 2000000000 died with a
// 120-line out-of-memory trace).
func TestCase4ReplayWindowCapped(t *testing.T) {
	file, _ := failureFile(t)
	for _, w := range []string{"2000000000", "0", "-3"} {
		refused(t, "replay --window "+w, dsim(t, nil, "replay", file, "--window", w), "--window")
	}
	if r := dsim(t, nil, "replay", file, "--window", "100000"); r.code != 1 || !strings.Contains(r.stdout, "REPRODUCED") {
		t.Fatalf("replay --window 100000: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// Case 5: a failure file's plan is checked against its scenario before it
// runs (before: node 7 failed at run time with exit 1; negative delays and
// n/0 ratios ran), and a MaxInt64 delay ends on time (before: virtual time
// wrapped, the run spun until the watchdog called it a hang).
func TestCase5PlanValidatedAgainstScenario(t *testing.T) {
	_, m := failureFile(t)
	for _, c := range []struct {
		a    map[string]any
		want string
	}{
		{map[string]any{"kind": "crash", "node": 7}, "out of range 0..2"},
		{map[string]any{"kind": "links", "cuts": [][2]int{{0, 9}}}, "cut 0->9"},
		{map[string]any{"kind": "clog", "node": 0, "delay_ns": -1, "for_ns": 1}, "negative delay_ns"},
		{map[string]any{"kind": "flaky", "node": 0, "peer": 1, "ratio": map[string]int{"num": 1, "den": 0}}, "zero denominator"},
		{map[string]any{"kind": "net", "net": map[string]int{"delay_min_ns": 9, "delay_max_ns": 1}}, "delay_min_ns 9 above"},
		{map[string]any{"kind": "drift", "node": 0, "ppm": 2_000_000}, "drift"},
	} {
		p := writeJSONFile(t, "f.json", withPlan(m, c.a))
		refused(t, fmt.Sprintf("replay with %v", c.a), dsim(t, nil, "replay", p), c.want)
		refused(t, fmt.Sprintf("shrink with %v", c.a), dsim(t, nil, "shrink", p), c.want)
	}
	huge := writeJSONFile(t, "huge.json", withPlan(m, map[string]any{"kind": "clog", "at_ns": 1_000_000, "node": 0,
		"delay_ns": int64(math.MaxInt64), "for_ns": 1_000_000_000}))
	start := time.Now()
	r := dsim(t, nil, "replay", huge, "--watchdog", "20s")
	if el := time.Since(start); el > 15*time.Second || strings.Contains(r.stdout, "hang") || r.code == 2 {
		t.Fatalf("replay with a MaxInt64 clog: exit %d after %v\n%s%s", r.code, el, r.stdout, r.stderr)
	}
}

// Case 6: trace text from a hostile file is printed escaped (before: its
// terminal escapes reached the terminal raw).
func TestCase6ReplayEscapesHostileText(t *testing.T) {
	_, m := failureFile(t)
	tail := m["trace_tail"].([]any)
	ev := tail[0].(map[string]any)
	ev["m"] = "\x1b]0;pwned\x07\x1b[2Jgotcha"
	ev["n"] = "s\x1b[31m0"
	m["trace_hash"] = "0000000000000000" // a difference: replay prints the stored trace
	p := writeJSONFile(t, "hostile.json", m)
	r := dsim(t, nil, "replay", p)
	if strings.ContainsRune(r.stdout+r.stderr, 0x1b) || strings.ContainsRune(r.stdout, 0x07) {
		t.Fatalf("raw escape printed: %q", r.stdout)
	}
	if !strings.Contains(r.stdout, `\x1b[2Jgotcha`) {
		t.Fatalf("hostile text not shown escaped (exit %d): %s%s", r.code, r.stdout, r.stderr)
	}
}

// Case 10: run --trace to a full disk reports the write error (before: exit
// 0 with a truncated trace).
func TestCase10RunTraceToFullDisk(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	r := dsim(t, nil, "run", "counter/basic", "--seed", "1", "--trace", "/dev/full")
	refused(t, "run --trace /dev/full", r, "no space left")
	if r := dsim(t, nil, "run", "counter/basic", "--seed", "1", "--trace", filepath.Join(t.TempDir(), "t.jsonl")); r.code != 0 {
		t.Fatalf("run --trace to a real file: exit %d %s", r.code, r.stderr)
	}
}

// Case 12: two campaigns with different variants into one --out keep each
// other's files (before: same names, the second overwrote the first).
func TestCase12FileNamesUniquePerVariant(t *testing.T) {
	out := t.TempDir()
	a, _ := campaignJSON(t, nil, "counter/unsafe-nosync", "--seeds", "3", "--from", "7", "--out", out)
	b, _ := campaignJSON(t, nil, "counter/unsafe-nosync", "--seeds", "3", "--from", "7", "--out", out, "--variant", "counter.clients=3")
	entries, _ := os.ReadDir(out)
	if len(a.FailureFiles) == 0 || len(b.FailureFiles) == 0 || len(entries) != len(a.FailureFiles)+len(b.FailureFiles) {
		t.Fatalf("%d + %d failure files, %d in --out", len(a.FailureFiles), len(b.FailureFiles), len(entries))
	}
	for _, f := range append(a.FailureFiles, b.FailureFiles...) {
		if r := dsim(t, nil, "replay", f); r.code != 1 || !strings.Contains(r.stdout, "REPRODUCED") {
			t.Errorf("replay %s: exit %d %s", f, r.code, r.stdout)
		}
	}
}

// Case 13: failure files are 0644 minus the umask, from campaign and shrink
// (before: 0600).
func TestCase13FailureFilesReadableByOthers(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	file, _ := failureFile(t)
	small := filepath.Join(t.TempDir(), "small.json")
	if r := dsim(t, nil, "shrink", file, "--out", small, "--max-runs", "20"); r.code != 0 {
		t.Fatalf("shrink: exit %d %s", r.code, r.stderr)
	}
	for _, p := range []string{file, small} {
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v %v, want 0644", filepath.Base(p), st.Mode().Perm(), err)
		}
	}
}
