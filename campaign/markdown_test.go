package campaign

import (
	"bytes"
	"strings"
	"testing"
)

// TestMarkdownSummary: the job summary has the verdict, the totals, a row
// per failure group with its smallest repro, the undecided run, and keeps
// hostile text (table pipes, HTML, backticks, terminal escapes, newlines)
// from breaking its tables or acting as markup.
func TestMarkdownSummary(t *testing.T) {
	s := nightly(t)
	s.Failures[0].Message = "evil | <script>alert(1)</script> `tick` \x1b[31m\nnext line"
	s.Failures[0].File = "f/a|b`c.json"
	s.Failures[0].Event = 0
	s.Groups = Groups(s.Failures)
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, s); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"### dsim campaign: FAIL (incomplete)", "| 120 | 39 | 80 | 3 | 1 |", "#### Failures by cause",
		"| counter/swarm |  | 40 | 0 | 1 |", "#### Incomplete"} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q:\n%s", want, out)
		}
	}
	for _, bad := range []string{"<script>", "\x1b", "\nnext line"} {
		if strings.Contains(out, bad) {
			t.Errorf("markdown lets %q through:\n%s", bad, out)
		}
	}
	// Every table row has as many unescaped pipes as its header.
	for _, table := range strings.Split(out, "\n\n") {
		lines := strings.Split(strings.TrimSpace(table), "\n")
		if len(lines) < 2 || !strings.HasPrefix(lines[0], "|") {
			continue
		}
		cells := func(l string) int { return strings.Count(l, "|") - strings.Count(l, `\|`) }
		for _, l := range lines[1:] {
			if cells(l) != cells(lines[0]) {
				t.Errorf("row %q has %d cell borders, header %d", l, cells(l), cells(lines[0]))
			}
		}
	}
}
