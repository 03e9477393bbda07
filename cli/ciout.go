package cli

import (
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/smilingraft/dsim/campaign"
	"github.com/smilingraft/dsim/replay"
)

// ciFlags adds --junit and --markdown to campaign and campaign merge.
func ciFlags(fs *flag.FlagSet) (junit, markdown *string) {
	junit = fs.String("junit", "", "write the summary as JUnit XML to FILE (a testsuite per system, a failing testcase per failure group, undecided runs as errors) for CI test views")
	markdown = fs.String("markdown", "", "write the summary as markdown to FILE (totals, failure groups, scenarios) for a CI job summary such as $GITHUB_STEP_SUMMARY")
	return junit, markdown
}

// ciOut are the --junit and --markdown files asked for: their targets are
// checked before the campaign runs (bad input: one line, exit 2), and
// they are written atomically from the final summary.
type ciOut struct{ junit, markdown string }

// prepareCI checks the targets of --junit and --markdown. A device or a
// named pipe (written in place, see replay.CreateOutput) is not opened
// here: closing a fifo hands its reader an empty file, and the final
// write would then wait for a reader forever.
func prepareCI(junit, markdown string) (*ciOut, error) {
	for _, f := range []struct{ name, path string }{{"junit", junit}, {"markdown", markdown}} {
		if f.path == "" {
			continue
		}
		if st, err := os.Stat(f.path); err == nil && st.Mode()&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeNamedPipe) != 0 {
			continue
		}
		a, err := replay.CreateOutput(f.path)
		if err != nil {
			return nil, usagef("--%s: %v", f.name, err)
		}
		a.Abort()
	}
	return &ciOut{junit, markdown}, nil
}

// write writes the files; the JUnit totals go to stderr (stdout may be
// JSON). A file that cannot be written makes the run incomplete (exit 3):
// CI would otherwise read a missing report as nothing to show.
func (c *ciOut) write(sum *campaign.Summary) error {
	if c == nil {
		return nil
	}
	var lost []string
	if c.junit != "" {
		n, err := campaign.WriteJUnitFile(c.junit, sum)
		if err != nil {
			lost = append(lost, fmt.Sprintf("--junit: %v", err))
		} else {
			fmt.Fprintf(stderr, "dsim campaign: JUnit XML: %s (%d tests, %d failures, %d errors)\n", esc(c.junit), n.Tests, n.Failures, n.Errors)
		}
	}
	if c.markdown != "" {
		if err := campaign.WriteMarkdownFile(c.markdown, sum); err != nil {
			lost = append(lost, fmt.Sprintf("--markdown: %v", err))
		}
	}
	if len(lost) > 0 {
		return incompleteError{lost}
	}
	return nil
}

// maxGroupLines bounds the failure groups the text summary lists.
const maxGroupLines = 30

// printGroups prints the failure groups for people, one line each: count,
// scenario, checker and what fails (numbers, names and times replaced by
// placeholders), the first seed and the smallest repro.
func printGroups(w io.Writer, s *campaign.Summary) {
	if len(s.Groups) == 0 {
		return
	}
	plural := "s"
	if len(s.Groups) == 1 {
		plural = ""
	}
	fmt.Fprintf(w, "%d failures in %d group%s by cause:\n", len(s.Failures), len(s.Groups), plural)
	for i, g := range s.Groups {
		if i == maxGroupLines {
			fmt.Fprintf(w, "  ... and %d more groups (--json lists them all)\n", len(s.Groups)-maxGroupLines)
			break
		}
		repro := g.Smallest.Repro
		if g.Smallest.File != "" {
			repro = "dsim replay " + g.Smallest.File
		}
		first := fmt.Sprintf("first seed %d", g.First.Seed)
		if g.Smallest.Seed != g.First.Seed {
			first += fmt.Sprintf(", smallest seed %d (event %d)", g.Smallest.Seed, g.Smallest.Event)
		}
		fmt.Fprintf(w, "  %5dx %s %s: %s  [%s; %s]\n", g.Count, esc(g.Scenario), esc(g.Checker),
			campaign.OneLine(esc(strings.TrimSpace(g.Pattern)), 160), first, campaign.OneLine(esc(repro), 200))
	}
}
