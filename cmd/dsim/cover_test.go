package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/smilingraft/dsim/cover"
	"github.com/smilingraft/dsim/internal/clitest"
)

// coverExit2 checks the bad-input contract: exit 2, one line on stderr
// (an instrumented binary run without GOCOVERDIR adds Go's own warning
// line; these tests set it).
func coverExit2(t *testing.T, what string, r result, want string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	if r.code != 2 || len(lines) != 1 || !strings.Contains(lines[0], want) {
		t.Errorf("%s: exit %d, stderr %q; want exit 2 and one line with %q", what, r.code, r.stderr, want)
	}
}

// coverBuild is the instrumented dsim the coverage tests share: built once
// (the build is most of their time), beside dsimBin so that TestMain
// removes it.
var coverBuild struct {
	once     sync.Once
	bin, dir string
	err      error
}

// coverDsim runs dsim built with atomic coverage counters over nodes/ in
// dir, with GOCOVERDIR set (else Go adds a warning line to stderr) and the
// job-engine sharding variables cleared as dsim does; it skips the test when
// the toolchain cannot build such a binary.
func coverDsim(t *testing.T, dir string, args ...string) result {
	t.Helper()
	coverBuild.once.Do(func() {
		coverBuild.dir = filepath.Dir(dsimBin)
		coverBuild.bin = filepath.Join(coverBuild.dir, "dsim-cover")
		build := exec.Command("go", "build", "-cover", "-covermode=atomic",
			"-coverpkg=github.com/smilingraft/dsim/nodes/...,github.com/smilingraft/dsim/cmd/dsim", "-o", coverBuild.bin, ".")
		if out, err := build.CombinedOutput(); err != nil {
			coverBuild.err = fmt.Errorf("%v: %s", err, out)
			return
		}
		coverBuild.err = os.Mkdir(filepath.Join(coverBuild.dir, "gocoverdir"), 0o755)
	})
	if coverBuild.err != nil {
		t.Skipf("this toolchain cannot build an instrumented dsim (go build -cover): %v", coverBuild.err)
	}
	cmd := exec.Command(coverBuild.bin, args...)
	cmd.Dir = dir
	cmd.Env = clitest.Env("GOCOVERDIR=" + filepath.Join(coverBuild.dir, "gocoverdir"))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	code := clitest.ExitCode(t, cmd.Run())
	return result{code, out.String(), errb.String()}
}

func TestCoverNeedsInstrumentedBinary(t *testing.T) {
	r := dsim(t, nil, "campaign", "kvsrv/*", "--seeds", "1", "--cover", t.TempDir())
	coverExit2(t, "campaign --cover on a plain binary", r, "go build -cover -covermode=atomic -coverpkg=")
}

// TestCoverShardsMergeLikeUnsharded builds dsim with coverage counters
// over nodes/, runs campaign --cover unsharded and as shards 0/2 and 1/2,
// merges the shards and compares: the same coverage, block by block and
// scenario by scenario, and the same reports.
func TestCoverShardsMergeLikeUnsharded(t *testing.T) {
	tmp := t.TempDir()
	run := func(args ...string) result {
		t.Helper()
		return coverDsim(t, tmp, args...)
	}
	campaign := func(name, shard string) {
		t.Helper()
		args := []string{"campaign", "kvsrv/*", "--seeds", "5", "--out", "failures", "--cover", name, "--json"}
		if shard != "" {
			args = append(args, "--shard", shard)
		}
		r := run(args...)
		if r.code != 0 {
			t.Fatalf("campaign --cover %s: exit %d: %s", name, r.code, r.stderr)
		}
		if err := os.WriteFile(filepath.Join(tmp, name+".json"), []byte(r.stdout), 0o644); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(r.stderr, "nodes/kv ") || !strings.Contains(r.stderr, "% of statements") {
			t.Errorf("campaign --cover --json prints no per-package figures on stderr: %s", r.stderr)
		}
	}
	campaign("all", "")
	campaign("s0", "0/2")
	campaign("s1", "1/2")

	if r := run("campaign", "merge", "s0.json", "s1.json", "s0", "s1", "--cover", "merged"); r.code != 0 {
		t.Fatalf("merge: exit %d: %s%s", r.code, r.stdout, r.stderr)
	} else if !strings.Contains(r.stdout, "coverage of 25 runs in merged") {
		t.Errorf("merge prints no coverage figures: %s", r.stdout)
	}
	read := func(dir string) *cover.Data {
		d, err := cover.ReadData(filepath.Join(tmp, dir))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	all, merged := read("all"), read("merged")
	if all.Runs() != 25 || merged.Runs() != 25 {
		t.Errorf("runs: unsharded %d, merged %d; want 25", all.Runs(), merged.Runs())
	}
	if !reflect.DeepEqual(all.Scenarios, merged.Scenarios) || !reflect.DeepEqual(all.Outside, merged.Outside) || all.Table.Hash != merged.Table.Hash {
		t.Errorf("merged shards' coverage differs from the unsharded campaign's")
	}
	if got := all.Covered().Len(); got < 50 {
		t.Errorf("only %d blocks covered by kvsrv/*", got)
	}
	for _, f := range []string{"report.txt", "attribution.txt", "coverage.out"} {
		a, _ := os.ReadFile(filepath.Join(tmp, "all", f))
		m, _ := os.ReadFile(filepath.Join(tmp, "merged", f))
		if len(a) == 0 || !bytes.Equal(a, m) {
			t.Errorf("%s: merged (%d bytes) differs from unsharded (%d bytes)", f, len(m), len(a))
		}
	}

	// dsim cover: never-executed blocks of one package with their source.
	r := run("cover", "all", "--pkg", "nodes/kv", "--src", ".")
	if r.code != 0 || !strings.Contains(r.stdout, "blocks never executed") || !strings.Contains(r.stdout, "nodes/kv/") {
		t.Errorf("dsim cover: exit %d: %.400s%s", r.code, r.stdout, r.stderr)
	}
	cmdDir, _ := os.Getwd()
	r = run("cover", "all", "--pkg", "nodes/kv", "--src", cmdDir)
	if !strings.Contains(r.stdout, "\tfunc ") && !strings.Contains(r.stdout, "\tif ") {
		t.Errorf("dsim cover --src prints no source lines: %.600s", r.stdout)
	}

	if r := run("cover", "merged", "--scenarios"); r.code != 0 || !strings.Contains(r.stdout, "kvsrv/swarm") || !strings.Contains(r.stdout, "new-block seeds, last at seed") {
		t.Errorf("dsim cover --scenarios: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}

	// Bad input: one line, exit 2.
	if err := os.WriteFile(filepath.Join(tmp, "bad.dsimcov"), []byte(`{"format": 1, "table": {"hash": "x", "blocks": [{}]}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	coverExit2(t, "cover of a missing directory", run("cover", "nosuch"), "nosuch")
	coverExit2(t, "cover of a malformed file", run("cover", "bad.dsimcov"), "not dsim coverage data")
	coverExit2(t, "cover --pkg matching nothing", run("cover", "all", "--pkg", "nosuch"), "matches none")
	coverExit2(t, "merge with one shard's coverage", run("campaign", "merge", "s0.json", "s1.json", "s0", "--cover", "m2"), "runs, the summaries 25")
	coverExit2(t, "merge of one shard's coverage twice", run("campaign", "merge", "s0.json", "s1.json", "s0", "s0", "--cover", "m3"), "given twice")
	coverExit2(t, "merge --cover without coverage", run("campaign", "merge", "s0.json", "s1.json", "--cover", "m4"), "no coverage to merge")
}
