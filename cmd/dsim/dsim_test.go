package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/smilingraft/dsim/internal/clitest"
)

// The CLI tests build the binary once and run it as a separate process, the
// way users and CI scripts do.

var dsimBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "dsim-cli-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	dsimBin = filepath.Join(dir, "dsim")
	if out, err := exec.Command("go", "build", "-o", dsimBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

func dsim(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(dsimBin, args...)
	cmd.Dir, cmd.Env = t.TempDir(), clitest.Env(env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	code := clitest.ExitCode(t, cmd.Run())
	return result{code, out.String(), errb.String()}
}

func TestBadInputIsOneLineExit2(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	trunc := write("trunc.json", `{"scenario": "x", "seed": `)
	garbage := write("bin.json", "\x00\xff garbage")
	future := write("future.json", `{"format_version": 99, "scenario": "counter/basic", "seed": 1, "failure": {"checker": "x"}}`)
	unknown := write("unknown.json", `{"format_version": 1, "scenario": "no/such", "seed": 1, "failure": {"checker": "x"}}`)
	missing := filepath.Join(dir, "missing.json")
	for _, c := range []struct {
		env  []string
		args []string
	}{
		{nil, []string{"run", "no/such-scenario", "--seed", "1"}},
		{nil, []string{"run", "counter/basic", "--seed", "abc"}},
		{nil, []string{"run", "counter/basic", "--seed", "-5"}},
		{nil, []string{"run", "counter/basic", "--no-such-flag"}},
		{nil, []string{"run", "counter/basic", "--variant", "no.such.key=1"}},
		{nil, []string{"frobnicate"}},
		{nil, []string{"replay", trunc}},
		{nil, []string{"replay", garbage}},
		{nil, []string{"replay", missing}},
		{nil, []string{"replay", future}},
		{nil, []string{"replay", unknown}},
		{nil, []string{"replay"}},
		{nil, []string{"shrink", trunc}},
		{nil, []string{"shrink", missing}},
		{nil, []string{"campaign", "no/such"}},
		{nil, []string{"campaign", "counter/basic", "--shard", "2/2"}},
		{nil, []string{"campaign", "counter/basic", "--shard", "x"}},
		{nil, []string{"campaign", "counter/basic", "--seeds", "0"}},
		{nil, []string{"campaign", "counter/basic", "--seeds", "5", "--time", "1s"}},
		{nil, []string{"campaign", "counter/basic", "--time", "soon"}},
		{nil, []string{"campaign", "counter/basic", "--variant", "nope=1"}},
		{[]string{"SLURM_ARRAY_TASK_ID=9", "SLURM_ARRAY_TASK_COUNT=4"}, []string{"campaign", "counter/basic", "--seeds", "2"}},
		{[]string{"JOB_COMPLETION_INDEX=1"}, []string{"campaign", "counter/basic", "--seeds", "2"}},
		{[]string{"CI_NODE_INDEX=0", "CI_NODE_TOTAL=2"}, []string{"campaign", "counter/basic", "--seeds", "2"}},
		{nil, []string{"campaign", "merge", missing}},
		{nil, []string{"campaign", "merge", trunc}},
	} {
		r := dsim(t, c.env, c.args...)
		lines := strings.Count(strings.TrimSpace(r.stderr), "\n") + 1
		if r.code != 2 || strings.TrimSpace(r.stderr) == "" || lines != 1 || strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic:") {
			t.Errorf("%v %v: exit %d, stderr %q; want exit 2 and one line", c.env, c.args, r.code, r.stderr)
		}
	}
}

func TestSameHashAcrossProcessesAndGOMAXPROCS(t *testing.T) {
	hash := func(procs string) string {
		r := dsim(t, []string{"GOMAXPROCS=" + procs}, "run", "counter/swarm", "--seed", "7", "--json")
		var out struct {
			TraceHash string `json:"trace_hash"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out.TraceHash == "" {
			t.Fatalf("run --json (GOMAXPROCS=%s): exit %d, %v: %s", procs, r.code, err, r.stderr)
		}
		return out.TraceHash
	}
	if a, b := hash("1"), hash("4"); a != b {
		t.Fatalf("counter/swarm seed 7: trace_hash %s with GOMAXPROCS=1, %s with 4", a, b)
	}
}

type summary struct {
	Runs         uint64            `json:"runs"`
	Failures     []json.RawMessage `json:"failures"`
	FailureFiles []string          `json:"failure_files"`
	Events       uint64            `json:"events"`
	WallNs       int64             `json:"wall_ns"`
	Seeds        []struct {
		Scenario string `json:"scenario"`
		From     uint64 `json:"from"`
		Seeds    uint64 `json:"seeds"`
		Runs     uint64 `json:"runs"`
		Shard    struct{ Index, Count int }
	} `json:"seeds"`
}

func campaignJSON(t *testing.T, env []string, args ...string) (summary, string) {
	t.Helper()
	r := dsim(t, env, append([]string{"campaign", "--json"}, args...)...)
	var s summary
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil || r.code == 2 {
		t.Fatalf("campaign %v: exit %d, %v, stderr %s", args, r.code, err, r.stderr)
	}
	return s, r.stdout
}

func TestShardsUnionIsWholeCampaign(t *testing.T) {
	dir := t.TempDir()
	args := []string{"counter/swarm", "counter/unsafe-nosync", "--seeds", "10", "--from", "3", "--out", dir}
	whole, _ := campaignJSON(t, nil, args...)
	s0, j0 := campaignJSON(t, nil, append(args, "--shard", "0/2")...)
	s1, j1 := campaignJSON(t, []string{"DSIM_SHARD=1/2"}, args...) // from the environment
	if whole.Runs != 20 || s0.Runs+s1.Runs != whole.Runs || s0.Runs != 10 {
		t.Fatalf("runs: whole %d, shards %d + %d", whole.Runs, s0.Runs, s1.Runs)
	}
	if len(s0.Failures)+len(s1.Failures) != len(whole.Failures) || len(whole.Failures) != 10 {
		t.Fatalf("failures: whole %d, shards %d + %d", len(whole.Failures), len(s0.Failures), len(s1.Failures))
	}
	// An explicit --shard beats the environment.
	s1b, _ := campaignJSON(t, []string{"DSIM_SHARD=0/2"}, append(args, "--shard", "1/2")...)
	if !reflect.DeepEqual(s1b.FailureFiles, s1.FailureFiles) {
		t.Fatalf("--shard 1/2 with DSIM_SHARD=0/2 ran %v, want %v", s1b.FailureFiles, s1.FailureFiles)
	}
	p0, p1 := filepath.Join(dir, "s0.json"), filepath.Join(dir, "s1.json")
	os.WriteFile(p0, []byte(j0), 0o644)
	os.WriteFile(p1, []byte(j1), 0o644)
	r := dsim(t, nil, "campaign", "merge", "--json", p0, p1)
	var merged summary
	if err := json.Unmarshal([]byte(r.stdout), &merged); err != nil || r.code != 1 {
		t.Fatalf("merge: exit %d, %v, %s", r.code, err, r.stderr)
	}
	if merged.Runs != whole.Runs || merged.Events != whole.Events || !reflect.DeepEqual(merged.FailureFiles, whole.FailureFiles) ||
		!reflect.DeepEqual(merged.Seeds, whole.Seeds) {
		t.Fatalf("merged shards differ from the whole:\nmerged %+v\nwhole  %+v", merged, whole)
	}
	r = dsim(t, nil, "campaign", "merge", p0)
	if r.code != 3 || !strings.Contains(r.stdout, "missing shards 1/2") { // 3: incomplete
		t.Fatalf("merge of one shard of two: exit %d, stdout %s", r.code, r.stdout)
	}
}

func TestCampaignFindsReplaysAndShrinks(t *testing.T) {
	dir := t.TempDir()
	s, _ := campaignJSON(t, nil, "counter/unsafe-nosync", "--seeds", "1", "--from", "7", "--out", dir)
	if len(s.FailureFiles) != 1 {
		t.Fatalf("campaign on counter/unsafe-nosync seed 7 wrote %v", s.FailureFiles)
	}
	file := s.FailureFiles[0]
	html := filepath.Join(dir, "t.html")
	r := dsim(t, nil, "replay", file, "--html", html)
	if r.code != 1 || !strings.Contains(r.stdout, "REPRODUCED durability") || !strings.Contains(r.stdout, "=>") {
		t.Fatalf("replay: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if b, err := os.ReadFile(html); err != nil || !bytes.Contains(b, []byte("<svg")) {
		t.Fatalf("replay --html: %v", err)
	}
	small := filepath.Join(dir, "small.json")
	r = dsim(t, nil, "shrink", file, "--out", small)
	if r.code != 0 || !strings.Contains(r.stdout, "after:") {
		t.Fatalf("shrink: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var before, after struct {
		Plan    []json.RawMessage `json:"plan"`
		Failure struct{ Checker string }
	}
	b1, _ := os.ReadFile(file)
	b2, _ := os.ReadFile(small)
	json.Unmarshal(b1, &before)
	json.Unmarshal(b2, &after)
	if len(after.Plan) >= len(before.Plan) || after.Failure.Checker != "durability" {
		t.Fatalf("shrink: %d -> %d actions, checker %q", len(before.Plan), len(after.Plan), after.Failure.Checker)
	}
	r = dsim(t, nil, "replay", small)
	if r.code != 1 || !strings.Contains(r.stdout, "REPRODUCED durability") {
		t.Fatalf("replay of the shrunk file: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestCampaignPassesOnSafeScenarios(t *testing.T) {
	r := dsim(t, nil, "campaign", "counter/swarm", "counter/basic", "--seeds", "5", "--check-determinism")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "PASS runs=10") {
		t.Fatalf("campaign: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
