package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/smilingraft/dsim/replay"
	"github.com/smilingraft/dsim/scenarios"
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
	htmlPath := fs.String("html", "", "write a self-contained HTML page of the run (lanes, messages, faults, roles) to FILE")
	perfetto := fs.String("perfetto", "", "write the run as Chrome trace event JSON (Perfetto, chrome://tracing) to FILE")
	shiviz := fs.String("shiviz", "", "write the run as a ShiViz log (vector clocks) to FILE")
	maxEvents := fs.Int("max-events", replay.DefaultMaxEvents, "with --html/--perfetto/--shiviz: trace events kept, the latest before the failure")
	explain := fs.Bool("explain", false, "with --html: run 'dsim explain' (default budget) and draw its curve on the page")
	breakAt := fs.Uint64("break", 0, "stop after event K and print every node's state")
	limit := fs.Duration("watchdog", 60*time.Second, "wall-clock limit of the run")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want exactly one failure FILE")
	}
	if isSet(fs, "break") && *breakAt == 0 {
		return usagef("--break 0: events count from 1; give the event to stop after")
	}
	if *window < 1 || *window > maxWindow {
		return usagef("--window %d out of range 1..%d (use --trace for the whole trace)", *window, maxWindow)
	}
	if *maxEvents < 1 || *maxEvents > 10_000_000 {
		return usagef("--max-events %d out of range 1..10000000", *maxEvents)
	}
	if *explain && *htmlPath == "" {
		return usagef("--explain draws on the HTML page: give --html FILE too")
	}
	if *breakAt > 0 && (*htmlPath != "" || *perfetto != "" || *shiviz != "" || *all) {
		return usagef("--break stops the run: it does not combine with --trace, --html, --perfetto or --shiviz")
	}
	f, err := readFailure(pos[0])
	if err != nil {
		return err
	}
	for _, t := range [][2]string{{"html", *htmlPath}, {"perfetto", *perfetto}, {"shiviz", *shiviz}} {
		if err := checkOutFile(t[0], t[1]); err != nil { // before the run
			return err
		}
	}
	ctx, release := catchInterrupts()
	defer release()
	stopped := func() error { return interrupted(ctx, "replay stopped before the run ended; nothing written") }
	if f.Failure.Checker == replay.DivergenceChecker {
		if *breakAt > 0 || *all || *htmlPath != "" || *perfetto != "" || *shiviz != "" {
			return usagef("a determinism failure replays as two runs of its seed: --break, --trace, --html, --perfetto and --shiviz do not apply")
		}
		return replayDivergence(ctx, f, pos[0], *limit, stdout)
	}
	if *breakAt > 0 {
		if !untilInterrupted(ctx, func() { err = replayBreak(f, *breakAt, *window, *limit, stdout) }) {
			return stopped()
		}
		return err
	}
	var out *replay.Outcome
	var rec *replay.Recording
	if *htmlPath != "" || *perfetto != "" || *shiviz != "" {
		if *all {
			return usagef("--trace prints the trace: it does not combine with --html, --perfetto or --shiviz")
		}
		if !untilInterrupted(ctx, func() {
			rec, err = replay.Record(f, replay.RecordOptions{MaxEvents: *maxEvents, Window: *window, Limit: *limit})
		}) {
			return stopped()
		}
		if err != nil {
			return usagef("%v", err)
		}
		out = rec.Outcome
	} else {
		o := replay.Options{Window: *window, Limit: *limit}
		if *all {
			o.Window = 1
			o.Trace = stdout
			fmt.Fprintf(stdout, "# full trace of %s seed %d\n", f.Scenario, f.Seed)
		}
		if !untilInterrupted(ctx, func() { out, err = replay.Replay(f, o) }) {
			return stopped()
		}
		if err != nil {
			return usagef("%v", err)
		}
	}
	release()
	res := out.Result
	fmt.Fprintf(stdout, "replay %s seed %d", f.Scenario, f.Seed)
	if f.Variant != "" {
		fmt.Fprintf(stdout, " variant %s", replay.Escape(f.Variant))
	}
	fmt.Fprintf(stdout, " (%d plan actions)\n", len(f.Plan))
	if !*all {
		fmt.Fprintf(stdout, "timeline (last %d events):\n", len(out.Window))
		replay.PrintTimeline(stdout, out.Window, res.Failure)
		printMoment(stdout, res.Failure, out.MomentWindow, "dsim replay "+pos[0])
	}
	var arts []string
	if len(res.Artifacts) > 0 {
		arts, err = replay.WriteArtifacts(pos[0], res.Artifacts)
		for _, a := range arts {
			fmt.Fprintf(stdout, "artifact: %s\n", a)
		}
		if err != nil {
			return fmt.Errorf("artifacts: %w", err)
		}
	}
	if rec != nil {
		if err := writeExports(rec, pos[0], *htmlPath, *perfetto, *shiviz, *explain, res, stdout); err != nil {
			return err
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

// writeExports writes the HTML page and the Perfetto and ShiViz files of a
// recorded replay.
func writeExports(rec *replay.Recording, failurePath, htmlPath, perfetto, shiviz string, explain bool, res *scenarios.Result, stdout io.Writer) error {
	if rec.Through > 0 && len(rec.Events) > 0 {
		fmt.Fprintf(stdout, "note: the trace is longer than --max-events; the exports hold events %d..%d, up to shortly after the failure's moment\n", rec.Events[0].Index, rec.Events[len(rec.Events)-1].Index)
	} else if rec.Capped {
		fmt.Fprintf(stdout, "note: the trace is longer than --max-events; the exports hold its last %d events (from event %d)\n", len(rec.Events), rec.Events[0].Index)
	}
	write := func(path, what string, fn func(io.Writer) error) error {
		// Atomically: a failed write leaves nothing under the name.
		if err := replay.WriteAtomic(path, fn); err != nil {
			return incompleteError{[]string{fmt.Sprintf("--%s: %v", what, err)}}
		}
		return nil
	}
	if htmlPath != "" {
		po := replay.PageOptions{Porcupine: replay.PorcupineHref(failurePath, htmlPath, res.Artifacts)}
		if explain {
			x, err := replay.Explain(rec.File, replay.ExplainOptions{})
			if err != nil {
				return err
			}
			po.Explain = x
			fmt.Fprintf(stdout, "explain: %s\n", x.Summary())
		}
		if err := write(htmlPath, "html", func(w io.Writer) error { return rec.WriteHTML(w, po) }); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "html timeline: %s\n", htmlPath)
	}
	if perfetto != "" {
		if err := write(perfetto, "perfetto", rec.WritePerfetto); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "perfetto trace: %s (open in ui.perfetto.dev or chrome://tracing)\n", perfetto)
	}
	if shiviz != "" {
		if err := write(shiviz, "shiviz", rec.WriteShiViz); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "shiviz log: %s\n", shiviz)
	}
	return nil
}

