package etcdsim

import (
	"path/filepath"
	"testing"

	"github.com/smilingraft/dsim/replay"
)

// TestKnownFindingsStillFail replays every known finding in etcd raft
// (testdata/findings, described in FINDINGS.md) from its shrunk plan: each
// must still fail with the checker it recorded on this etcd raft version.
// If one passes, either the library fixed it (confirm against FINDINGS.md,
// then move the file to testdata/findings/fixed) or a checker went blind.
func TestKnownFindingsStillFail(t *testing.T) {
	paths, err := filepath.Glob("../testdata/findings/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no known findings in ../testdata/findings")
	}
	for _, path := range paths {
		f, err := replay.Read(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out, err := replay.Replay(f, replay.Options{})
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		got := out.Result.Failure
		switch {
		case got == nil:
			t.Errorf("%s: passed; recorded %s (fixed upstream, or a checker went blind)", filepath.Base(path), f.Failure.Error())
		case got.Checker != f.Failure.Checker:
			t.Errorf("%s: failed with %s, recorded %s", filepath.Base(path), got.Error(), f.Failure.Error())
		default:
			t.Logf("%s: still fails: %s", filepath.Base(path), got.Error())
		}
	}
}
