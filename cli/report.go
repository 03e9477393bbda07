package cli

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/smilingraft/dsim/campaign"
	"github.com/smilingraft/dsim/campaign/report"
	"github.com/smilingraft/dsim/replay"
)

// reportFlags adds --report and --history to campaign and campaign merge.
func reportFlags(fs *flag.FlagSet) (path, history *string) {
	path = fs.String("report", "", "write the campaign's report page (one offline HTML file: totals, tables, failure groups with a replay page each, written beside it) to FILE")
	history = fs.String("history", "", "with --report: add a trend section over this directory of nightly summaries (campaign --json output, named to sort by date) and this campaign")
	return path, history
}

// reportReq is a --report asked for: checked before the campaign runs.
type reportReq struct {
	path  string
	trend *report.Trend
	limit time.Duration
}

// prepareReport checks --report's target and reads --history before any
// run, so bad input is one line and exit 2 before the work (nil without
// --report).
func prepareReport(path, history string, limit time.Duration) (*reportReq, error) {
	if path == "" {
		if history != "" {
			return nil, usagef("--history adds a trend to the report page: give --report FILE too")
		}
		return nil, nil
	}
	if err := checkOutFile("report", path); err != nil {
		return nil, err
	}
	r := &reportReq{path: path, limit: limit}
	if history != "" {
		t, err := report.ReadTrend(history)
		if err != nil {
			return nil, usagef("--history: %v", err)
		}
		r.trend = t
	}
	return r, nil
}

// write writes the report page and its replay pages; the notes and the
// page's path go to stderr (stdout may be JSON). A page that cannot be
// written makes the run incomplete (exit 3), as a lost export does.
func (r *reportReq) write(sum *campaign.Summary) error {
	if r == nil {
		return nil
	}
	o := report.Options{}
	if r.trend != nil {
		r.trend.Add("this campaign", sum)
		o.Trend = r.trend
	}
	notes, err := report.WriteFile(r.path, sum, o, r.limit)
	for _, n := range notes {
		fmt.Fprintf(stderr, "dsim campaign: report: %s\n", campaign.OneLine(esc(n), 300))
	}
	if err != nil {
		return incompleteError{[]string{fmt.Sprintf("--report: %v", err)}}
	}
	fmt.Fprintf(stderr, "dsim campaign: report page: %s\n", esc(r.path))
	return nil
}

// cmdTrend is 'dsim campaign trend DIR': per night (summary), the runs,
// failures, failure groups, groups new since the night before and gone,
// and seeds per second; then each new and gone group.
func cmdTrend(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("campaign trend", flag.ContinueOnError)
	page := fs.String("report", "", "also write the trend as an offline HTML page (plots and table) to FILE")
	last := fs.Int("last", 0, "show only the last N nights (0: all); the first shown is still compared with the night before")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *last < 0 {
		return usagef("--last must be non-negative (0: every night)")
	}
	if len(pos) != 1 {
		return usagef("trend wants one directory of nightly summaries (campaign --json output, named to sort by date)")
	}
	if err := checkOutFile("report", *page); err != nil {
		return err
	}
	t, err := report.ReadTrend(pos[0])
	if err != nil {
		return usagef("%v", err)
	}
	t.Last(*last)
	if err := t.WriteText(stdout); err != nil {
		return err
	}
	if *page != "" {
		if err := replay.WriteAtomic(*page, func(w io.Writer) error { return report.WriteTrend(w, t, "") }); err != nil {
			return incompleteError{[]string{fmt.Sprintf("--report: %v", err)}}
		}
		fmt.Fprintf(stdout, "trend page: %s\n", esc(*page))
	}
	return nil
}
