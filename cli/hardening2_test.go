package cli

// Issue 25, "Hardening, round two", items 1-11: every command as careful as
// campaign. Each test reproduces one defect the way a user or a job engine
// meets it, mostly through the built binary (signals, full disks, exit
// statuses are process-level behaviour).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smilingraft/dsim/internal/clitest"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// dsimBinary builds ./cmd/dsim once per test binary (into a directory the
// first caller's test owns no longer than the package run: os.MkdirTemp,
// removed by TestMain).
func dsimBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "dsim-cli-h25-")
		if err != nil {
			binErr = err
			return
		}
		binDir = dir
		binPath = filepath.Join(dir, "dsim")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/smilingraft/dsim/cmd/dsim").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

var binDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

type proc struct {
	code           int
	stdout, stderr string
}

// runBin runs the binary in dir (a temp dir when empty) with stdout to
// out (a buffer when nil), killing it after limit.
func runBin(t *testing.T, dir string, out *os.File, limit time.Duration, args ...string) proc {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	cmd := exec.Command(dsimBinary(t), args...)
	cmd.Dir, cmd.Env = dir, clitest.Env()
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if out != nil {
		cmd.Stdout = out
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(limit, func() { cmd.Process.Kill() })
	defer timer.Stop()
	code := clitest.ExitCode(t, cmd.Wait())
	return proc{code, o.String(), e.String()}
}

func wantOneLine(t *testing.T, what string, p proc, code int, mention string) {
	t.Helper()
	msg := strings.TrimSpace(p.stderr)
	if p.code != code || msg == "" || strings.Contains(msg, "\n") || strings.Contains(msg, "goroutine ") ||
		(mention != "" && !strings.Contains(msg, mention)) {
		t.Errorf("%s: exit %d, stderr %q (stdout %.300q); want exit %d and one line mentioning %q", what, p.code, p.stderr, p.stdout, code, mention)
	}
}

// slowVariant makes one run of a KV scenario take seconds (1 ms
// heartbeats, 64 clients), long enough to interrupt.
const slowVariant = "raft.heartbeat_ms=1,raft.election_min_ms=5,raft.election_max_ms=6,kv.clients=64"

// kvFailure writes the failure file of kv/unsafe-lease seed 1 (a
// linearizability failure, 60 ms a run; 1 s with kv.clients=8) with a
// campaign.
func kvFailure(t *testing.T, variant string) string {
	t.Helper()
	dir := t.TempDir()
	if p := runBin(t, dir, nil, time.Minute, "campaign", "kv/unsafe-lease", "--seeds", "1", "--variant", variant, "--out", "f"); p.code != 1 {
		t.Fatalf("campaign: exit %d %s", p.code, p.stderr)
	}
	m, _ := filepath.Glob(filepath.Join(dir, "f", "*.json"))
	if len(m) != 1 {
		t.Fatalf("failure files %v", m)
	}
	return m[0]
}

// slowFailure is kvFailure's file with its variant made slow: replaying or
// explaining it takes seconds.
func slowFailure(t *testing.T) string { return slowed(t, kvFailure(t, "")) }

// slowed copies the failure file kv with its variant made slow.
func slowed(t *testing.T, kv string) string {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile(kv)
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]any
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	f["variant"] = slowVariant
	b, _ = json.Marshal(f)
	p := filepath.Join(dir, "slow.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Item 1: compare's --plot, --bench-out and --metric and explain's --html
// are checked before the first seed (before: after every run, so a typo
// cost the whole comparison).
func TestItem1TargetsCheckedBeforeTheRuns(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	long := []string{"compare", "kv/many-partitions-many-clients", "--variant", "", "--variant", "raft.prevote=true", "--seeds", "100000"}
	for _, c := range []struct {
		args    []string
		mention string
	}{
		{[]string{"--plot", filepath.Join(file, "plots")}, "--plot"},
		{[]string{"--bench-out", filepath.Join(file, "bench")}, "--bench-out"},
		{[]string{"--metric", "no_such_metric"}, "no_such_metric"},
	} {
		start := time.Now()
		p := runBin(t, dir, nil, 20*time.Second, append(append([]string{}, long...), c.args...)...)
		wantOneLine(t, strings.Join(c.args, " "), p, ExitUsage, c.mention)
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%v refused after %v: checked after the runs", c.args, d)
		}
	}
	slow := slowFailure(t)
	start := time.Now()
	p := runBin(t, dir, nil, 20*time.Second, "explain", slow, "--html", filepath.Join(dir, "no-such-dir", "x.html"))
	wantOneLine(t, "explain --html into a missing directory", p, ExitUsage, "--html")
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("explain --html refused after %v: checked after the runs", d)
	}
}

