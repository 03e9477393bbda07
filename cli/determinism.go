package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/smilingraft/dsim/replay"
)

// replayDivergence replays a determinism failure (two runs of one seed
// that differed in a campaign's double run): it runs the file's run twice
// and reports REPRODUCED (exit 1) when they still differ, with the first
// differing trace event of each run.
// A first signal stops it before anything is printed (exit 3).
func replayDivergence(ctx context.Context, f *replay.File, path string, limit time.Duration, stdout io.Writer) error {
	var d *replay.Divergence
	var err error
	if !untilInterrupted(ctx, func() { d, err = replay.DivergeFile(f, limit) }) {
		return interrupted(ctx, "replay stopped before the two runs ended; nothing written")
	}
	if err != nil {
		return usagef("%v", err)
	}
	fmt.Fprintf(stdout, "replay %s seed %d", f.Scenario, f.Seed)
	if f.Variant != "" {
		fmt.Fprintf(stdout, " variant %s", replay.Escape(f.Variant))
	}
	fmt.Fprintf(stdout, " (%d plan actions), twice: a determinism failure\n", len(f.Plan))
	if !d.Differ {
		fmt.Fprintf(stdout, "DIFFERENT from the file: %s\n", d.Message(f.Seed))
		fmt.Fprintf(stdout, "  the file recorded: %s\n", replay.Escape(f.Failure.Message))
		if r := d.Runs[0]; r.Failure != nil {
			fmt.Fprintf(stdout, "replay failure: %s\n", replay.Escape(r.Failure.Error()))
			return errFailed
		}
		return nil
	}
	fmt.Fprintf(stdout, "REPRODUCED %s: %s\n", replay.DivergenceChecker, d.Message(f.Seed))
	if d.Line > 0 {
		fmt.Fprintf(stdout, "first differing trace line %d:\n", d.Line)
		for i, e := range d.Events {
			line := "(trace ended)"
			if e != nil {
				line = replay.FormatEvent(*e) + " h=" + replay.Escape(e.Hash)
			}
			fmt.Fprintf(stdout, "  run %d: %s\n", i+1, line)
		}
	}
	fmt.Fprintf(stdout, "shrink it (the two runs must keep differing): dsim shrink %s\n", replay.Escape(path))
	return errFailed
}
