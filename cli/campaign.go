package cli

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/smilingraft/dsim/campaign"
	"github.com/smilingraft/dsim/replay"
	"github.com/smilingraft/dsim/scenarios"
)

func init() {
	register(command{"campaign", "run many seeds of many scenarios (campaign merge: combine shard summaries)", cmdCampaign})
}

// Exit statuses of every command (the CLI contract scripts and CI rely on).
const (
	ExitPass   = 0 // complete, every property held
	ExitFailed = 1 // a property failed (failures listed, files written)
	ExitUsage  = 2 // bad usage or bad input: one line on stderr
	// ExitIncomplete: a run reached no verdict (a checker undecided), or a
	// campaign or merge summary does not cover the whole campaign:
	// interrupted (Ctrl-C, SIGTERM), failure files that could not be
	// written, missing, duplicated or interrupted shards. It wins over 1:
	// CI must not read a partial result as the whole one, failures or not.
	ExitIncomplete = 3
)

// incompleteError carries ExitIncomplete's one-line reason.
type incompleteError struct{ why []string }

func (e incompleteError) Error() string { return "incomplete: " + strings.Join(e.why, "; ") }

// ExitCode makes mainExit exit with ExitIncomplete after the one-line reason.
func (e incompleteError) ExitCode() int { return ExitIncomplete }