// limitedBin runs the binary with a file size limit of kb KiB (RLIMIT_FSIZE:
// a write past it fails with EFBIG, as on a full disk; Go ignores
// SIGXFSZ).
func limitedBin(t *testing.T, dir string, kb int, args ...string) proc {
	t.Helper()
	sh := append([]string{"bash", "-c", fmt.Sprintf(`ulimit -f %d && exec "$@"`, kb), "_", dsimBinary(t)}, args...)
	cmd := exec.Command(sh[0], sh[1:]...)
	cmd.Dir, cmd.Env = dir, clitest.Env()
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	code := clitest.ExitCode(t, cmd.Run())
	return proc{code, o.String(), e.String()}
}

// noFileUnder fails if anything but the allowed names is in dir: no
// truncated output, no temp file.
func noFileUnder(t *testing.T, what, dir string, allowed ...string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		ok := false
		for _, a := range allowed {
			ok = ok || e.Name() == a
		}
		if !ok {
			st, _ := e.Info()
			t.Errorf("%s: %s left in %s (%d bytes)", what, e.Name(), dir, st.Size())
		}
	}
}

// Item 2: a write that fails leaves nothing under the requested name
// (before: a truncated PNG, SVG, benchmark file, page or trace).
func TestItem2OutputsAtomicOnFailedWrite(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash for ulimit")
	}
	dir := t.TempDir()
	quick := figure8Failure(t) // no artifact beside it to write

	out := filepath.Join(dir, "out")
	for _, c := range []struct {
		what string
		args []string
	}{
		{"compare --plot", []string{"compare", "counter/basic", "--variant", "", "--variant", "counter.clients=3", "--seeds", "20", "--plot", out}},
		{"compare --bench-out", []string{"compare", "counter/basic", "--variant", "", "--variant", "counter.clients=3", "--seeds", "300", "--bench-out", out}},
		{"replay --html", []string{"replay", quick, "--html", filepath.Join(out, "x.html")}},
		{"replay --perfetto", []string{"replay", quick, "--perfetto", filepath.Join(out, "x.json")}},
		{"replay --shiviz", []string{"replay", quick, "--shiviz", filepath.Join(out, "x.log")}},
		{"run --trace", []string{"run", "counter/basic", "--seed", "1", "--trace", filepath.Join(out, "t.jsonl")}},
	} {
		os.RemoveAll(out)
		os.MkdirAll(out, 0o755)
		p := limitedBin(t, dir, 4, c.args...)
		if p.code == ExitPass {
			t.Errorf("%s past the file size limit: exit 0", c.what)
		}
		noFileUnder(t, c.what, out)
	}
}

// startBin starts the binary (through sh when ignoreINT, with SIGINT
// ignored as in a background job of a non-interactive shell).
func startBin(t *testing.T, dir string, ignoreINT bool, args ...string) (*exec.Cmd, *clitest.Buffer, *clitest.Buffer) {
	t.Helper()
	cmd := exec.Command(dsimBinary(t), args...)
	if ignoreINT {
		cmd = exec.Command("sh", append([]string{"-c", `trap "" INT; exec "$@"`, "_", dsimBinary(t)}, args...)...)
	}
	cmd.Dir, cmd.Env = dir, clitest.Env()
	var o, e clitest.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &o, &e
}

