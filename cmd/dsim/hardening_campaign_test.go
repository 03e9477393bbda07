package main

// CLI tests for the campaign and merge cases of issue 15 (hardening): each
// test reproduces one misbehaviour as a user or a job engine would meet it.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smilingraft/dsim/cli"
	"github.com/smilingraft/dsim/internal/clitest"
)

// Exit statuses of campaign and merge (README, "Campaigns").
const (
	exitPass   = 0
	exitFailed = 1
	exitUsage  = 2
)

// fullSummary is the part of a campaign summary these tests look at.
type fullSummary struct {
	Runs     uint64 `json:"runs"`
	Passed   uint64 `json:"passed"`
	Failures []struct {
		Seed    uint64 `json:"seed"`
		Checker string `json:"checker"`
		File    string `json:"file"`
	} `json:"failures"`
	FailureFiles   []string `json:"failure_files"`
	Workers        int      `json:"workers"`
	Interrupted    bool     `json:"interrupted"`
	UnwrittenFiles uint64   `json:"unwritten_files"`
	StoppedAfter   uint64   `json:"stopped_after_failures"`
	FilesSkipped   uint64   `json:"files_skipped"`
	RecoveredFiles []string `json:"recovered_files"`
	Problems       []string `json:"problems"`
	Seeds          []struct {
		Scenario string `json:"scenario"`
		Runs     uint64 `json:"runs"`
	} `json:"seeds"`
}

func decodeSummary(t *testing.T, r result) fullSummary {
	t.Helper()
	var s fullSummary
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatalf("no JSON summary on stdout (exit %d): %v\nstdout %q\nstderr %q", r.code, err, r.stdout, r.stderr)
	}
	return s
}

// oneLineExit2 checks the bad-input contract: exit 2, one line on stderr,
// no Go trace.
func oneLineExit2(t *testing.T, r result, what string) {
	t.Helper()
	msg := strings.TrimSpace(r.stderr)
	if r.code != exitUsage || msg == "" || strings.Contains(msg, "\n") || strings.Contains(msg, "goroutine ") {
		t.Errorf("%s: exit %d, stderr %q; want exit 2 and one line", what, r.code, r.stderr)
	}
}

// startDsim starts the binary in dir without waiting, with the job-engine
// variables cleared like dsim() does, then env added.
func startDsim(t *testing.T, dir string, env []string, args ...string) (*exec.Cmd, *clitest.Buffer, *clitest.Buffer) {
	t.Helper()
	cmd := exec.Command(dsimBin, args...)
	cmd.Dir, cmd.Env = dir, clitest.Env(env...)
	var out, errb clitest.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &out, &errb
}

// waitForFile polls until dir holds a visible *.json file.
func waitForFile(t *testing.T, dir string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		m, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		if len(m) > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no failure file appeared in %s", dir)
}

// Case 7: SIGTERM (Slurm, Kubernetes and CI cancel with it) stops the
// campaign like Ctrl-C: files kept, summary printed. Case 8: an interrupted
// campaign is not a pass, even with failures found it is "incomplete".
func TestSIGTERMKeepsSummaryAndIsIncomplete(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "failures")
			cmd, stdout, stderr := startDsim(t, dir, nil, "campaign", "counter/unsafe-nosync", "--seeds", "100000000",
				"--workers", "1", "--files-per-checker", "0", "--out", out, "--json")
			waitForFile(t, out)
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			code := clitest.ExitCode(t, cmd.Wait())
			r := result{code, stdout.String(), stderr.String()}
			if code != cli.ExitIncomplete {
				t.Fatalf("after %v: exit %d, want %d (incomplete); stderr %q", sig, code, cli.ExitIncomplete, r.stderr)
			}
			s := decodeSummary(t, r)
			if !s.Interrupted || s.Runs == 0 || len(s.FailureFiles) != len(s.Failures) || s.Runs != s.Passed+uint64(len(s.Failures)) {
				t.Fatalf("summary after %v: interrupted=%v runs=%d passed=%d failures=%d files=%d", sig, s.Interrupted, s.Runs, s.Passed, len(s.Failures), len(s.FailureFiles))
			}
			for _, f := range s.FailureFiles {
				if r := dsim(t, nil, "replay", f); r.code != exitFailed {
					t.Fatalf("replay %s after %v: exit %d %s", f, sig, r.code, r.stderr)
				}
				break // one is enough to show the files are whole
			}
		})
	}
}

