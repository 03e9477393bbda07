package scenarios_test

import (
	"errors"
	"testing"

	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// verdictScenario's one checker returns err and attaches an artifact.
func verdictScenario(err error) *scenarios.Scenario {
	return &scenarios.Scenario{Name: "test/verdict", Duration: sim.Second,
		Setup: func(c *scenarios.Cluster) error {
			c.Check("probe", func() error {
				c.Artifact("probe.txt", []byte("picture"))
				return err
			})
			return nil
		}}
}

// An undecided checker (porcupine's timeout) leaves the run neither passed
// nor failed; an ordinary error fails it; artifacts reach the result.
func TestUndecidedIsNotAPass(t *testing.T) {
	cases := []struct {
		name        string
		err         error
		passed      bool
		failure     bool
		undecidedBy string
	}{
		{"pass", nil, true, false, ""},
		{"fail", errors.New("broken"), false, true, ""},
		{"undecided", &scenarios.Undecided{Reason: "timed out"}, false, false, "probe: timed out"},
		{"wrapped undecided", errors.Join(&scenarios.Undecided{Reason: "timed out"}), false, false, "probe: timed out"},
	}
	for _, tc := range cases {
		res := scenarios.Run(verdictScenario(tc.err), nil, 1, scenarios.Config{})
		if res.Passed != tc.passed || (res.Failure != nil) != tc.failure {
			t.Errorf("%s: passed=%v failure=%v, want passed=%v failure=%v", tc.name, res.Passed, res.Failure, tc.passed, tc.failure)
		}
		got := ""
		if len(res.Undecided) > 0 {
			got = res.Undecided[0]
		}
		if got != tc.undecidedBy {
			t.Errorf("%s: undecided %q, want %q", tc.name, got, tc.undecidedBy)
		}
		if string(res.Artifacts["probe.txt"]) != "picture" {
			t.Errorf("%s: artifact missing: %v", tc.name, res.Artifacts)
		}
	}
}

// A scripted scenario that stops the world when its script ends still has
// its offline checks run (they used to be skipped, silently passing).
func TestChecksRunAfterScriptStops(t *testing.T) {
	s := &scenarios.Scenario{Name: "test/stops", Duration: 10 * sim.Second,
		Setup: func(c *scenarios.Cluster) error {
			c.W.After(sim.Second, c.W.Stop)
			c.Check("after-stop", func() error { return errors.New("caught") })
			return nil
		}}
	res := scenarios.Run(s, nil, 1, scenarios.Config{})
	if res.Failure == nil || res.Failure.Checker != "after-stop" {
		t.Fatalf("failure %v, want the after-stop check's", res.Failure)
	}
}