// waitFor polls until buf holds s.
func waitFor(t *testing.T, buf *clitest.Buffer, s string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(buf.String(), s); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%q never appeared: %q", s, buf.String())
		}
	}
}

// Item 3: every long command stops cleanly at the first SIGINT or SIGTERM,
// prints what it has and exits 3 (before: killed with 130/143 and nothing,
// or SIGINT ignored by a background compare).
func TestItem3SignalsStopEveryLongCommand(t *testing.T) {
	kv := kvFailure(t, "")
	slow := slowed(t, kv)
	compareArgs := []string{"compare", "kv/many-partitions-many-clients", "--variant", "", "--variant", "raft.prevote=true", "--seeds", "5000", "--workers", "1"}
	for _, c := range []struct {
		name      string
		args      []string
		sig       syscall.Signal
		ignoreINT bool
		stdout    string // what it has, on stdout
		ready     string // signal once stdout holds this (default: after a moment)
	}{
		{"compare", compareArgs, syscall.SIGINT, false, "seeds", ""},
		{"compare-background", compareArgs, syscall.SIGINT, true, "seeds", ""},
		{"compare-term", compareArgs, syscall.SIGTERM, false, "seeds", ""},
		{"run", []string{"run", "kv/many-partitions-many-clients", "--variant", slowVariant}, syscall.SIGINT, false, "", ""},
		{"replay", []string{"replay", slow}, syscall.SIGINT, false, "", ""},
		// -v: signalled after its first accepted reduction.
		{"shrink", []string{"shrink", kv, "-v", "--out", "small.json"}, syscall.SIGTERM, false, "wrote small.json", "shrink:"},
		// explain of the reproducing file: ~150 forked runs, seconds of
		// work (a slowed variant no longer reproduces, and since kvcheck's
		// witness check it passes before a signal can land).
		{"explain", []string{"explain", kv, "--forks", "64"}, syscall.SIGINT, false, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			cmd, o, e := startBin(t, dir, c.ignoreINT, c.args...)
			if c.ready != "" {
				waitFor(t, o, c.ready)
			} else {
				time.Sleep(700 * time.Millisecond) // the handler is in place well before
			}
			cmd.Process.Signal(c.sig)
			timer := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
			code := clitest.ExitCode(t, cmd.Wait())
			timer.Stop()
			if code != ExitIncomplete || !strings.Contains(e.String(), "interrupted") {
				t.Fatalf("after %v: exit %d, stderr %q; want %d and a line saying interrupted", c.sig, code, e.String(), ExitIncomplete)
			}
			if !strings.Contains(o.String(), c.stdout) {
				t.Errorf("after %v: stdout %q lacks %q", c.sig, o.String(), c.stdout)
			}
			if c.name == "shrink" {
				if p := runBin(t, dir, nil, time.Minute, "replay", "small.json", "--watchdog", "1ms"); p.code == ExitUsage {
					t.Errorf("the interrupted shrink's file is not a failure file: %s", p.stderr)
				}
			}
		})
	}
}

