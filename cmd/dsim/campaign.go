package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/smilingraft/dsim/campaign"
	"github.com/smilingraft/dsim/scenarios"
)

func init() {
	register(command{"campaign", "run many seeds of many scenarios (campaign merge: combine shard summaries)", cmdCampaign})
}

// stderr is where progress and failure lines go; tests may replace it.
var stderr io.Writer = os.Stderr

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func cmdCampaign(args []string, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "merge" {
		return cmdMerge(args[1:], stdout)
	}
	fs := flag.NewFlagSet("campaign", flag.ContinueOnError)
	seedsStr := fs.String("seeds", "100", "seeds per scenario over all shards")
	dur := fs.String("time", "", "run until this much wall time has passed (e.g. 10m) instead of --seeds")
	fromStr := fs.String("from", "1", "first seed")
	workers := fs.Int("workers", 0, "worlds run at once (0: one per core)")
	shardStr := fs.String("shard", "", "run shard I/N of the seeds (default: from DSIM_SHARD, Kubernetes, Slurm or GitLab variables)")
	out := fs.String("out", "failures", "directory for failure files")
	variant := fs.String("variant", "", "protocol options k=v[,k=v] for every scenario")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	checkDet := fs.Bool("check-determinism", false, "run every seed twice and fail it on any trace hash difference")
	doubleEvery := fs.Uint64("double-every", 64, "without --check-determinism, run one seed in N twice")
	watchdog := fs.Duration("watchdog", 60*time.Second, "wall-clock limit per seed; a seed over it is a 'hang' failure")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["seeds"] && set["time"] {
		return usagef("give --seeds or --time, not both")
	}
	o := campaign.Options{Out: *out, CheckDeterminism: *checkDet, DoubleRunEvery: *doubleEvery, Watchdog: *watchdog}
	if *doubleEvery == 0 {
		return usagef("--double-every must be at least 1")
	}
	if *watchdog <= 0 {
		return usagef("--watchdog must be positive")
	}
	if set["time"] {
		d, err := time.ParseDuration(*dur)
		if err != nil || d <= 0 {
			return usagef("bad --time %q: want a positive duration like 30s or 10m", *dur)
		}
		o.Time = d
	} else {
		n, err := strconv.ParseUint(*seedsStr, 10, 64)
		if err != nil || n == 0 {
			return usagef("bad --seeds %q: want a positive integer", *seedsStr)
		}
		o.Seeds = n
	}
	if o.From, err = parseSeed(*fromStr); err != nil {
		return usagef("bad --from %q: want a non-negative integer", *fromStr)
	}
	if *workers < 0 {
		return usagef("--workers must be non-negative")
	}
	o.Workers = *workers
	if o.Scenarios, err = scenarios.Match(pos); err != nil {
		return usagef("%v", err)
	}
	if len(o.Scenarios) == 0 {
		return usagef("no scenario to run")
	}
	if o.Variant, err = scenarios.ParseVariant(*variant); err != nil {
		return usagef("%v", err)
	}
	for _, s := range o.Scenarios {
		if err := s.Validate(o.Variant); err != nil {
			return usagef("%v", err)
		}
	}
	o.Shard = campaign.All
	if *shardStr != "" {
		if o.Shard, err = campaign.ParseShard(*shardStr); err != nil {
			return usagef("%v", err)
		}
	} else if sh, src, ok, err := campaign.ShardFromEnv(os.Getenv); err != nil {
		return usagef("%v", err)
	} else if ok {
		o.Shard = sh
		fmt.Fprintf(stderr, "dsim campaign: shard %s from %s\n", sh, src)
	}

	tty := isTerminal(stderr)
	o.ProgressEvery = time.Second
	if !tty {
		o.ProgressEvery = 10 * time.Second
	}
	o.Progress = func(p campaign.Progress) {
		line := fmt.Sprintf("campaign: %d runs", p.Runs)
		if p.Total > 0 {
			line = fmt.Sprintf("campaign: %d/%d runs", p.Runs, p.Total)
		}
		line += fmt.Sprintf(", %d failures, %.0f seeds/s, %s elapsed", p.Failures, p.SeedsPerS, p.Elapsed.Round(time.Second))
		if p.Remaining > 0 && !p.Done {
			line += fmt.Sprintf(", ETA %s", p.Remaining.Round(time.Second))
		}
		switch {
		case tty && p.Done:
			fmt.Fprintf(stderr, "\r\033[K%s\n", line)
		case tty:
			fmt.Fprintf(stderr, "\r\033[K%s", line)
		case !p.Done:
			fmt.Fprintln(stderr, line)
		}
	}
	failures := 0
	o.OnFailure = func(f campaign.Failure) {
		if failures++; failures > 20 {
			if failures == 21 {
				fmt.Fprintln(stderr, "dsim campaign: more failures; their files are written, the summary lists them")
			}
			return
		}
		prefix := ""
		if tty {
			prefix = "\r\033[K"
		}
		fmt.Fprintf(stderr, "%sFAIL %s seed %d %s: %s", prefix, f.Scenario, f.Seed, f.Checker, oneLine(f.Message, 200))
		if f.File != "" {
			fmt.Fprintf(stderr, " -> %s", f.File)
		}
		fmt.Fprintln(stderr)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	sum := campaign.Run(ctx, o)
	stop()
	if *asJSON {
		if err := writeJSON(stdout, sum); err != nil {
			return err
		}
	} else {
		printSummary(stdout, sum, o)
	}
	if len(sum.Failures) > 0 {
		return errFailed
	}
	return nil
}

func oneLine(s string, max int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

func printSummary(w io.Writer, s *campaign.Summary, o campaign.Options) {
	status := "PASS"
	if len(s.Failures) > 0 {
		status = "FAIL"
	}
	if s.Interrupted {
		status += " (interrupted: summary so far)"
	}
	fmt.Fprintf(w, "%s runs=%d passed=%d failures=%d events=%d wall=%.2fs (%.0f seeds/s, %d workers, %d double-runs)\n",
		status, s.Runs, s.Passed, len(s.Failures), s.Events, float64(s.WallNs)/1e9, s.SeedsPerS, s.Workers, s.DoubleRuns)
	for _, r := range s.Seeds {
		fmt.Fprintf(w, "  %-32s seeds from %d", r.Scenario, r.From)
		if r.Seeds > 0 {
			fmt.Fprintf(w, " count %d", r.Seeds)
		}
		fmt.Fprintf(w, " shard %s: %d runs\n", r.Shard, r.Runs)
	}
	const maxListed = 20
	for i, f := range s.Failures {
		if i == maxListed {
			fmt.Fprintf(w, "... and %d more failures (--json lists them all)\n", len(s.Failures)-maxListed)
			break
		}
		fmt.Fprintf(w, "FAIL %s seed %d %s: %s\n", f.Scenario, f.Seed, f.Checker, oneLine(f.Message, 200))
		if f.File != "" {
			fmt.Fprintf(w, "     file: %s  (dsim replay %s; dsim shrink %s)\n", f.File, f.File, f.File)
		}
	}
	names := make([]string, 0, len(s.Coverage))
	for n := range s.Coverage {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := s.Coverage[n]
		if len(c.Reached) == 0 && len(c.Unreached) == 0 {
			continue
		}
		facts := make([]string, 0, len(c.Reached))
		for k, v := range c.Reached {
			facts = append(facts, fmt.Sprintf("%s (%d)", k, v))
		}
		sort.Strings(facts)
		fmt.Fprintf(w, "coverage %s: reached %s", n, strings.Join(facts, ", "))
		if len(c.Unreached) > 0 {
			fmt.Fprintf(w, "; never reached: %s", strings.Join(c.Unreached, ", "))
		}
		fmt.Fprintln(w)
	}
	for _, p := range s.Problems {
		fmt.Fprintf(w, "PROBLEM %s\n", p)
	}
}

func cmdMerge(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("campaign merge", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the merged summary as JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("merge wants summary files (campaign --json output) or a directory of them")
	}
	parts, _, err := campaign.ReadSummaries(pos)
	if err != nil {
		return usagef("%v", err)
	}
	sum := campaign.Merge(parts)
	if *asJSON {
		if err := writeJSON(stdout, sum); err != nil {
			return err
		}
	} else {
		printSummary(stdout, sum, campaign.Options{})
	}
	if len(sum.Failures) > 0 {
		return errFailed
	}
	if len(sum.Problems) > 0 {
		return usagef("incomplete merge: %s", strings.Join(sum.Problems, "; "))
	}
	return nil
}
