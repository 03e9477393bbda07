package cli

import (
	"fmt"
	"io"

	"github.com/smilingraft/dsim/campaign"
)

// guidedJSON is campaign --guided --json's output: the summary's fields as
// for any campaign, plus "guided", the search's report and corpus.
type guidedJSON struct {
	*campaign.Summary
	Guided *campaign.GuidedReport `json:"guided"`
}

// guidedOptions carries a campaign's options over to a guided one: --seeds
// is the runs per scenario, --from the first fresh seed and the search's
// seed; with --cover the search is guided by code coverage (and records
// it), else by declared facts.
func guidedOptions(o campaign.Options) campaign.GuidedOptions {
	var sig campaign.Signal = campaign.FactSignal{}
	if o.Cover != nil {
		sig = campaign.CodeSignal{Rec: o.Cover}
	}
	return campaign.GuidedOptions{Signal: sig, Scenarios: o.Scenarios, Variant: o.Variant, Runs: o.Seeds, Time: o.Time, From: o.From,
		Workers: o.Workers, Out: o.Out, CheckDeterminism: o.CheckDeterminism, DoubleRunEvery: o.DoubleRunEvery,
		Watchdog: o.Watchdog, Progress: o.Progress, ProgressEvery: o.ProgressEvery, OnFailure: o.OnFailure,
		MaxFailures: o.MaxFailures, FilesPerChecker: o.FilesPerChecker}
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