// stderr is where commands write progress and failure lines: Run points it
// at its stderr for the command's duration.
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
	if len(args) > 0 && args[0] == "trend" {
		return cmdTrend(args[1:], stdout)
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
	coverage := fs.Bool("coverage", false, "print every scenario's coverage facts (default: only declared facts never reached)")
	metrics := fs.Bool("metrics", false, "print every scenario's metrics as a table (runs, mean, p50, p90, p99, min, max)")
	checkDet := fs.Bool("check-determinism", false, "run every seed twice and fail it on any trace hash difference")
	doubleEvery := fs.Uint64("double-every", 64, "without --check-determinism, run one seed in N twice")
	watchdog := fs.Duration("watchdog", 60*time.Second, "wall-clock limit per seed; a seed over it is a 'hang' failure")
	maxFailures := fs.Int64("max-failures", 0, "stop dispatching seeds after N failures (0: no limit)")
	filesPerChecker := fs.Int("files-per-checker", campaign.DefaultFilesPerChecker, "failure files kept per (scenario, checker); later failures are listed with their repro only (0: no limit)")
	coverDir := fs.String("cover", "", "write the Go code coverage of the systems under test to this directory (a binary built with go build -cover; runs one seed at a time)")
	signal := fs.String("signal", "", "with --guided, what counts as new: facts (declared facts), state (facts and metrics in power-of-two buckets) or code (Go coverage blocks and facts, a -cover build); default: code with --cover, else facts")
	guided := fs.Bool("guided", false, "greybox search: keep the runs that reach new coverage facts (with --cover: new code blocks too) and mutate their fault plans (--seeds: runs per scenario; --from seeds the search)")
	reportPath, history := reportFlags(fs)
	junitPath, mdPath := ciFlags(fs)
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
	if *maxFailures < 0 {
		return usagef("--max-failures must be non-negative")
	}
	o.MaxFailures = uint64(*maxFailures)
	switch {
	case *filesPerChecker < 0:
		return usagef("--files-per-checker must be non-negative (0: no limit)")
	case *filesPerChecker == 0:
		o.FilesPerChecker = -1
	default:
		o.FilesPerChecker = *filesPerChecker
	}
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
	// SIGTERM is how Slurm, Kubernetes and CI runners cancel a job: stop
	// like Ctrl-C, keep the files, print the summary so far. A second
	// signal kills. Caught from here on, before the first line on stderr,
	// so a signal after that line is never the default death.
	ctx, stop := catchInterrupts()
	defer stop()
	o.Shard = campaign.All
	if *shardStr != "" {
		if o.Shard, err = campaign.ParseShard(*shardStr); err != nil {
			return usagef("%v", err)
		}
	} else if sh, src, ok, err := campaign.ShardFromEnv(os.Getenv); err != nil {
		return usagef("%v", err)
	} else if ok {
		o.Shard = sh
		if !*guided { // refused below, in one line
			fmt.Fprintf(stderr, "dsim campaign: shard %s from %s\n", sh, src)
		}
	}
	if *guided && o.Shard != campaign.All {
		return usagef("--guided does not shard (each shard would search alone): run one guided campaign per job with its own --from")
	}
	if err := checkSignal(*guided, *signal); err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return usagef("%v", err)
	}
	rr, err := prepareReport(*reportPath, *history, *watchdog)
	if err != nil {
		return err
	}
	ci, err := prepareCI(*junitPath, *mdPath)
	if err != nil {
		return err
	}
	if o.Cover, err = startCover(*coverDir, o.Workers); err != nil {
		return err
	}
	// --out must take files before the first seed runs; finish what a
	// killed campaign left there.
	outRep, err := campaign.PrepareOut(o.Out, time.Now())
	if err != nil {
		return usagef("%v", err)
	}
	for _, f := range outRep.Recovered {
		fmt.Fprintf(stderr, "dsim campaign: recovered %s from a temp file an interrupted write left\n", f)
	}
	for _, p := range outRep.Partial {
		fmt.Fprintf(stderr, "dsim campaign: left %s\n", p)
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
				fmt.Fprintln(stderr, "dsim campaign: more failures; the summary lists them all")
			}
			return
		}
		prefix := ""
		if tty {
			prefix = "\r\033[K"
		}
		fmt.Fprintf(stderr, "%sFAIL %s seed %d %s: %s", prefix, f.Scenario, f.Seed, esc(f.Checker), campaign.OneLine(esc(f.Message), 200))
		switch {
		case f.File != "":
			fmt.Fprintf(stderr, " -> %s", esc(f.File))
		case f.FileError != "":
			fmt.Fprintf(stderr, " (file NOT written: %s)", campaign.OneLine(esc(f.FileError), 200))
		}
		fmt.Fprintln(stderr)
	}
	var rep *campaign.GuidedReport
	var sum *campaign.Summary
	if *guided {
		sum, rep = campaign.RunGuided(ctx, guidedOptions(o, *signal))
	} else {
		sum = campaign.Run(ctx, o)
	}
	stop()
	sum.RecoveredFiles = outRep.Recovered
	sum.PartialTempFiles = outRep.Partial
	if *asJSON {
		var v any = sum
		if rep != nil {
			v = guidedJSON{sum, rep}
		}
		if err := writeJSON(stdout, v); err != nil {
			return err
		}
	} else {
		printSummary(stdout, sum, *coverage)
		if *metrics {
			printMetrics(stdout, sum)
		}
		if rep != nil {
			printGuided(stdout, rep)
		}
	}
	if sum.StoppedAfterFailures > 0 {
		fmt.Fprintf(stderr, "dsim campaign: stopped dispatching after %d failures (--max-failures); the summary covers the %d runs made\n",
			sum.StoppedAfterFailures, sum.Runs)
	}
	if o.Cover != nil {
		if err := finishCover(*coverDir, o.Cover, sum, stdout, *asJSON); err != nil {
			return err
		}
	}
	return finishOutputs(sum, ci, rr)
}

// finishOutputs writes the CI files and the report page from the final
// summary (each even when another is lost; the report's error is the one
// returned) and then maps the summary to the exit status.
func finishOutputs(sum *campaign.Summary, ci *ciOut, rr *reportReq) error {
	ciErr := ci.write(sum)
	if err := rr.write(sum); err != nil {
		return err
	}
	if ciErr != nil {
		return ciErr
	}
	return verdict(sum)
}

// verdict maps a summary to the exit status: incomplete (3) over failures
// found (1) over passed (0).
func verdict(sum *campaign.Summary) error {
	if why := sum.Incomplete(); len(why) > 0 {
		return incompleteError{why}
	}
	if len(sum.Failures) > 0 {
		return errFailed
	}
	return nil
}