// Case 8: an interrupted campaign without failures exits "incomplete", not 0.
func TestInterruptedPassingCampaignIsNotAPass(t *testing.T) {
	dir := t.TempDir()
	// DSIM_SHARD makes the campaign print a line once its signal handler
	// is in place; wait for it, then let it run a little.
	cmd, stdout, stderr := startDsim(t, dir, []string{"DSIM_SHARD=0/1"}, "campaign", "counter/basic", "--seeds", "100000000", "--workers", "1", "--json")
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(stderr.String(), "shard 0/1"); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no shard line on stderr: %q", stderr.String())
		}
	}
	time.Sleep(300 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code := clitest.ExitCode(t, cmd.Wait())
	r := result{code, stdout.String(), stderr.String()}
	if code != cli.ExitIncomplete || !strings.Contains(r.stderr, "incomplete") {
		t.Fatalf("interrupted passing campaign: exit %d, stderr %q; want %d and a line saying incomplete", code, r.stderr, cli.ExitIncomplete)
	}
	if s := decodeSummary(t, r); !s.Interrupted || len(s.Failures) != 0 {
		t.Fatalf("summary: %+v", s)
	}
	// merge reports the interrupted shard as a problem and exits incomplete.
	p := filepath.Join(dir, "s.json")
	if err := os.WriteFile(p, []byte(r.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	m := dsim(t, nil, "campaign", "merge", p)
	if m.code != cli.ExitIncomplete || !strings.Contains(m.stdout, "PROBLEM") || !strings.Contains(m.stdout, "interrupted") {
		t.Fatalf("merge of an interrupted summary: exit %d\n%s%s", m.code, m.stdout, m.stderr)
	}
}

// shardSummaries runs a small failing campaign as two shards and returns the
// summaries' paths (and the unsharded summary).
func shardSummaries(t *testing.T, dir string, scenario string) (p0, p1 string, whole fullSummary) {
	t.Helper()
	args := []string{"campaign", scenario, "--seeds", "8", "--json", "--out", filepath.Join(dir, "f")}
	w := dsim(t, nil, args...)
	whole = decodeSummary(t, w)
	p0, p1 = filepath.Join(dir, "s0.json"), filepath.Join(dir, "s1.json")
	for i, p := range []string{p0, p1} {
		r := dsim(t, nil, append(args, "--shard", fmt.Sprintf("%d/2", i))...)
		if err := os.WriteFile(p, []byte(r.stdout), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return p0, p1, whole
}

// Case 9: a duplicated shard is counted once and, like a missing one, makes
// the merge "incomplete" (not "failures found", which CI cannot tell apart).
func TestMergeDuplicatedOrMissingShardIsIncompleteAndCountedOnce(t *testing.T) {
	dir := t.TempDir()
	p0, p1, whole := shardSummaries(t, dir, "counter/unsafe-nosync")
	if len(whole.Failures) == 0 {
		t.Fatal("the campaign found no failures; the test needs some")
	}
	ok := dsim(t, nil, "campaign", "merge", "--json", p0, p1)
	if ok.code != exitFailed {
		t.Fatalf("merge of complete shards with failures: exit %d, want 1: %s", ok.code, ok.stderr)
	}
	dup := filepath.Join(dir, "s0-copy.json")
	b, _ := os.ReadFile(p0)
	if err := os.WriteFile(dup, b, 0o644); err != nil {
		t.Fatal(err)
	}
	r := dsim(t, nil, "campaign", "merge", "--json", p0, p1, dup)
	s := decodeSummary(t, r)
	if r.code != cli.ExitIncomplete || !strings.Contains(strings.Join(s.Problems, ";"), "duplicated") {
		t.Fatalf("merge with a duplicated shard: exit %d, problems %q; want %d and a duplicated-shard problem", r.code, s.Problems, cli.ExitIncomplete)
	}
	if s.Runs != whole.Runs || len(s.Failures) != len(whole.Failures) || s.Passed != whole.Passed {
		t.Fatalf("duplicated shard counted twice: merged runs %d failures %d passed %d, whole %d %d %d",
			s.Runs, len(s.Failures), s.Passed, whole.Runs, len(whole.Failures), whole.Passed)
	}
	r = dsim(t, nil, "campaign", "merge", p0)
	if r.code != cli.ExitIncomplete || !strings.Contains(r.stdout, "missing shards 1/2") {
		t.Fatalf("merge with a missing shard: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A passing campaign with a missing shard is incomplete too (and its
	// summary is still printed).
	q0, _, _ := shardSummaries(t, t.TempDir(), "counter/basic")
	r = dsim(t, nil, "campaign", "merge", q0)
	if r.code != cli.ExitIncomplete || !strings.Contains(r.stdout, "missing shards 1/2") {
		t.Fatalf("merge of a passing campaign with a missing shard: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// editSummary rewrites one real summary through f and returns its path.
func editSummary(t *testing.T, dir, name string, base []byte, f func(m map[string]any)) string {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(base))
	dec.UseNumber() // keep 64-bit counts exact
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func seedRange(m map[string]any) map[string]any {
	return m["seeds"].([]any)[0].(map[string]any)
}

// Case 3 (and 8's shard counts): every count in a summary is bounded and
// checked before merge uses it; a bad one is a one-line error, exit 2.
func TestMergeRejectsBadCounts(t *testing.T) {
	dir := t.TempDir()
	r := dsim(t, nil, "campaign", "counter/unsafe-nosync", "--seeds", "6", "--shard", "1/2", "--json", "--out", filepath.Join(dir, "f"))
	base := []byte(r.stdout)
	decodeSummary(t, r)
	shard := func(i, n float64) func(m map[string]any) {
		return func(m map[string]any) { seedRange(m)["shard"] = map[string]any{"index": i, "count": n} }
	}
	for _, c := range []struct {
		name string
		edit func(m map[string]any)
	}{
		{"huge shard count", shard(0, 100000000)},
		{"zero shard count", shard(0, 0)},
		{"negative shard count", shard(0, -4)},
		{"negative shard index", shard(-1, 2)},
		{"index past count", shard(2, 2)},
		{"more runs than the shard has seeds", func(m map[string]any) {
			seedRange(m)["runs"] = 4.0
			m["runs"], m["passed"] = 4.0, 4.0-float64(len(m["failures"].([]any)))
		}},
		{"runs not passed plus failures", func(m map[string]any) { m["passed"] = 99.0 }},
		{"range runs do not add up", func(m map[string]any) { seedRange(m)["runs"] = 2.0 }},
		{"seed range past 2^64-1", func(m map[string]any) { seedRange(m)["from"] = json.Number("18446744073709551612") }},
		{"failure seed outside the shard", func(m map[string]any) {
			m["failures"].([]any)[0].(map[string]any)["seed"] = 1.0 // shard 1/2 of 1.. runs 2, 4, 6
		}},
		{"failure of a scenario not in the summary", func(m map[string]any) {
			m["failures"].([]any)[0].(map[string]any)["scenario"] = "counter/other"
		}},
		{"negative wall time", func(m map[string]any) { m["wall_ns"] = -1.0 }},
		{"negative workers", func(m map[string]any) { m["workers"] = -1.0 }},
		{"double runs above runs", func(m map[string]any) { m["double_runs"] = 1000.0 }},
		{"shards list outside count", func(m map[string]any) {
			sr := seedRange(m)
			sr["shard"] = map[string]any{"index": -1, "count": 2.0}
			sr["shards"] = []any{1.0, 7.0}
		}},
		{"coverage count above runs", func(m map[string]any) {
			m["coverage"] = map[string]any{"counter/unsafe-nosync": map[string]any{"reached": map[string]any{"x": 1e9}, "unreached": []any{}}}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := editSummary(t, t.TempDir(), "s.json", base, c.edit)
			start := time.Now()
			r := dsim(t, nil, "campaign", "merge", p)
			oneLineExit2(t, r, c.name)
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("%s: merge took %v", c.name, el)
			}
		})
	}
}

// Case 8: counters summed by merge never wrap around silently. Two
// time-bounded shards of 2 can each hold 2^63 runs (seeds 0, 2, ... and
// 1, 3, ... up to 2^64-1), so each summary is valid alone while their sum
// of runs is 2^64.
func TestMergeCountersDoNotOverflow(t *testing.T) {
	dir := t.TempDir()
	r := dsim(t, nil, "campaign", "counter/basic", "--time", "100ms", "--shard", "0/2", "--json")
	base := []byte(r.stdout)
	decodeSummary(t, r)
	big := func(index int) func(m map[string]any) {
		return func(m map[string]any) {
			n := json.Number("9223372036854775808") // 2^63
			m["runs"], m["passed"], m["double_runs"] = n, n, 0
			sr := seedRange(m)
			sr["runs"], sr["from"], sr["shard"] = n, 0, map[string]any{"index": index, "count": 2}
			m["coverage"] = map[string]any{}
		}
	}
	a := editSummary(t, dir, "a.json", base, big(0))
	b := editSummary(t, dir, "b.json", base, big(1))
	for _, p := range []string{a, b} {
		if r := dsim(t, nil, "campaign", "merge", p); r.code == exitUsage {
			t.Fatalf("a valid summary with 2^63 runs was refused: %s", r.stderr)
		}
	}
	r = dsim(t, nil, "campaign", "merge", "--json", a, b)
	oneLineExit2(t, r, "merge whose run count passes 2^64-1")
	if !strings.Contains(r.stderr, "overflow") {
		t.Errorf("overflow not named: %q", r.stderr)
	}
}

// Case 4: --workers is capped by the number of jobs and a sane maximum.
func TestWorkersCapped(t *testing.T) {
	start := time.Now()
	r := dsim(t, nil, "campaign", "counter/basic", "--seeds", "2", "--workers", "10000000", "--json")
	s := decodeSummary(t, r)
	if r.code != exitPass || s.Workers != 2 {
		t.Fatalf("--workers 10000000 --seeds 2: exit %d, workers %d (in %v); want 2", r.code, s.Workers, time.Since(start))
	}
	r = dsim(t, nil, "campaign", "counter/basic", "--time", "300ms", "--workers", "100000", "--json")
	if s = decodeSummary(t, r); s.Workers > 256 {
		t.Fatalf("--workers 100000 --time 300ms: %d workers, want at most 256", s.Workers)
	}
}

// Case 10: an unusable --out is refused before the first seed; --out ” is
// refused; a failure whose file could not be written is counted, said, and
// makes the exit status non-zero ("incomplete").
func TestOutChecked(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	os.WriteFile(file, []byte("x"), 0o644)
	// A passing scenario: before the fix nothing noticed the bad --out.
	oneLineExit2(t, dsim(t, nil, "campaign", "counter/basic", "--seeds", "2", "--out", file), "--out a regular file")
	oneLineExit2(t, dsim(t, nil, "campaign", "counter/basic", "--seeds", "2", "--out", filepath.Join(file, "sub")), "--out under a regular file")
	oneLineExit2(t, dsim(t, nil, "campaign", "counter/unsafe-nosync", "--seeds", "2", "--out", ""), "--out ''")
	oneLineExit2(t, dsim(t, nil, "campaign", "counter/unsafe-nosync", "--seeds", "2", "--out="), "--out=")

	if os.Geteuid() != 0 {
		ro := filepath.Join(dir, "ro")
		os.Mkdir(ro, 0o555)
		oneLineExit2(t, dsim(t, nil, "campaign", "counter/basic", "--seeds", "2", "--out", ro), "--out read-only")
		t.Skip("full-disk cases need root to mount a small tmpfs")
	}
	mnt := func(opts string) string {
		m := t.TempDir()
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", m).CombinedOutput(); err != nil {
			t.Skipf("mount tmpfs: %v %s", err, out)
		}
		t.Cleanup(func() { exec.Command("umount", m).Run() })
		return m
	}
	ro := mnt("size=64k,ro")
	oneLineExit2(t, dsim(t, nil, "campaign", "counter/basic", "--seeds", "2", "--out", ro), "--out on a read-only file system")

	full := mnt("size=64k")
	fill, _ := os.Create(filepath.Join(full, "fill"))
	fill.Write(make([]byte, 1<<20)) // ENOSPC after 64k
	fill.Close()
	oneLineExit2(t, dsim(t, nil, "campaign", "counter/basic", "--seeds", "2", "--out", full), "--out on a full disk")

	// Room for a few failure files only (about 12 KB each).
	small := mnt("size=48k")
	r := dsim(t, nil, "campaign", "counter/unsafe-nosync", "--seeds", "30", "--files-per-checker", "0", "--workers", "1", "--out", small, "--json")
	s := decodeSummary(t, r)
	if r.code != cli.ExitIncomplete {
		t.Fatalf("campaign onto a disk that fills: exit %d, want %d; stderr %q", r.code, cli.ExitIncomplete, r.stderr)
	}
	if s.UnwrittenFiles == 0 || s.UnwrittenFiles+uint64(len(s.FailureFiles)) != uint64(len(s.Failures)) {
		t.Fatalf("unwritten_files %d, files %d, failures %d", s.UnwrittenFiles, len(s.FailureFiles), len(s.Failures))
	}
	want := fmt.Sprintf("%d failure files could not be written", s.UnwrittenFiles)
	if !strings.Contains(r.stderr, want) || strings.Contains(r.stderr, "their files are written") {
		t.Fatalf("stderr does not say %q (or still claims the files are written):\n%s", want, r.stderr)
	}
	r = dsim(t, nil, "campaign", "counter/unsafe-nosync", "--seeds", "30", "--files-per-checker", "0", "--workers", "1", "--out", mnt("size=48k"))
	if !strings.Contains(r.stdout, "could not be written") {
		t.Fatalf("text summary does not report unwritten files:\n%s", r.stdout)
	}
}

// Case 11: hidden temp files left by a SIGKILL are finished (a complete
// failure file is renamed into place) or reported on the next campaign into
// the same directory.
func TestLeftoverTempFilesFinishedOrReported(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "failures")
	s := decodeSummary(t, dsim(t, nil, "campaign", "counter/unsafe-nosync", "--seeds", "1", "--from", "7", "--out", out, "--json"))
	if len(s.FailureFiles) != 1 {
		t.Fatalf("want one failure file, got %v", s.FailureFiles)
	}
	final := s.FailureFiles[0]
	if !filepath.IsAbs(final) {
		t.Fatalf("failure file path %q is not absolute", final)
	}
	body, _ := os.ReadFile(final)
	// As SIGKILL between fsync and rename leaves it: only the temp file.
	tmp := filepath.Join(out, ".tmp-"+filepath.Base(final)+"-123456789")
	partial := filepath.Join(out, ".tmp-counter_unsafe-nosync-seed9-durability.json-55555")
	os.Rename(final, tmp)
	os.WriteFile(partial, body[:len(body)/2], 0o644)
	old := time.Now().Add(-time.Hour)
	os.Chtimes(tmp, old, old)
	os.Chtimes(partial, old, old)

	r := dsim(t, nil, "campaign", "counter/basic", "--seeds", "1", "--out", out, "--json")
	if r.code != exitPass {
		t.Fatalf("campaign: exit %d %s", r.code, r.stderr)
	}
	got, err := os.ReadFile(final)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("complete temp file not renamed into place: %v", err)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Fatalf("temp file still there: %v", err)
	}
	if !strings.Contains(r.stderr, "recovered") || !strings.Contains(r.stderr, filepath.Base(final)) {
		t.Fatalf("recovery not reported on stderr: %q", r.stderr)
	}
	if !strings.Contains(r.stderr, filepath.Base(partial)) || !strings.Contains(r.stderr, "partial") {
		t.Fatalf("partial temp file not reported: %q", r.stderr)
	}
	if sum := decodeSummary(t, r); len(sum.RecoveredFiles) != 1 || sum.RecoveredFiles[0] != final {
		t.Fatalf("summary recovered_files = %v, want [%s]", sum.RecoveredFiles, final)
	}
	if rr := dsim(t, nil, "replay", final); rr.code != exitFailed {
		t.Fatalf("recovered file does not replay: exit %d %s", rr.code, rr.stderr)
	}
}

// Case 14: --max-failures stops dispatching; files per (scenario, checker)
// are bounded unless --files-per-checker 0.
func TestMaxFailuresAndFilesPerChecker(t *testing.T) {
	out := filepath.Join(t.TempDir(), "f")
	r := dsim(t, nil, "campaign", "counter/unsafe-nosync", "--seeds", "500", "--max-failures", "5", "--workers", "2", "--out", out, "--json")
	s := decodeSummary(t, r)
	if r.code != exitFailed {
		t.Fatalf("--max-failures 5: exit %d, want 1; %s", r.code, r.stderr)
	}
	// Seeds running or finished but not yet counted when the 5th failure is
	// (at most two per worker) still finish and count.
	if n := len(s.Failures); n < 5 || n > 5+2*2 || s.Runs >= 500 || s.StoppedAfter != 5 || s.Runs != s.Passed+uint64(n) || s.Seeds[0].Runs != s.Runs {
		t.Fatalf("--max-failures 5: runs %d passed %d failures %d stopped_after %d seeds %+v", s.Runs, s.Passed, n, s.StoppedAfter, s.Seeds)
	}
	if !strings.Contains(r.stderr, "--max-failures") {
		t.Fatalf("stderr does not say why the campaign stopped: %q", r.stderr)
	}

	out = filepath.Join(t.TempDir(), "f")
	r = dsim(t, nil, "campaign", "counter/unsafe-nosync", "--seeds", "30", "--out", out, "--json")
	s = decodeSummary(t, r)
	files, _ := filepath.Glob(filepath.Join(out, "*.json"))
	if r.code != exitFailed || len(s.Failures) < 25 || len(files) != 10 || len(s.FailureFiles) != 10 || s.FilesSkipped != uint64(len(s.Failures)-10) {
		t.Fatalf("default file limit: exit %d, %d failures, %d files on disk, %d listed, %d skipped", r.code, len(s.Failures), len(files), len(s.FailureFiles), s.FilesSkipped)
	}
	out = filepath.Join(t.TempDir(), "f")
	r = dsim(t, nil, "campaign", "counter/unsafe-nosync", "--seeds", "30", "--files-per-checker", "0", "--out", out, "--json")
	s = decodeSummary(t, r)
	files, _ = filepath.Glob(filepath.Join(out, "*.json"))
	if len(files) != len(s.Failures) || s.FilesSkipped != 0 {
		t.Fatalf("--files-per-checker 0: %d failures, %d files", len(s.Failures), len(files))
	}
	oneLineExit2(t, dsim(t, nil, "campaign", "counter/basic", "--max-failures", "-1"), "--max-failures -1")
}

// Case 16: a seed range past 2^64-1 is refused instead of wrapping to 0.
func TestSeedRangePastMaxRefused(t *testing.T) {
	oneLineExit2(t, dsim(t, nil, "campaign", "counter/basic", "--from", "18446744073709551614", "--seeds", "3"), "--from 2^64-2 --seeds 3")
	r := dsim(t, nil, "campaign", "counter/basic", "--from", "18446744073709551614", "--seeds", "2", "--json")
	if s := decodeSummary(t, r); r.code != exitPass || s.Runs != 2 {
		t.Fatalf("--from 2^64-2 --seeds 2 (the last two seeds): exit %d runs %d %s", r.code, s.Runs, r.stderr)
	}
	// A time-bounded campaign stops at the last seed, complete.
	r = dsim(t, nil, "campaign", "counter/basic", "--from", "18446744073709551613", "--time", "2s", "--json")
	if s := decodeSummary(t, r); r.code != exitPass || s.Runs != 3 {
		t.Fatalf("--from 2^64-3 --time 2s: exit %d runs %d %s", r.code, s.Runs, r.stderr)
	}
}

// Case 17: a Slurm array given as a list sets MIN, MAX and COUNT that do
// not describe a range: every task refuses it instead of running a wrong
// shard.
func TestSlurmListArrayRefused(t *testing.T) {
	for _, id := range []string{"0", "2", "5"} {
		env := []string{"SLURM_ARRAY_TASK_ID=" + id, "SLURM_ARRAY_TASK_MIN=0", "SLURM_ARRAY_TASK_MAX=5",
			"SLURM_ARRAY_TASK_STEP=1", "SLURM_ARRAY_TASK_COUNT=3"}
		r := dsim(t, env, "campaign", "counter/basic", "--seeds", "3")
		oneLineExit2(t, r, "--array=0,2,5 task "+id)
		if !strings.Contains(r.stderr, "SLURM_ARRAY_TASK_MAX") {
			t.Errorf("task %s: error does not name SLURM_ARRAY_TASK_MAX: %q", id, r.stderr)
		}
	}
	env := []string{"SLURM_ARRAY_TASK_ID=5", "SLURM_ARRAY_TASK_MIN=1", "SLURM_ARRAY_TASK_MAX=7",
		"SLURM_ARRAY_TASK_STEP=2", "SLURM_ARRAY_TASK_COUNT=4"}
	if r := dsim(t, env, "campaign", "counter/basic", "--seeds", "8"); r.code != exitPass || !strings.Contains(r.stderr, "shard 2/4") {
		t.Fatalf("--array=1-7:2 task 5: exit %d %s", r.code, r.stderr)
	}
}
