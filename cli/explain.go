package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/smilingraft/dsim/replay"
)

func init() {
	register(command{"explain", "find the window of events where a failure file's run became doomed", cmdExplain})
}

func cmdExplain(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	forks := fs.Int("forks", replay.DefaultForks, "continuations forked from each sampled event (M)")
	points := fs.Int("points", replay.DefaultPoints, "event indexes sampled evenly up to the failure (K)")
	refine := fs.Int("refine", replay.DefaultRefine, "extra points bisecting the window")
	budget := fs.Duration("budget", 45*time.Second, "wall time aimed at (forks and points are cut to fit)")
	workers := fs.Int("workers", 0, "parallel runs (default: one per core)")
	htmlPath := fs.String("html", "", "also write the HTML page of the run with the curve drawn on it")
	asJSON := fs.Bool("json", false, "print the explanation as JSON")
	limit := fs.Duration("watchdog", 60*time.Second, "wall-clock limit of each run")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) != 1:
		return usagef("want exactly one failure FILE")
	case *forks < 1 || *forks > 10_000:
		return usagef("--forks %d out of range 1..10000", *forks)
	case *points < 2 || *points > 10_000:
		return usagef("--points %d out of range 2..10000", *points)
	case *refine < 0 || *refine > 64:
		return usagef("--refine %d out of range 0..64", *refine)
	case *budget <= 0:
		return usagef("--budget %v: want a positive duration", *budget)
	case *workers < 0 || *workers > 256:
		return usagef("--workers %d out of range 0..256", *workers)
	}
	f, err := readFailure(pos[0])
	if err != nil {
		return err
	}
	if err := checkOutFile("html", *htmlPath); err != nil { // before minutes of runs
		return err
	}
	if *refine == 0 {
		*refine = -1 // none
	}
	ctx, release := catchInterrupts()
	defer release()
	var x *replay.Explanation
	if !untilInterrupted(ctx, func() {
		x, err = replay.Explain(f, replay.ExplainOptions{Forks: *forks, Points: *points, Refine: *refine,
			Budget: *budget, Workers: *workers, Limit: *limit})
	}) {
		return interrupted(ctx, "explain stopped before its answer")
	}
	if err != nil {
		return err
	}
	if *asJSON {
		b, err := json.MarshalIndent(x, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		x.Print(stdout, 60)
	}
	if *htmlPath != "" {
		var rec *replay.Recording
		if !untilInterrupted(ctx, func() { rec, err = replay.Record(f, replay.RecordOptions{Limit: *limit}) }) {
			return interrupted(ctx, "explain stopped before its page was drawn; no page written")
		}
		if err != nil {
			return err
		}
		po := replay.PageOptions{Explain: x, Porcupine: replay.PorcupineHref(pos[0], *htmlPath, rec.Outcome.Result.Artifacts)}
		if err := replay.WriteAtomic(*htmlPath, func(w io.Writer) error { return rec.WriteHTML(w, po) }); err != nil {
			return incompleteError{[]string{fmt.Sprintf("--html: %v", err)}}
		}
		if !*asJSON {
			fmt.Fprintf(stdout, "html timeline: %s\n", *htmlPath)
		}
	}
	return nil
}