// printSummary prints a summary for people: the verdict, one line per
// scenario (its runs and the work it did under faults), the failures, and
// the coverage: by default one line per scenario at most, naming the facts
// it declares but no seed reached; with fullCoverage every fact reached and
// never reached, as a table.
func printSummary(w io.Writer, s *campaign.Summary, fullCoverage bool) {
	status := "PASS"
	if len(s.Failures) > 0 {
		status = "FAIL"
	}
	if s.Interrupted {
		status += " (interrupted: summary so far)"
	} else if len(s.Incomplete()) > 0 {
		status += " (incomplete)"
	}
	fmt.Fprintf(w, "%s runs=%d passed=%d failures=%d events=%d wall=%.2fs (%.0f seeds/s, %d workers, %d double-runs)\n",
		status, s.Runs, s.Passed, len(s.Failures), s.Events, float64(s.WallNs)/1e9, s.SeedsPerS, s.Workers, s.DoubleRuns)
	for _, r := range s.Seeds {
		fmt.Fprintf(w, "  %-32s seeds from %d", esc(r.Scenario), r.From)
		if r.Seeds > 0 {
			fmt.Fprintf(w, " count %d", r.Seeds)
		}
		if len(r.Shards) > 0 { // a partly merged range: Shard is {-1, N}
			fmt.Fprintf(w, " shards %s: %d runs", shardList(r.Shards, r.Shard.Count), r.Runs)
		} else {
			fmt.Fprintf(w, " shard %s: %d runs", r.Shard, r.Runs)
		}
		if wk := s.Work[r.Scenario]; wk != nil && wk.Runs > 0 {
			fmt.Fprintf(w, "; work under faults %s/run (min %d)", strconv.FormatFloat(wk.Mean, 'f', 1, 64), wk.Min)
		}
		fmt.Fprintln(w)
	}
	const maxListed = 20
	for i, f := range s.Failures {
		if i == maxListed {
			fmt.Fprintf(w, "... and %d more failures (--json lists them all)\n", len(s.Failures)-maxListed)
			break
		}
		fmt.Fprintf(w, "FAIL %s seed %d %s: %s\n", esc(f.Scenario), f.Seed, esc(f.Checker), campaign.OneLine(esc(f.Message), 200))
		printFileLine(w, f)
	}
	printGroups(w, s)
	names := make([]string, 0, len(s.Coverage))
	for n := range s.Coverage {
		names = append(names, n)
	}
	sort.Strings(names)
	declared, missed := 0, 0
	for _, n := range names {
		c := s.Coverage[n]
		if c == nil {
			continue
		}
		declared += len(c.Declared)
		missed += len(c.DeclaredUnreached)
		if !fullCoverage {
			if len(c.DeclaredUnreached) > 0 {
				fmt.Fprintf(w, "coverage %s: declared but never reached: %s\n", esc(n), escJoin(c.DeclaredUnreached))
			}
			continue
		}
		if len(c.Reached) == 0 && len(c.Unreached) == 0 && len(c.DeclaredUnreached) == 0 {
			continue
		}
		facts := make([]string, 0, len(c.Reached))
		for k, v := range c.Reached {
			facts = append(facts, fmt.Sprintf("%s (%d)", esc(k), v))
		}
		sort.Strings(facts)
		fmt.Fprintf(w, "coverage %s: reached %s", esc(n), strings.Join(facts, ", "))
		if len(c.Unreached) > 0 {
			fmt.Fprintf(w, "; never reached: %s", escJoin(c.Unreached))
		}
		if len(c.DeclaredUnreached) > 0 {
			fmt.Fprintf(w, "; declared but never reached: %s", escJoin(c.DeclaredUnreached))
		}
		fmt.Fprintln(w)
	}
	if declared > 0 && !fullCoverage {
		fmt.Fprintf(w, "coverage: %d of %d declared facts reached (--coverage prints every fact)\n", declared-missed, declared)
	}
	if s.UnwrittenFiles > 0 {
		fmt.Fprintf(w, "PROBLEM %d failure files could not be written (their failures are listed above with file_error in --json)\n", s.UnwrittenFiles)
	}
	if s.FilesSkipped > 0 {
		fmt.Fprintf(w, "%d failures have no file (--files-per-checker); rerun one with its repro command\n", s.FilesSkipped)
	}
	if s.StoppedAfterFailures > 0 {
		fmt.Fprintf(w, "stopped dispatching after %d failures (--max-failures)\n", s.StoppedAfterFailures)
	}
	for _, f := range s.RecoveredFiles {
		fmt.Fprintf(w, "recovered %s (left by a killed campaign)\n", esc(f))
	}
	for _, p := range s.Problems {
		fmt.Fprintf(w, "PROBLEM %s\n", esc(p))
	}
}