// summaryJSON runs a small campaign in this process and returns its
// summary as a map.
func summaryJSON(t *testing.T, args ...string) map[string]any {
	t.Helper()
	code, out, errs := run(t, append([]string{"campaign", "--json", "--out", t.TempDir()}, args...)...)
	if code > 1 {
		t.Fatalf("campaign: exit %d %s", code, errs)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func writeSummary(t *testing.T, dir, name string, m map[string]any) string {
	t.Helper()
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

// Item 4: merge prints a summary's text escaped: no terminal escape
// sequence from a hostile summary reaches the terminal.
func TestItem4MergeEscapesSummaryText(t *testing.T) {
	m := summaryJSON(t, "counter/unsafe-nosync", "--seeds", "2", "--shard", "0/1")
	esc := "\x1b]0;owned\x07\x1b[31m"
	fails := m["failures"].([]any)
	if len(fails) == 0 {
		t.Fatal("no failure to make hostile")
	}
	f := fails[0].(map[string]any)
	f["checker"] = "c" + esc
	f["message"] = "m" + esc
	f["file"] = "x" + esc + ".json"
	f["repro"] = "r" + esc
	cov := m["coverage"].(map[string]any)["counter/unsafe-nosync"].(map[string]any)
	cov["declared"] = []any{"fact" + esc}
	met := m["metrics"].(map[string]any)["counter/unsafe-nosync"].(map[string]any)
	for k, v := range met {
		met["metric"+esc] = v
		delete(met, k)
		break
	}
	m["problems"] = []any{"problem" + esc}
	p := writeSummary(t, t.TempDir(), "s.json", m)
	code, out, errs := run(t, "campaign", "merge", p, "--coverage", "--metrics")
	if strings.ContainsRune(out+errs, 0x1b) || strings.ContainsRune(out+errs, 0x07) {
		t.Fatalf("merge printed raw escape sequences (exit %d):\n%q\n%q", code, out, errs)
	}
	if !strings.Contains(out, `\x1b`) {
		t.Fatalf("merge output does not show the escaped text:\n%s", out)
	}
}

// Item 5: a report lost on stdout (a full disk) is exit 3 with one line on
// stderr (before: exit 0 or 1, nothing said).
func TestItem5StdoutWriteErrorIsIncomplete(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip("no /dev/full")
	}
	defer full.Close()
	dir := t.TempDir()
	quick := figure8Failure(t)
	sum := writeSummary(t, dir, "s.json", summaryJSON(t, "counter/basic", "--seeds", "2", "--shard", "0/1"))
	for _, args := range [][]string{
		{"list"},
		{"run", "counter/basic"},
		{"run", "counter/unsafe-nosync", "--out", filepath.Join(dir, "f")},
		{"campaign", "counter/basic", "--seeds", "2", "--out", filepath.Join(dir, "f")},
		{"campaign", "merge", sum},
		{"replay", quick},
		{"explain", quick, "--forks", "2", "--points", "3"},
	} {
		p := runBin(t, dir, full, time.Minute, args...)
		wantOneLine(t, strings.Join(args, " ")+" >/dev/full", p, ExitIncomplete, "stdout")
	}
}

// Item 6: summaries carry dsim's version and their format version; merge
// refuses summaries of different builds (exit 2) and still reads old ones
// without either.
func TestItem6SummaryVersions(t *testing.T) {
	dir := t.TempDir()
	a := summaryJSON(t, "counter/basic", "--seeds", "4", "--shard", "0/2")
	b := summaryJSON(t, "counter/basic", "--seeds", "4", "--shard", "1/2")
	if a["dsim_version"] == nil || a["format_version"] == nil {
		t.Fatalf("summary without dsim_version or format_version: %v %v", a["dsim_version"], a["format_version"])
	}
	pa := writeSummary(t, dir, "a.json", a)
	b["dsim_version"] = "0.0.1-other"
	pb := writeSummary(t, dir, "b.json", b)
	code, _, errs := run(t, "campaign", "merge", pa, pb)
	if code != ExitUsage || !strings.Contains(errs, "0.0.1-other") || strings.Count(strings.TrimSpace(errs), "\n") > 0 {
		t.Errorf("merge of two builds: exit %d, stderr %q; want 2 naming the versions", code, errs)
	}
	b["dsim_version"] = a["dsim_version"]
	b["format_version"] = 99
	pb = writeSummary(t, dir, "b.json", b)
	if code, _, errs := run(t, "campaign", "merge", pa, pb); code != ExitUsage {
		t.Errorf("merge with a newer format: exit %d, stderr %q; want 2", code, errs)
	}
	for _, m := range []map[string]any{a, b} {
		delete(m, "dsim_version")
		delete(m, "format_version")
	}
	pa, pb = writeSummary(t, dir, "a.json", a), writeSummary(t, dir, "b.json", b)
	code, out, errs := run(t, "campaign", "merge", pa, pb, "--json")
	if code != ExitPass {
		t.Fatalf("merge of old summaries: exit %d %s", code, errs)
	}
	var m map[string]any
	json.Unmarshal([]byte(out), &m)
	if m["runs"].(float64) != 4 {
		t.Fatalf("merge of old summaries: runs %v", m["runs"])
	}
}

// Item 7: --break 0 and --crash-states 0 are refused; run --break K past
// the end says so (before: "off", and PASS with nothing said).
func TestItem7BreakZeroAndPastTheEnd(t *testing.T) {
	for _, args := range [][]string{
		{"run", "counter/basic", "--break", "0"},
		{"run", "counter/basic", "--crash-states", "0"},
	} {
		code, out, errs := run(t, args...)
		if code != ExitUsage || !strings.Contains(errs, "0") {
			t.Errorf("%v: exit %d, stderr %q (stdout %.200q); want 2", args, code, errs, out)
		}
	}
	file := figure8Failure(t)
	if code, _, errs := run(t, "replay", file, "--break", "0"); code != ExitUsage {
		t.Errorf("replay --break 0: exit %d, %q; want 2", code, errs)
	}
	code, out, errs := run(t, "run", "counter/basic", "--break", "999999999")
	if code != ExitUsage || !strings.Contains(out+errs, "999999999") || strings.Contains(out, "PASS") {
		t.Errorf("run --break past the end: exit %d, stdout %q, stderr %q; want 2 and a line saying event 999999999 was never reached", code, out, errs)
	}
}

// Item 8: merge text names merged shards as people would ("shards 0-1/3",
// not "shard -1/3"); a complete summary merged with its own shard names
// that shard and counts it once (before: "duplicated shards 0/1 (x2)", and
// with the other shard: 9 runs of 6 seeds).
func TestItem8MergeShardNames(t *testing.T) {
	dir := t.TempDir()
	var p [3]string
	for i := range p {
		p[i] = writeSummary(t, dir, fmt.Sprintf("s%d.json", i), summaryJSON(t, "counter/basic", "--seeds", "6", "--shard", fmt.Sprintf("%d/3", i)))
	}
	code, out, _ := run(t, "campaign", "merge", p[0], p[1])
	if code != ExitIncomplete || strings.Contains(out, "shard -1/") || !strings.Contains(out, "shards 0-1/3") {
		t.Errorf("partial merge: exit %d\n%s\nwant 'shards 0-1/3' and no 'shard -1/3'", code, out)
	}
	code, whole, errs := run(t, "campaign", "merge", p[0], p[1], p[2], "--json")
	if code != ExitPass {
		t.Fatalf("whole merge: exit %d %s", code, errs)
	}
	pw := filepath.Join(dir, "whole.json")
	os.WriteFile(pw, []byte(whole), 0o644)
	for _, i := range []int{0, 1} {
		code, out, _ := run(t, "campaign", "merge", pw, p[i])
		if strings.Contains(out, "0/1 (x2)") || !strings.Contains(out, fmt.Sprintf("%d/3", i)) || !strings.Contains(out, "runs=6 ") {
			t.Errorf("whole + shard %d/3: exit %d\n%s\nwant shard %d/3 named, counted once (runs=6)", i, code, out, i)
		}
	}
}

// Item 9: compare exits 1 when runs fail a property (before: 0).
func TestItem9CompareFailuresExit1(t *testing.T) {
	code, out, errs := run(t, "compare", "counter/unsafe-nosync", "--variant", "", "--variant", "counter.clients=3", "--seeds", "4")
	if code != ExitFailed {
		t.Fatalf("compare of failing runs: exit %d; want 1\n%s%s", code, out, errs)
	}
	if code, out, errs := run(t, "compare", "counter/basic", "--variant", "", "--variant", "counter.clients=3", "--seeds", "4"); code != ExitPass {
		t.Fatalf("compare of passing runs: exit %d\n%s%s", code, out, errs)
	}
}

// Item 10: examples/etcdraft's README keeps exit statuses 2 and 3 apart
// (a built binary, not 'go run', which maps every failure to 1) and no
// longer mentions the dsimcli build tag.
func TestItem10EtcdraftReadme(t *testing.T) {
	for _, name := range []string{"README.md", "main.go"} {
		b, err := os.ReadFile(filepath.Join("..", "examples", "etcdraft", name))
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		if strings.Contains(s, "dsimcli") {
			t.Errorf("%s still mentions the dsimcli build tag", name)
		}
		if strings.Contains(s, "go run .") {
			t.Errorf("%s runs the CLI with 'go run .', which turns exit statuses 2 and 3 into 1", name)
		}
		if !strings.Contains(s, "go build -o etcdsim-cli .") {
			t.Errorf("%s does not say to build the binary (go build -o etcdsim-cli .)", name)
		}
	}
}

// Item 11: a failing 'dsim run' writes the failure file (and porcupine's
// picture for a KV run) and prints the replay line, as a campaign does.
func TestItem11RunWritesFailureFile(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "f")
	code, stdout, errs := run(t, "run", "kv/unsafe-lease", "--seed", "1", "--out", out)
	if code != ExitFailed {
		t.Fatalf("run: exit %d %s", code, errs)
	}
	files, _ := filepath.Glob(filepath.Join(out, "*.json"))
	pics, _ := filepath.Glob(filepath.Join(out, "*.porcupine.html"))
	if len(files) != 1 || len(pics) != 1 {
		t.Fatalf("run wrote failure files %v and pictures %v; want one of each\n%s", files, pics, stdout)
	}
	if !strings.Contains(stdout, "dsim replay "+files[0]) {
		t.Errorf("no replay line for %s in\n%s", files[0], stdout)
	}
	if code, rout, errs := run(t, "replay", files[0]); code != ExitFailed || !strings.Contains(rout, "REPRODUCED") {
		t.Errorf("replay of run's file: exit %d\n%s%s", code, rout, errs)
	}
	// --json names the file too; a passing run writes nothing.
	code, js, _ := run(t, "run", "counter/unsafe-nosync", "--seed", "1", "--out", out, "--json")
	var r struct {
		File string `json:"failure_file"`
	}
	if json.Unmarshal([]byte(js), &r); code != ExitFailed || r.File == "" {
		t.Errorf("run --json: exit %d, failure_file %q", code, r.File)
	}
	pass := filepath.Join(dir, "pass")
	if code, _, _ := run(t, "run", "counter/basic", "--out", pass); code != ExitPass {
		t.Errorf("passing run: exit %d", code)
	}
	if _, err := os.Stat(pass); err == nil {
		t.Errorf("a passing run created %s", pass)
	}
}

// Item 3, continued: a second signal does not wait for the clean stop; it
// kills at once with 128+signal, as the default action would.
func TestItem3SecondSignalKills(t *testing.T) {
	dir := t.TempDir()
	cmd, o, e := startBin(t, dir, false, "shrink", kvFailure(t, ""), "-v", "--out", "small.json")
	waitFor(t, o, "shrink:")
	cmd.Process.Signal(syscall.SIGTERM) // shrink finishes its run in progress...
	waitFor(t, e, "a second signal kills")
	cmd.Process.Signal(syscall.SIGTERM) // ...unless told twice
	timer := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	if code := clitest.ExitCode(t, cmd.Wait()); code != 128+int(syscall.SIGTERM) {
		t.Fatalf("after two SIGTERMs: exit %d, stderr %q; want %d", code, e.String(), 128+int(syscall.SIGTERM))
	}
}
