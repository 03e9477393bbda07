package report

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/smilingraft/dsim/campaign"
	"github.com/smilingraft/dsim/replay"
)

// Night is one summary of a trend: a nightly campaign's totals, its
// failure groups, and how they differ from the night before.
type Night struct {
	// Name labels the night: its file's name without ".json".
	Name      string
	Runs      uint64
	Failures  int
	Undecided int
	SeedsPerS float64
	// Incomplete says why the night's summary does not cover its whole
	// campaign (nil: it does): a group gone from an incomplete night may
	// only not have run.
	Incomplete []string
	Groups     []campaign.Group
	// New are the groups the night before did not have; Gone the night
	// before's groups this night does not have although their scenario
	// ran (fixed, or no longer found); NotRun the night before's groups
	// whose scenario this night did not run. The first night has none.
	New, Gone, NotRun []campaign.Group
	// Compared says the night was compared with a night before it (false
	// for the first night read).
	Compared bool
}

// Trend is a series of nightly summaries, oldest first.
type Trend struct {
	Nights []Night
}

// Add appends a night to the trend and compares its groups with the
// previous night's.
func (t *Trend) Add(name string, s *campaign.Summary) {
	n := Night{Name: name, Runs: s.Runs, Failures: len(s.Failures), Undecided: len(s.Undecided),
		SeedsPerS: s.SeedsPerS, Incomplete: s.Incomplete(), Groups: groupsOf(s)}
	if len(t.Nights) > 0 {
		n.Compared = true
		prev := t.Nights[len(t.Nights)-1].Groups
		have := map[string]bool{}
		for _, g := range n.Groups {
			have[g.ID] = true
		}
		had := map[string]bool{}
		for _, g := range prev {
			had[g.ID] = true
		}
		for _, g := range n.Groups {
			if !had[g.ID] {
				n.New = append(n.New, g)
			}
		}
		ran := map[string]bool{}
		for _, r := range s.Seeds {
			if r.Runs > 0 {
				ran[r.Scenario] = true
			}
		}
		for _, g := range prev {
			switch {
			case have[g.ID]:
			case ran[g.Scenario]:
				n.Gone = append(n.Gone, g)
			default:
				n.NotRun = append(n.NotRun, g)
			}
		}
	}
	t.Nights = append(t.Nights, n)
}

// Last keeps the last n nights (all when n <= 0 or there are fewer); the
// first night kept is still compared with the one before it.
func (t *Trend) Last(n int) {
	if n > 0 && n < len(t.Nights) {
		t.Nights = t.Nights[len(t.Nights)-n:]
	}
}

// MaxNights bounds the summaries ReadTrend reads: a year of nights, with
// room to spare.
const MaxNights = 1000

// ReadTrend reads every *.json summary directly inside dir (campaign or
// campaign merge --json output), ordered by file name: name nightly
// summaries so that they sort by date (2026-12-06.json). Errors are one
// line.
func ReadTrend(dir string) (*Trend, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("trend: %v", unwrapPath(err))
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("trend: %s is not a directory (want a directory of nightly summaries)", dir)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("trend: %v", err)
	}
	sort.Strings(files)
	if len(files) == 0 {
		return nil, fmt.Errorf("trend: no *.json summaries in %s", dir)
	}
	if len(files) > MaxNights {
		return nil, fmt.Errorf("trend: %d summaries in %s, more than %d", len(files), dir, MaxNights)
	}
	t := &Trend{}
	for _, f := range files {
		s, err := readSummary(f)
		if err != nil {
			return nil, err
		}
		t.Add(strings.TrimSuffix(filepath.Base(f), ".json"), s)
	}
	return t, nil
}

// readSummary reads and checks one summary (campaign.ParseSummary).
func readSummary(path string) (*campaign.Summary, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("trend: %v", unwrapPath(err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, campaign.MaxSummaryBytes+1))
	if err != nil {
		return nil, fmt.Errorf("trend: %s: %v", path, unwrapPath(err))
	}
	if len(b) > campaign.MaxSummaryBytes {
		return nil, fmt.Errorf("trend: %s: larger than %d MiB, not a campaign summary", path, campaign.MaxSummaryBytes>>20)
	}
	s, err := campaign.ParseSummary(path, b)
	if err != nil {
		return nil, fmt.Errorf("trend%s", strings.TrimPrefix(err.Error(), "merge"))
	}
	return s, nil
}

// unwrapPath drops the operation and path an *os.PathError repeats.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return fmt.Errorf("%s: %v", pe.Path, pe.Err)
	}
	return err
}

// WriteText prints the trend for people: one line per night (runs,
// failures, groups, new and gone groups, seeds per second), then each
// night's new and gone groups with their repro commands. Text from the
// summaries is escaped for a terminal.
func (t *Trend) WriteText(w io.Writer) error {
	width := len("night")
	for _, n := range t.Nights {
		width = max(width, len(replay.Escape(n.Name)))
	}
	width = min(width, 40)
	var b strings.Builder
	fmt.Fprintf(&b, "%-*s %10s %9s %7s %5s %5s %10s\n", width, "night", "runs", "failures", "groups", "new", "gone", "seeds/s")
	for _, n := range t.Nights {
		nw, gone := "-", "-"
		if n.Compared {
			nw, gone = fmt.Sprint(len(n.New)), fmt.Sprint(len(n.Gone))
		}
		fmt.Fprintf(&b, "%-*s %10d %9d %7d %5s %5s %10.1f", width, replay.Escape(n.Name), n.Runs, n.Failures, len(n.Groups), nw, gone, n.SeedsPerS)
		if len(n.Incomplete) > 0 {
			fmt.Fprintf(&b, "  INCOMPLETE: %s", campaign.OneLine(replay.Escape(strings.Join(n.Incomplete, "; ")), 160))
		}
		b.WriteByte('\n')
	}
	for _, n := range t.Nights {
		for _, g := range n.New {
			fmt.Fprintf(&b, "%s NEW   %s (%d failures, first seed %d)\n      repro: %s\n", replay.Escape(n.Name), groupLine(g), g.Count, g.First.Seed, replay.Escape(repro(g)))
		}
		for _, g := range n.Gone {
			fmt.Fprintf(&b, "%s GONE  %s (fixed or no longer found; failures the night before: %d)\n", replay.Escape(n.Name), groupLine(g), g.Count)
		}
		for _, g := range n.NotRun {
			fmt.Fprintf(&b, "%s NOT RUN %s (its scenario did not run this night)\n", replay.Escape(n.Name), groupLine(g))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// groupLine names a group on one line: scenario, variant, checker and
// message, escaped.
func groupLine(g campaign.Group) string {
	s := g.Scenario
	if g.Variant != "" {
		s += " [" + g.Variant + "]"
	}
	return replay.Escape(s+" "+g.Checker+": ") + campaign.OneLine(replay.Escape(g.First.Message), 160)
}

// repro is the command that reruns a group's smallest repro.
func repro(g campaign.Group) string {
	if g.Smallest.Repro == "" && g.Smallest.File != "" {
		return "dsim replay " + g.Smallest.File
	}
	return g.Smallest.Repro
}
