package campaign

import (
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/smilingraft/dsim/replay"
)

// JUnit XML, as CI systems read it (GitLab's unit test reports, Jenkins'
// JUnit plugin, GitHub Actions reporters): it follows the junit-4.xsd
// schema Jenkins documents (a testcase holds at most one skipped element,
// then error, failure, system-out and system-err elements) and keeps each
// testcase to one outcome, which is what GitLab parses.
//
// The mapping: one testsuite per system (the part of a scenario's name
// before '/'); in it, per scenario,
//   - a scenario with neither failures nor undecided runs is one passing
//     testcase named after the scenario (classname the scenario too), its
//     runs in system-out and in the suite's properties;
//   - each failure group (Groups) of the scenario is one testcase, named by
//     its checker, pattern and group ID (stable across nights, so a CI's
//     "new failure" and "fixed" views work), holding one failure element
//     (type the checker; message the count and the first failure's
//     message; text the seeds, repro commands and failure files);
//   - runs whose checkers reached no verdict (porcupine timed out) are one
//     testcase "undecided" with an error element: JUnit's error is "the
//     test could not decide", unlike skipped (not run), which GitLab and
//     Jenkins show as harmless, while dsim exits 3 (incomplete) for them.
//
// So tests = passing scenarios + groups + scenarios with undecided runs,
// failures = groups, errors = scenarios with undecided runs, skipped = 0.
// Problems that make the summary incomplete (missing shards...) are a
// testcase "incomplete" with an error in a suite "campaign".

// junitSuites is the document's root element.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Properties *junitProps     `xml:"properties,omitempty"`
	Cases      []junitTestCase `xml:"testcase"`
}

type junitProps struct {
	Props []junitProp `xml:"property"`
}

type junitProp struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitTestCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Error     *junitProblem `xml:"error,omitempty"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	SystemOut *junitCDATA   `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Type    string `xml:"type,attr"`
	Message string `xml:"message,attr"`
	Text    string `xml:",cdata"`
}

// junitCDATA is text written as CDATA, so that lines stay lines in the file.
type junitCDATA struct {
	Text string `xml:",cdata"`
}

func cdata(s string) *junitCDATA { return &junitCDATA{s} }

// JUnitCounts are the totals a JUnit document of a summary declares
// (nothing is ever skipped).
type JUnitCounts struct {
	Tests, Failures, Errors int
}

// maxJUnitMessage bounds a message attribute (bytes): the text holds the
// rest.
const maxJUnitMessage = 500

// WriteJUnit writes the summary as JUnit XML (see the mapping above) and
// returns the totals it declares. It reads nothing but the summary, so a
// campaign and the merge of its shards write the same testcases.
func WriteJUnit(w io.Writer, s *Summary) (JUnitCounts, error) {
	doc := junitDoc(s)
	b, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return JUnitCounts{}, err
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return JUnitCounts{}, err
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return JUnitCounts{}, err
	}
	return JUnitCounts{doc.Tests, doc.Failures, doc.Errors}, nil
}

// WriteJUnitFile writes the summary's JUnit XML to path atomically
// (replay.CreateOutput: a device or a pipe is written in place).
func WriteJUnitFile(path string, s *Summary) (JUnitCounts, error) {
	a, err := replay.CreateOutput(path)
	if err != nil {
		return JUnitCounts{}, err
	}
	n, err := WriteJUnit(a, s)
	if err != nil {
		a.Abort()
		return JUnitCounts{}, fmt.Errorf("%s not written: %v", path, err)
	}
	return n, a.Commit()
}