// replayBreak replays the file up to event k and prints every node's state
// there, as 'dsim run --break' does for a seed.
func replayBreak(f *replay.File, k uint64, window int, limit time.Duration, stdout io.Writer) error {
	s, v, cfg, err := f.Config()
	if err != nil {
		return usagef("%v", err)
	}
	cfg.BreakAt = k
	t := replay.NewTail(window)
	cfg.Trace = t.Writer()
	res := replay.RunLimited(s, v, f.Seed, cfg, limit)
	fmt.Fprintf(stdout, "replay %s seed %d to event %d\n", f.Scenario, f.Seed, k)
	fmt.Fprintf(stdout, "timeline (last %d events):\n", len(t.Events()))
	replay.PrintTimeline(stdout, t.Events(), res.Failure)
	if res.Failure != nil {
		fmt.Fprintf(stdout, "the run failed before event %d: %s\n", k, replay.Escape(res.Failure.Error()))
		return errFailed
	}
	if res.Inspect == nil {
		fmt.Fprintf(stdout, "the run ended after %d events, before event %d\n", res.Events, k)
		return usagef("--break %d is past the run's last event %d", k, res.Events)
	}
	b, err := json.MarshalIndent(res.Inspect, "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "STOPPED after event %d (vtime %v); state of every node:\n%s\n", res.Events, res.VTime, b)
	momentNote(stdout, f.Failure, k)
	return nil
}
