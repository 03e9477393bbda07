package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/smilingraft/dsim/replay"
)

func init() {
	register(command{"shrink", "make a failure file smaller while the same checker still fails", cmdShrink})
}

func cmdShrink(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("shrink", flag.ContinueOnError)
	outPath := fs.String("out", "", "write the smaller failure file here (default: FILE with .min.json)")
	maxRuns := fs.Int("max-runs", 400, "bound on candidate runs")
	limit := fs.Duration("watchdog", 60*time.Second, "wall-clock limit per run")
	verbose := fs.Bool("v", false, "print each accepted reduction")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want exactly one failure FILE")
	}
	dst := *outPath
	if dst == "" {
		dst = strings.TrimSuffix(pos[0], ".json") + ".min.json"
	}
	if err := replay.CheckTarget(dst); err != nil { // before minutes of shrinking
		return usagef("--out: %v", err)
	}
	f, err := readFailure(pos[0])
	if err != nil {
		return err
	}
	ctx, release := catchInterrupts()
	defer release()
	o := replay.ShrinkOptions{MaxRuns: *maxRuns, Limit: *limit, Stop: ctx.Done()}
	if *verbose {
		o.Log = func(format string, args ...any) { fmt.Fprintf(stdout, format+"\n", args...) }
	}
	small, rep, err := replay.Shrink(f, o)
	release()
	if errors.Is(err, replay.ErrShrinkStopped) {
		return interrupted(ctx, "shrink stopped before the failure was reproduced; nothing written")
	} else if err != nil {
		return usagef("%v", err)
	}
	small.Repro = "dsim replay " + dst
	if _, err := small.WriteAs(dst); err != nil {
		return usagef("%v", err)
	}
	b, a := rep.Before, rep.After
	fmt.Fprintf(stdout, "shrunk %s seed %d (%s) in %d runs\n", f.Scenario, f.Seed, replay.Escape(f.Failure.Checker), rep.Runs)
	fmt.Fprintf(stdout, "  before: actions=%d events=%d fault-phase=%v variant=%q\n", b.Actions, b.Events, b.Duration, b.Variant)
	fmt.Fprintf(stdout, "  after:  actions=%d events=%d fault-phase=%v variant=%q\n", a.Actions, a.Events, a.Duration, a.Variant)
	fmt.Fprintf(stdout, "  failure: %s\n", replay.Escape(small.Failure.Error()))
	fmt.Fprintf(stdout, "wrote %s (replay: dsim replay %s)\n", dst, dst)
	if rep.Stopped {
		return interrupted(ctx, fmt.Sprintf("shrink stopped after %d runs; %s holds the smallest failing case found so far", rep.Runs, dst))
	}
	return nil
}