func junitDoc(s *Summary) *junitSuites {
	groups := s.Groups
	if groups == nil {
		groups = Groups(s.Failures)
	}
	bySc := map[string][]Group{}
	for _, g := range groups {
		bySc[g.Scenario] = append(bySc[g.Scenario], g)
	}
	undecided := map[string][]string{}
	for _, u := range s.Undecided {
		name, _, _ := strings.Cut(u, " seed ")
		undecided[name] = append(undecided[name], u)
	}
	// Scenarios: those with seed ranges, and any failure or undecided run
	// naming another (a hand-made summary).
	runs := map[string]uint64{}
	var names []string
	add := func(n string) {
		if _, ok := runs[n]; !ok {
			runs[n] = 0
			names = append(names, n)
		}
	}
	ranges := map[string][]SeedRange{}
	for _, r := range s.Seeds {
		add(r.Scenario)
		runs[r.Scenario] += r.Runs
		ranges[r.Scenario] = append(ranges[r.Scenario], r)
	}
	for n := range bySc {
		add(n)
	}
	for n := range undecided {
		add(n)
	}
	sort.Strings(names)
	failed := map[string]uint64{}
	for _, f := range s.Failures {
		failed[f.Scenario]++
	}

	doc := &junitSuites{Name: "dsim campaign", Time: strconv.FormatFloat(float64(s.WallNs)/1e9, 'f', 3, 64)}
	suites := map[string]*junitSuite{}
	var order []string
	suite := func(name string) *junitSuite {
		if suites[name] == nil {
			suites[name] = &junitSuite{Name: name, Properties: &junitProps{}}
			order = append(order, name)
		}
		return suites[name]
	}
	for _, name := range names {
		sys, _, _ := strings.Cut(name, "/")
		st := suite(sys)
		ranges := ranges[name]
		desc := scenarioRuns(name, runs[name], failed[name], uint64(len(undecided[name])), ranges)
		st.Properties.Props = append(st.Properties.Props, junitProp{name + ".runs", strconv.FormatUint(runs[name], 10)},
			junitProp{name + ".failures", strconv.FormatUint(failed[name], 10)},
			junitProp{name + ".undecided", strconv.Itoa(len(undecided[name]))})
		for _, r := range ranges {
			st.Properties.Props = append(st.Properties.Props, junitProp{name + ".seeds", seedsText(r)})
		}
		if len(bySc[name]) == 0 && len(undecided[name]) == 0 {
			st.Cases = append(st.Cases, junitTestCase{Name: name, Classname: name, SystemOut: cdata(desc)})
		}
		for _, g := range bySc[name] {
			st.Cases = append(st.Cases, groupCase(g, runs[name], desc))
			st.Failures++
		}
		if u := undecided[name]; len(u) > 0 {
			st.Cases = append(st.Cases, junitTestCase{Name: "undecided", Classname: name, SystemOut: cdata(desc),
				Error: &junitProblem{Type: "undecided",
					Message: clip(fmt.Sprintf("%d of %d runs reached no verdict (a checker timed out): not a pass; first: %s", len(u), runs[name], u[0])),
					Text:    strings.Join(u, "\n")}})
			st.Errors++
		}
	}
	if why := s.Incomplete(); len(why) > 0 {
		// Undecided runs have their own cases; the rest is campaign-wide.
		var rest []string
		for _, w := range why {
			if !strings.Contains(w, "reached no verdict") {
				rest = append(rest, w)
			}
		}
		if len(rest) > 0 {
			st := suite("campaign")
			st.Cases = append(st.Cases, junitTestCase{Name: "incomplete", Classname: "campaign",
				Error: &junitProblem{Type: "incomplete", Message: clip("the summary does not cover the whole campaign: " + rest[0]),
					Text: strings.Join(rest, "\n")}})
			st.Errors++
		}
	}
	// Every name and text is escaped here, once, whoever made it.
	for _, name := range order {
		st := suites[name]
		st.Name = replay.Escape(st.Name)
		for i := range st.Cases {
			c := &st.Cases[i]
			c.Name, c.Classname = replay.Escape(c.Name), replay.Escape(c.Classname)
			if c.SystemOut != nil {
				c.SystemOut.Text = xmlText(c.SystemOut.Text)
			}
			for _, p := range []*junitProblem{c.Error, c.Failure} {
				if p != nil {
					p.Type, p.Message, p.Text = replay.Escape(p.Type), replay.Escape(p.Message), xmlText(p.Text)
				}
			}
		}
		if st.Properties != nil {
			for i := range st.Properties.Props {
				p := &st.Properties.Props[i]
				p.Name, p.Value = replay.Escape(p.Name), replay.Escape(p.Value)
			}
		}
		st.Tests = len(st.Cases)
		if s.DsimVersion != "" {
			st.Properties.Props = append([]junitProp{{"dsim_version", replay.Escape(s.DsimVersion)}}, st.Properties.Props...)
		}
		if len(st.Properties.Props) == 0 {
			st.Properties = nil
		}
		doc.Tests += st.Tests
		doc.Failures += st.Failures
		doc.Errors += st.Errors
		doc.Suites = append(doc.Suites, *st)
	}
	return doc
}