// shardList names the shards a merged range holds as "0-2,5/8" (at most
// 20 runs of consecutive indexes, then "... (N shards in all)").
func shardList(have []int, n int) string {
	parts, more := campaign.ShardRuns(have, 20)
	if more {
		parts = append(parts, fmt.Sprintf("... (%d shards in all)", len(have)))
	}
	return strings.Join(parts, ",") + "/" + strconv.Itoa(n)
}

// printFileLine prints where a failure's file is and the commands that
// replay and shrink it (or why it is missing and how to rerun it): the
// line campaign, merge and a failing run print under a failure.
func printFileLine(w io.Writer, f campaign.Failure) {
	switch {
	case f.File != "":
		p := esc(f.File)
		fmt.Fprintf(w, "     file: %s  (dsim replay %s; dsim shrink %s)\n", p, p, p)
	case f.FileError != "":
		fmt.Fprintf(w, "     file NOT written: %s; rerun: %s\n", campaign.OneLine(esc(f.FileError), 200), esc(f.Repro))
	case f.Repro != "":
		fmt.Fprintf(w, "     rerun: %s\n", esc(f.Repro))
	}
}

// esc makes text read from a summary file or a run safe for a terminal
// (replay.Escape: control bytes and escape sequences shown as \x1b...).
func esc(s string) string { return replay.Escape(s) }

// escJoin escapes each name and joins them with ", ".
func escJoin(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = esc(n)
	}
	return strings.Join(out, ", ")
}

func cmdMerge(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("campaign merge", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the merged summary as JSON")
	coverage := fs.Bool("coverage", false, "print every scenario's coverage facts (default: only declared facts never reached)")
	metrics := fs.Bool("metrics", false, "print every scenario's metrics as a table (runs, mean, p50, p90, p99, min, max)")
	coverOut := fs.String("cover", "", "write the merged coverage of the --cover directories given among the paths to this directory")
	reportPath, history := reportFlags(fs)
	junitPath, mdPath := ciFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	rr, err := prepareReport(*reportPath, *history, time.Minute)
	if err != nil {
		return err
	}
	ci, err := prepareCI(*junitPath, *mdPath)
	if err != nil {
		return err
	}
	pos, covs := splitCoverPaths(pos)
	if len(pos) == 0 {
		return usagef("merge wants summary files (campaign --json output) or a directory of them")
	}
	parts, files, err := campaign.ReadSummaries(pos)
	if err != nil {
		return usagef("%v", err)
	}
	if err := campaign.SameBuild(parts, files); err != nil {
		return usagef("%v", err)
	}
	sum, err := campaign.Merge(parts)
	if err != nil {
		return usagef("%v", err)
	}
	if *asJSON {
		if err := writeJSON(stdout, sum); err != nil {
			return err
		}
	} else {
		printSummary(stdout, sum, *coverage)
		if *metrics {
			printMetrics(stdout, sum)
		}
	}
	if err := mergeCover(covs, *coverOut, sum, stdout, *asJSON); err != nil {
		return err
	}
	return finishOutputs(sum, ci, rr)
}
