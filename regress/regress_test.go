package regress_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smilingraft/dsim/campaign/proptest"
	"github.com/smilingraft/dsim/replay"
	_ "github.com/smilingraft/dsim/scenarios/all"
	"github.com/smilingraft/dsim/sim"
)

// corpus is the repository's regression corpus, relative to this package.
const corpus = "../testdata/failures"

// files returns the corpus's failure files and whether each is a fixed bug.
func files(t *testing.T) (unsafe, fixed []string) {
	t.Helper()
	paths, err := proptest.CorpusFiles(corpus)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		if filepath.Base(filepath.Dir(p)) == "fixed" {
			fixed = append(fixed, p)
		} else {
			unsafe = append(unsafe, p)
		}
	}
	if len(unsafe) == 0 || len(fixed) == 0 {
		t.Fatalf("corpus %s: %d unsafe-scenario files, %d fixed-bug files; want some of each", corpus, len(unsafe), len(fixed))
	}
	return unsafe, fixed
}

func replayFile(t *testing.T, path string) (*replay.File, *replay.Outcome) {
	t.Helper()
	f, err := replay.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	out, err := replay.Replay(f, replay.Options{Limit: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return f, out
}

// Every unsafe scenario's shrunk failure still fails with the same checker:
// the checkers have not gone blind.
func TestUnsafeFailuresReproduce(t *testing.T) {
	unsafe, _ := files(t)
	for _, path := range unsafe {
		f, out := replayFile(t, path)
		name := filepath.Base(path)
		got := out.Result.Failure
		switch {
		case got == nil:
			t.Errorf("%s: the run passed; the file recorded %s (a checker went blind, or the plan no longer reaches the bug: regenerate the file, see testdata/failures/README.md)", name, f.Failure.Error())
		case got.Checker != f.Failure.Checker:
			t.Errorf("%s: failed with %s, the file recorded %s", name, got.Error(), f.Failure.Error())
		case !out.Same:
			t.Logf("%s: same checker, other details: %s", name, strings.Join(out.Diffs, "; "))
		}
	}
}

// Every bug dsim found in its own systems and that was fixed since stays
// fixed: its failure file now passes.
func TestFixedFailuresPass(t *testing.T) {
	_, fixed := files(t)
	for _, path := range fixed {
		f, out := replayFile(t, path)
		if got := out.Result.Failure; got != nil {
			t.Errorf("%s: a fixed bug is back: %s (the file recorded %s)", filepath.Base(path), got.Error(), f.Failure.Error())
		}
		if len(out.Result.Undecided) > 0 {
			t.Errorf("%s: undecided: %v", filepath.Base(path), out.Result.Undecided)
		}
	}
}

// The corpus covers every unsafe scenario dsim registers.
func TestEveryUnsafeScenarioHasAFile(t *testing.T) {
	unsafe, _ := files(t)
	have := map[string]bool{}
	for _, path := range unsafe {
		f, err := replay.Read(path)
		if err != nil {
			t.Fatal(err)
		}
		have[f.Scenario] = true
	}
	for _, s := range allUnsafe() {
		if !have[s] {
			t.Errorf("unsafe scenario %s has no failure file in %s", s, corpus)
		}
	}
}

// every fault kind, so that a file is a fuzz input of its scenario whenever
// its run can be one (variant, fault phase and faults permitting).
var everyKind = append(append([]string{}, proptest.AllKinds...), sim.ActWipe, sim.ActCorrupt)

// A corpus file that seeds a fuzz target runs exactly the file's run: same
// trace hash and outcome as its replay. Files that cannot seed one are
// listed with the reason.
func TestFuzzSeedsRunTheFilesRun(t *testing.T) {
	unsafe, fixed := files(t)
	seeded := 0
	for _, path := range append(unsafe, fixed...) {
		f, out := replayFile(t, path)
		inputs, skipped, err := proptest.Seeds(filepath.Dir(path), f.Scenario, everyKind)
		if err != nil {
			t.Fatal(err)
		}
		for _, why := range skipped {
			if strings.HasPrefix(why, filepath.Base(path)+":") {
				t.Logf("not a fuzz seed: %s", why)
			}
		}
		want := string(proptest.EncodePlan(f.Seed, f.Plan))
		for _, in := range inputs {
			if string(in) != want {
				continue
			}
			res, err := proptest.RunBytes(f.Scenario, everyKind, in)
			if err != nil {
				t.Fatal(err)
			}
			if res.TraceHash != out.Result.TraceHash || (res.Failure == nil) != (out.Result.Failure == nil) {
				t.Errorf("%s: as a fuzz input it ran hash %s failure %v; its replay ran hash %s failure %v",
					filepath.Base(path), res.TraceHash, res.Failure, out.Result.TraceHash, out.Result.Failure)
			}
			seeded++
		}
	}
	t.Logf("%d corpus files are fuzz seeds", seeded)
	if seeded == 0 {
		t.Error("no corpus file seeds a fuzz target")
	}
}
