package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/smilingraft/dsim/campaign"
	"github.com/smilingraft/dsim/replay"
	"github.com/smilingraft/dsim/scenarios"
)

// runCrashStates is `dsim run SCENARIO --seed N --crash-states K`: it
// prints one line per crash state (replay.CrashStates), writes a failure
// file for every state that breaks a checker, and fails if any does.
func runCrashStates(s *scenarios.Scenario, v scenarios.Variant, seed uint64, p replay.CrashPoint, outDir string, stdout io.Writer) error {
	rep, err := replay.CrashStates(s, v, seed, p)
	var bad *replay.BadPointError
	if errors.As(err, &bad) {
		return usagef("--crash-states: %v", bad)
	} else if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "crash states of %s seed %d: %s before its first Sync at or after event %d (t=%v)\n", s.Name, seed, rep.Node, p.Event, rep.At)
	if !rep.Fired {
		fmt.Fprintf(stdout, "nothing to enumerate: %s never syncs anything after t=%v in this run\n", rep.Node, rep.At)
		return nil
	}
	var descs []string
	for _, op := range rep.Ops {
		descs = append(descs, op.String())
	}
	fmt.Fprintf(stdout, "the point fires at t=%v with %d unsynced operations: %s\n", rep.FiredAt, len(rep.Ops), strings.Join(descs, "; "))
	fmt.Fprintf(stdout, "%d states, each crashing %s there with that disk and restarting it %v later:\n", len(rep.Runs), rep.Node, p.Down)
	for i, r := range rep.Runs {
		res := r.Result
		verdict := "PASS"
		switch {
		case res.Failure != nil:
			verdict = "FAIL " + campaign.OneLine(res.Failure.Error(), 160)
		case len(res.Undecided) > 0:
			verdict = "UNDECIDED " + campaign.OneLine(strings.Join(res.Undecided, "; "), 160)
		}
		fmt.Fprintf(stdout, "  state %2d/%d  %-36s %s\n", i+1, len(rep.Runs), replay.DescribeState(r.State, rep.Ops), verdict)
		if res.Failure == nil {
			continue
		}
		path, err := replay.FromResult(res, "crash-states").Write(outDir)
		if err != nil {
			return fmt.Errorf("state %d breaks %s but its failure file could not be written: %v", i+1, res.Failure.Checker, err)
		}
		fmt.Fprintf(stdout, "             file: %s  (dsim replay %s; dsim shrink %s)\n", path, path, path)
	}
	if n := len(rep.Broken()); n > 0 {
		fmt.Fprintf(stdout, "FAIL %d of %d crash states break a checker\n", n, len(rep.Runs))
		return errFailed
	}
	fmt.Fprintf(stdout, "PASS all %d crash states\n", len(rep.Runs))
	return nil
}
