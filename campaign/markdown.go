package campaign

import (
	"fmt"
	"io"
	"strings"

	"github.com/smilingraft/dsim/replay"
)

// Bounds on the markdown summary's tables: GitHub caps a job summary
// ($GITHUB_STEP_SUMMARY) at 1 MiB.
const (
	maxMarkdownGroups    = 50
	maxMarkdownScenarios = 200
)

// WriteMarkdown writes the summary as GitHub-flavoured markdown for a CI
// job summary ($GITHUB_STEP_SUMMARY, a GitLab or Buildkite annotation):
// the verdict and totals, the failure groups (count, scenario, checker,
// pattern, first seed, smallest repro and its file), each scenario's runs,
// failures and undecided runs, and what makes the summary incomplete. Like
// WriteJUnit it reads nothing but the summary.
func WriteMarkdown(w io.Writer, s *Summary) error {
	groups := s.Groups
	if groups == nil {
		groups = Groups(s.Failures)
	}
	var b strings.Builder
	status := "PASS"
	if len(s.Failures) > 0 {
		status = "FAIL"
	}
	if len(s.Incomplete()) > 0 {
		status += " (incomplete)"
	}
	fmt.Fprintf(&b, "### dsim campaign: %s\n\n", status)
	b.WriteString("| runs | passed | failures | groups | undecided | events | wall | seeds/s |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(&b, "| %d | %d | %d | %d | %d | %d | %.1f s | %.0f |\n\n", s.Runs, s.Passed, len(s.Failures), len(groups),
		len(s.Undecided), s.Events, float64(s.WallNs)/1e9, s.SeedsPerS)
	if len(groups) > 0 {
		b.WriteString("#### Failures by cause\n\n| count | scenario | checker | what fails | first seed | smallest repro |\n|---:|---|---|---|---:|---|\n")
		for i, g := range groups {
			if i == maxMarkdownGroups {
				fmt.Fprintf(&b, "\n... and %d more groups (the JSON summary lists them all)\n", len(groups)-maxMarkdownGroups)
				break
			}
			repro := g.Smallest.Repro
			if g.Smallest.File != "" {
				repro = "dsim replay " + g.Smallest.File
			}
			fmt.Fprintf(&b, "| %d | %s | %s | %s | %d | seed %d: %s |\n", g.Count, mdCell(g.Scenario), mdCell(g.Checker),
				mdCell(oneLineClip(g.Pattern, 200)), g.First.Seed, g.Smallest.Seed, mdCode(repro))
		}
		b.WriteString("\n")
	}
	failed := map[string]int{}
	for _, f := range s.Failures {
		failed[f.Scenario]++
	}
	undecided := map[string]int{}
	for _, u := range s.Undecided {
		name, _, _ := strings.Cut(u, " seed ")
		undecided[name]++
	}
	if len(s.Seeds) > 0 {
		b.WriteString("<details><summary>Scenarios</summary>\n\n| scenario | variant | runs | failures | undecided |\n|---|---|---:|---:|---:|\n")
		for i, r := range s.Seeds {
			if i == maxMarkdownScenarios {
				fmt.Fprintf(&b, "\n... and %d more\n", len(s.Seeds)-maxMarkdownScenarios)
				break
			}
			fmt.Fprintf(&b, "| %s | %s | %d | %d | %d |\n", mdCell(r.Scenario), mdCell(r.Variant), r.Runs, failed[r.Scenario], undecided[r.Scenario])
		}
		b.WriteString("\n</details>\n\n")
	}
	if why := s.Incomplete(); len(why) > 0 {
		b.WriteString("#### Incomplete\n\n")
		for i, p := range why {
			if i == maxMarkdownGroups {
				fmt.Fprintf(&b, "- ... and %d more\n", len(why)-maxMarkdownGroups)
				break
			}
			fmt.Fprintf(&b, "- %s\n", mdCell(oneLineClip(p, 300)))
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMarkdownFile writes the markdown summary to path atomically (a
// device or a pipe is written in place).
func WriteMarkdownFile(path string, s *Summary) error {
	a, err := replay.CreateOutput(path)
	if err != nil {
		return err
	}
	if err := WriteMarkdown(a, s); err != nil {
		a.Abort()
		return fmt.Errorf("%s not written: %v", path, err)
	}
	return a.Commit()
}

// mdCell makes text safe in a markdown table cell: one line, terminal
// escapes shown (replay.Escape), and the characters markdown or HTML would
// act on escaped.
func mdCell(s string) string {
	s = replay.Escape(oneLineClip(s, 1000))
	r := strings.NewReplacer(`\`, `\\`, "|", `\|`, "<", "&lt;", ">", "&gt;", "&", "&amp;", "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`)
	return r.Replace(s)
}

// mdCode puts s in a code span that its own backticks cannot end.
func mdCode(s string) string {
	s = replay.Escape(oneLineClip(s, 1000))
	s = strings.ReplaceAll(s, "|", `\|`) // a table cell ends at | even in code
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	return fence + " " + s + " " + fence
}
