package cli

import (
	"fmt"
	"io"

	"github.com/smilingraft/dsim/campaign"
	"github.com/smilingraft/dsim/cover"
	"github.com/smilingraft/dsim/scenarios"
)

// guidedJSON is campaign --guided --json's output: the summary's fields as
// for any campaign, plus "guided", the search's report and corpus.
type guidedJSON struct {
	*campaign.Summary
	Guided *campaign.GuidedReport `json:"guided"`
}

// checkSignal refuses a --signal the campaign cannot use: one without
// --guided, an unknown one, code in a binary without coverage counters.
func checkSignal(guided bool, signal string) error {
	switch {
	case signal == "":
		return nil
	case !guided:
		return usagef("--signal applies to --guided campaigns only")
	case signal == "facts" || signal == "state":
		return nil
	case signal != "code":
		return usagef("bad --signal %q: want facts, state or code", signal)
	}
	if err := cover.Check(); err != nil {
		return usagef("--signal code needs a binary built with coverage counters: %v", err)
	}
	return nil
}

// guidedOptions carries a campaign's options over to a guided one: --seeds
// is the runs per scenario, --from the first fresh seed and the search's
// seed. The search is guided by code coverage with --signal code or with
// --cover (whose recorder then sees every run), else by declared facts.
func guidedOptions(o campaign.Options, signal string) campaign.GuidedOptions {
	var sig campaign.Signal
	switch {
	case signal == "code" || (signal == "" && o.Cover != nil):
		sig = campaign.CodeSignal{Rec: o.Cover}
	case signal == "state":
		sig = campaign.StateSignal{}
	default:
		sig = campaign.FactSignal{}
	}
	if _, code := sig.(campaign.CodeSignal); o.Cover != nil && !code {
		sig = recording{sig, o.Cover}
	}
	return campaign.GuidedOptions{Signal: sig, Scenarios: o.Scenarios, Variant: o.Variant, Runs: o.Seeds, Time: o.Time, From: o.From,
		Workers: o.Workers, Out: o.Out, CheckDeterminism: o.CheckDeterminism, DoubleRunEvery: o.DoubleRunEvery,
		Watchdog: o.Watchdog, Progress: o.Progress, ProgressEvery: o.ProgressEvery, OnFailure: o.OnFailure,
		MaxFailures: o.MaxFailures, FilesPerChecker: o.FilesPerChecker}
}

// recording guides by its signal while --cover records every run's code
// coverage (to compare what a search not guided by code reaches in code).
type recording struct {
	campaign.Signal
	rec *cover.Recorder
}

func (recording) Exclusive() bool { return true }

func (r recording) Observe(scenario string, seed uint64, run func() *scenarios.Result) (*scenarios.Result, []string) {
	return r.Signal.Observe(scenario, seed, func() *scenarios.Result {
		var res *scenarios.Result
		if _, err := r.rec.Seed(scenario, seed, func() { res = run() }); err != nil && res == nil {
			res = run()
		}
		return res
	})
}

// printGuided prints a guided campaign's search in two lines: what it ran
// and what its corpus holds.
func printGuided(w io.Writer, r *campaign.GuidedReport) {
	fmt.Fprintf(w, "guided (signal %s, from %d): %d fresh runs (%d new), %d mutated (%d new); %d features reached; corpus %d entries\n",
		esc(r.Signal), r.From, r.Fresh, r.NewFresh, r.Mutated, r.NewMutated, r.Features, len(r.Corpus))
	var curve string
	for i, p := range r.Curve {
		if i > 0 {
			curve += ", "
		}
		curve += fmt.Sprintf("%d@%d", p.Features, p.Runs)
	}
	fmt.Fprintf(w, "guided features after N runs (features@runs): %s\n", curve)
}
