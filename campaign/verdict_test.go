package campaign

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// verdictScenario's checker is undecided on odd seeds and fails with an
// artifact on seeds divisible by 4.
var verdictScenario = &scenarios.Scenario{Name: "test/verdicts", Duration: sim.Second,
	Setup: func(c *scenarios.Cluster) error {
		c.Check("probe", func() error {
			switch {
			case c.Seed%2 == 1:
				return &scenarios.Undecided{Reason: "timed out"}
			case c.Seed%4 == 0:
				c.Artifact("picture.html", []byte("<html>bad</html>"))
				return errors.New("bad history")
			}
			return nil
		})
		return nil
	}}

// An undecided run is neither passed nor failed and makes the campaign
// incomplete; a failure's artifacts are written beside its file.
func TestUndecidedRunsAndArtifacts(t *testing.T) {
	dir := t.TempDir()
	sum := Run(context.Background(), Options{Scenarios: []*scenarios.Scenario{verdictScenario}, Seeds: 8, From: 1,
		Workers: 2, Out: dir, DoubleRunEvery: 1 << 40, FilesPerChecker: -1})
	if sum.Runs != 8 || sum.Passed != 2 || len(sum.Failures) != 2 || len(sum.Undecided) != 4 {
		t.Fatalf("runs=%d passed=%d failures=%d undecided=%v, want 8/2/2/4", sum.Runs, sum.Passed, len(sum.Failures), sum.Undecided)
	}
	if why := strings.Join(sum.Incomplete(), "; "); !strings.Contains(why, "4 checks reached no verdict") {
		t.Errorf("incomplete reasons %q do not count the undecided runs", why)
	}
	for _, f := range sum.Failures {
		if len(f.Artifacts) != 1 {
			t.Fatalf("seed %d: artifacts %v, want one", f.Seed, f.Artifacts)
		}
		b, err := os.ReadFile(f.Artifacts[0])
		if err != nil || string(b) != "<html>bad</html>" || !strings.HasSuffix(f.Artifacts[0], ".picture.html") {
			t.Errorf("seed %d: artifact %s: %q %v", f.Seed, f.Artifacts[0], b, err)
		}
	}
	merged, err := Merge([]*Summary{sum})
	if err != nil {
		t.Fatalf("merge: %v", err)
	}
	if len(merged.Undecided) != 4 {
		t.Errorf("merge kept %d undecided, want 4", len(merged.Undecided))
	}
}