// groupCase is one failure group's testcase.
func groupCase(g Group, runs uint64, desc string) junitTestCase {
	name := fmt.Sprintf("%s: %s [%s]", g.Checker, oneLineClip(g.Pattern, 150), g.ID)
	msg := fmt.Sprintf("%d of %d runs failed %s: %s", g.Count, runs, g.Checker, oneLineClip(g.First.Message, maxJUnitMessage))
	var b strings.Builder
	fmt.Fprintf(&b, "checker:  %s\n", g.Checker)
	if g.Variant != "" {
		fmt.Fprintf(&b, "variant:  %s\n", g.Variant)
	}
	fmt.Fprintf(&b, "failures: %d of %d runs (%d with a failure file)\n", g.Count, runs, g.Files)
	fmt.Fprintf(&b, "pattern:  %s\n", g.Pattern)
	fmt.Fprintf(&b, "group:    %s\n", g.ID)
	writeRepro(&b, "first", g.First)
	if g.Smallest.Seed != g.First.Seed || g.Smallest.File != g.First.File {
		writeRepro(&b, "smallest", g.Smallest)
	} else {
		b.WriteString("smallest repro: the first\n")
	}
	return junitTestCase{Name: name, Classname: g.Scenario, SystemOut: cdata(desc),
		Failure: &junitProblem{Type: g.Checker, Message: clip(msg), Text: b.String()}}
}

func writeRepro(b *strings.Builder, what string, f Failure) {
	fmt.Fprintf(b, "%s: seed %d, failed at event %d: %s\n", what, f.Seed, f.Event, oneLineClip(f.Message, 2000))
	if f.Moment != "" {
		fmt.Fprintf(b, "  moment:  %s\n", oneLineClip(f.Moment, 2000))
	}
	switch {
	case f.File != "":
		fmt.Fprintf(b, "  file:    %s\n  replay:  dsim replay %s\n  shrink:  dsim shrink %s\n", f.File, f.File, f.File)
	case f.FileError != "":
		fmt.Fprintf(b, "  file NOT written: %s\n", oneLineClip(f.FileError, 500))
	}
	if f.Repro != "" {
		fmt.Fprintf(b, "  repro:   %s\n", f.Repro)
	}
}

// scenarioRuns is a scenario's system-out: its runs and seeds.
func scenarioRuns(name string, runs, failed, undecided uint64, ranges []SeedRange) string {
	s := fmt.Sprintf("%s: %d runs, %d failed, %d undecided", name, runs, failed, undecided)
	for _, r := range ranges {
		s += "; " + seedsText(r)
	}
	return s
}

// seedsText names a seed range: first seed, count and shards.
func seedsText(r SeedRange) string {
	s := fmt.Sprintf("seeds from %d", r.From)
	if r.Seeds > 0 {
		s += fmt.Sprintf(" count %d", r.Seeds)
	}
	if r.Variant != "" {
		s += " variant " + r.Variant
	}
	if len(r.Shards) > 0 {
		s += fmt.Sprintf(" shards %v of %d", r.Shards, r.Shard.Count)
	} else {
		s += " shard " + r.Shard.String()
	}
	return s + fmt.Sprintf(": %d runs", r.Runs)
}

// clip bounds a message attribute.
func clip(s string) string { return oneLineClip(s, maxJUnitMessage) }

// oneLineClip puts s on one line, its runs of white space made one space,
// of at most max bytes (plus an ellipsis).
func oneLineClip(s string, max int) string {
	return OneLine(strings.Join(strings.Fields(s), " "), max)
}

// OneLine puts s on one line (newlines become spaces) and cuts it to at
// most max bytes plus an ellipsis, at a character boundary, never inside a
// multi-byte character: for summaries, tables and attributes.
func OneLine(s string, max int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// xmlText writes every line of s with replay.Escape: control characters,
// which XML 1.0 cannot hold (encoding/xml would write U+FFFD), and
// terminal escapes are shown as Go escapes (\x1b) instead.
func xmlText(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = replay.Escape(l)
	}
	return strings.Join(lines, "\n")
}
