package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/smilingraft/dsim/replay"
)

func init() {
	register(command{"replay", "re-run a failure file exactly and show the timeline around the failure", cmdReplay})
}

// maxWindow bounds replay --window: more than this is a job for --trace.
const maxWindow = 100_000

func readFailure(path string) (*replay.File, error) {
	f, err := replay.Read(path)
	if err != nil {
		if errors.Is(err, replay.ErrBadFile) {
			return nil, usagef("%v", err)
		}
		return nil, err
	}
	return f, nil
}

func cmdReplay(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	all := fs.Bool("trace", false, "print the whole trace, not just the window before the failure")
	window := fs.Int("window", 40, fmt.Sprintf("trace events to show before the failure (1..%d; --trace shows them all)", maxWindow))
	htmlPath := fs.String("html", "", "write a self-contained HTML timeline to FILE")
	limit := fs.Duration("watchdog", 60*time.Second, "wall-clock limit of the run")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want exactly one failure FILE")
	}
	if *window < 1 || *window > maxWindow {
		return usagef("--window %d out of range 1..%d (use --trace for the whole trace)", *window, maxWindow)
	}
	f, err := readFailure(pos[0])
	if err != nil {
		return err
	}
	o := replay.Options{Window: *window, Limit: *limit}
	if *all {
		o.Window = 1
		o.Trace = stdout
		fmt.Fprintf(stdout, "# full trace of %s seed %d\n", f.Scenario, f.Seed)
	}
	if *htmlPath != "" {
		o.Keep, o.KeepLimit = true, 5000
	}
	out, err := replay.Replay(f, o)
	if err != nil {
		return usagef("%v", err)
	}
	res := out.Result
	fmt.Fprintf(stdout, "replay %s seed %d", f.Scenario, f.Seed)
	if f.Variant != "" {
		fmt.Fprintf(stdout, " variant %s", replay.Escape(f.Variant))
	}
	fmt.Fprintf(stdout, " (%d plan actions)\n", len(f.Plan))
	if !*all {
		fmt.Fprintf(stdout, "timeline (last %d events):\n", len(out.Window))
		replay.PrintTimeline(stdout, out.Window, res.Failure)
	}
	if *htmlPath != "" {
		h, err := os.Create(*htmlPath)
		if err != nil {
			return usagef("html: %v", err)
		}
		err = replay.HTML(h, f, out.Kept, res.Failure)
		if cerr := h.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("html: %w", err)
		}
		fmt.Fprintf(stdout, "html timeline: %s\n", *htmlPath)
	}
	if len(res.Artifacts) > 0 {
		arts, err := replay.WriteArtifacts(pos[0], res.Artifacts)
		for _, a := range arts {
			fmt.Fprintf(stdout, "artifact: %s\n", a)
		}
		if err != nil {
			return fmt.Errorf("artifacts: %w", err)
		}
	}
	if out.Same {
		fmt.Fprintf(stdout, "REPRODUCED %s at event %d (vtime %v), trace hash %s\n", replay.Escape(res.Failure.Checker), res.Failure.Event, res.Failure.VTime, res.TraceHash)
		fmt.Fprintf(stdout, "failure: %s\n", replay.Escape(res.Failure.Error()))
		return errFailed
	}
	fmt.Fprintf(stdout, "DIFFERENT from the file:\n")
	for _, d := range out.Diffs {
		fmt.Fprintf(stdout, "  %s\n", d)
	}
	if out.FirstDiff != "" {
		fmt.Fprintf(stdout, "%s\n", out.FirstDiff)
	} else if len(f.TraceTail) == 0 {
		fmt.Fprintf(stdout, "(the file stored no trace tail; compare the timeline above with 'dsim run %s --seed %d --trace FILE')\n", f.Scenario, f.Seed)
	}
	if res.Failure == nil {
		return nil // the run passes now: nothing failed
	}
	fmt.Fprintf(stdout, "replay failure: %s\n", replay.Escape(res.Failure.Error()))
	return errFailed
}
