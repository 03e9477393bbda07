// Package report writes a campaign's report page (one offline HTML file:
// totals, per-system and per-scenario tables, failure groups with their
// repro commands and replay pages, declared facts never reached, the
// campaign's configuration, and optionally the trend over earlier nights)
// and the trend over a directory of nightly summaries (dsim campaign
// trend).
//
// It may import campaign, replay and scenarios.
package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/smilingraft/dsim/campaign"
	"github.com/smilingraft/dsim/replay"
)

// Options add to the report page.
type Options struct {
	// Title heads the page ("" : "dsim campaign report").
	Title string
	// Replays are the groups' replay pages by campaign.Group.ID.
	Replays map[string]Replay
	// Trend, when set, adds a trend section (the table and its plots).
	Trend *Trend
}

// Replay is a group's replay page: its href relative to the report, or
// why it has none.
type Replay struct {
	Href string
	Note string
}

// Write writes the report page of a summary. Every string from the
// summary reaches the page through html/template's escaping (text, or an
// attribute); the page's only script is fixed and allowed by its hash in
// the Content-Security-Policy, which forbids every other script, style,
// image, font and connection: the page opens offline and a hostile string
// in a summary runs nothing. The same summary and options give the same
// bytes.
func Write(w io.Writer, s *campaign.Summary, o Options) error {
	d := build(s, o)
	var b bytes.Buffer
	if err := pageTmpl.Execute(&b, d); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

// WriteTrend writes a page of the trend alone: its plots (failures,
// groups, new groups, runs and seeds per second per night, inline SVG) and
// its table with each night's new, gone and not-run groups. It is escaped
// and locked down like Write's page.
func WriteTrend(w io.Writer, t *Trend, title string) error {
	if title == "" {
		title = "dsim campaign trend"
	}
	d := pageData{Title: title, CSP: csp, TrendOnly: true, Status: "TREND", Trend: trendOf(t)}
	if n := len(t.Nights); n > 0 {
		last := t.Nights[n-1]
		d.Status = "PASS"
		if last.Failures > 0 {
			d.Status = "FAIL"
		} else if len(last.Incomplete) > 0 {
			d.Status = "INCOMPLETE"
		}
	}
	var b bytes.Buffer
	if err := pageTmpl.Execute(&b, d); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

// kv is one labelled value; ID names a total the page's self-check reads.
type kv struct {
	Label, Value, ID string
}

type sysRow struct {
	Name                        string
	Scenarios                   int
	Runs, Failures, Undecided   uint64
	Work                        string
	FactsReached, FactsDeclared int
	FactsText                   string
}

type scRow struct {
	Name                        string
	Variants                    string
	Runs, Failures, Undecided   uint64
	Work                        string
	FactsReached, FactsDeclared int
	FactsText                   string
	Medians                     []string
}

type groupRow struct {
	N        int
	Group    campaign.Group
	Repro    string
	Shrink   string
	Replay   Replay
	Smallest uint64
}

type unreachedRow struct {
	Scenario string
	Facts    []string
}

type pageData struct {
	Title      string
	CSP        string
	TrendOnly  bool
	Status     string
	Totals     []kv
	Incomplete []string
	Systems    []sysRow
	Scenarios  []scRow
	Groups     []groupRow
	Unreached  []unreachedRow
	Config     []kv
	Ranges     []campaign.SeedRange
	Trend      *trendView
}

func build(s *campaign.Summary, o Options) pageData {
	d := pageData{Title: o.Title, CSP: csp}
	if d.Title == "" {
		d.Title = "dsim campaign report"
	}
	groups := groupsOf(s)
	d.Status = "PASS"
	if len(s.Failures) > 0 {
		d.Status = "FAIL"
	}
	d.Incomplete = s.Incomplete()
	if len(d.Incomplete) > 0 {
		d.Status = "INCOMPLETE"
		if len(s.Failures) > 0 {
			d.Status = "FAIL (incomplete)"
		}
	}
	d.Totals = []kv{
		{"runs", fmt.Sprint(s.Runs), "runs"},
		{"passed", fmt.Sprint(s.Passed), "passed"},
		{"failures", fmt.Sprint(len(s.Failures)), "failures"},
		{"failure groups", fmt.Sprint(len(groups)), "groups"},
		{"undecided", fmt.Sprint(len(s.Undecided)), "undecided"},
		{"events", fmt.Sprint(s.Events), ""},
		{"virtual time", time.Duration(s.VTimeNs).Round(time.Millisecond).String(), ""},
		{"wall time", time.Duration(s.WallNs).Round(time.Millisecond).String(), ""},
		{"seeds/s", strconv.FormatFloat(s.SeedsPerS, 'f', 1, 64), ""},
		{"double runs", fmt.Sprint(s.DoubleRuns), ""},
	}
	if s.FilesSkipped > 0 {
		d.Totals = append(d.Totals, kv{"failures without a file (--files-per-checker)", fmt.Sprint(s.FilesSkipped), ""})
	}

	// Per scenario, over the variants its seed ranges ran.
	type acc struct {
		row      scRow
		variants []string
	}
	byName := map[string]*acc{}
	var names []string
	get := func(n string) *acc {
		a := byName[n]
		if a == nil {
			a = &acc{row: scRow{Name: n}}
			byName[n] = a
			names = append(names, n)
		}
		return a
	}
	for _, r := range s.Seeds {
		a := get(r.Scenario)
		a.row.Runs += r.Runs
		a.variants = append(a.variants, r.Variant)
	}
	for _, f := range s.Failures {
		get(f.Scenario).row.Failures++
	}
	for _, u := range s.Undecided {
		n, _, _ := strings.Cut(u, " seed ")
		get(n).row.Undecided++
	}
	sort.Strings(names)
	sys := map[string]*sysRow{}
	var sysNames []string
	for _, n := range names {
		a := byName[n]
		r := &a.row
		r.Variants = variantList(a.variants)
		if wk := s.Work[n]; wk != nil && wk.Runs > 0 {
			r.Work = workText(wk)
		}
		if c := s.Coverage[n]; c != nil {
			r.FactsDeclared = len(c.Declared)
			r.FactsReached = len(c.Declared) - len(c.DeclaredUnreached)
			if len(c.DeclaredUnreached) > 0 {
				d.Unreached = append(d.Unreached, unreachedRow{n, c.DeclaredUnreached})
			}
		}
		r.FactsText = factsText(r.FactsReached, r.FactsDeclared)
		ms := s.Metrics[n]
		keys := make([]string, 0, len(ms))
		for k, m := range ms {
			if m != nil && m.Count > 0 {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			r.Medians = append(r.Medians, k+" "+metricText(k, ms[k].P50))
		}
		d.Scenarios = append(d.Scenarios, *r)

		sn, _, _ := strings.Cut(n, "/")
		y := sys[sn]
		if y == nil {
			y = &sysRow{Name: sn}
			sys[sn] = y
			sysNames = append(sysNames, sn)
		}
		y.Scenarios++
		y.Runs += r.Runs
		y.Failures += r.Failures
		y.Undecided += r.Undecided
		y.FactsReached += r.FactsReached
		y.FactsDeclared += r.FactsDeclared
	}
	sort.Strings(sysNames)
	for _, sn := range sysNames {
		y := sys[sn]
		var w campaign.Work
		for _, n := range names {
			if x, _, _ := strings.Cut(n, "/"); x != sn {
				continue
			}
			if wk := s.Work[n]; wk != nil && wk.Runs > 0 {
				if w.Runs == 0 || wk.Min < w.Min {
					w.Min = wk.Min
				}
				w.Runs += wk.Runs
				w.Sum += wk.Sum
				w.ZeroRuns += wk.ZeroRuns
			}
		}
		if w.Runs > 0 {
			w.Mean = float64(w.Sum) / float64(w.Runs)
			y.Work = workText(&w)
		}
		y.FactsText = factsText(y.FactsReached, y.FactsDeclared)
		d.Systems = append(d.Systems, *y)
	}

	for i, g := range groups {
		r := groupRow{N: i + 1, Group: g, Repro: repro(g), Replay: o.Replays[g.ID], Smallest: g.Smallest.Seed}
		if g.Smallest.File != "" {
			r.Shrink = "dsim shrink " + g.Smallest.File
		}
		if r.Replay.Href == "" && r.Replay.Note == "" {
			r.Replay.Note = "none written"
		}
		d.Groups = append(d.Groups, r)
	}

	d.Config = configOf(s)
	d.Ranges = s.Seeds
	if o.Trend != nil {
		d.Trend = trendOf(o.Trend)
	}
	return d
}

func factsText(reached, declared int) string {
	if declared == 0 {
		return "-"
	}
	return fmt.Sprintf("%d of %d", reached, declared)
}

func workText(w *campaign.Work) string {
	t := strconv.FormatFloat(w.Mean, 'f', 1, 64) + "/run (min " + strconv.FormatUint(w.Min, 10)
	if w.ZeroRuns > 0 {
		t += fmt.Sprintf(", %d runs none", w.ZeroRuns)
	}
	return t + ")"
}

// metricText formats a metric's value: *_ns metrics as durations.
func metricText(name string, v float64) string {
	if strings.HasSuffix(name, "_ns") && math.Abs(v) < 1e18 {
		d := time.Duration(v)
		switch {
		case d >= time.Second:
			d = d.Round(time.Millisecond)
		case d >= time.Millisecond:
			d = d.Round(time.Microsecond)
		}
		return d.String()
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// variantList names the distinct variants, "default" for none.
func variantList(vs []string) string {
	sort.Strings(vs)
	var out []string
	for i, v := range vs {
		if i > 0 && v == vs[i-1] {
			continue
		}
		if v == "" {
			v = "default"
		}
		out = append(out, v)
	}
	return strings.Join(out, "; ")
}

// configOf describes how the campaign ran: its build, variants, seeds and
// shards.
func configOf(s *campaign.Summary) []kv {
	ver := s.DsimVersion
	if ver == "" {
		ver = "not recorded (an older dsim)"
	}
	var variants []string
	seeds := map[string]int{}
	var seedKeys []string
	shards := map[string]int{}
	var shardKeys []string
	for _, r := range s.Seeds {
		variants = append(variants, r.Variant)
		k := fmt.Sprintf("from %d, %d per scenario", r.From, r.Seeds)
		if r.Seeds == 0 {
			k = fmt.Sprintf("from %d, time-bounded", r.From)
		}
		if seeds[k] == 0 {
			seedKeys = append(seedKeys, k)
		}
		seeds[k]++
		var sh string
		switch {
		case len(r.Shards) > 0:
			sh = fmt.Sprintf("%d of %d shards merged (%s)", len(r.Shards), r.Shard.Count, shardList(r.Shards))
		case r.Shard.Count == 1:
			sh = "unsharded (or every shard merged)"
		default:
			sh = "shard " + r.Shard.String()
		}
		if shards[sh] == 0 {
			shardKeys = append(shardKeys, sh)
		}
		shards[sh]++
	}
	count := func(m map[string]int, keys []string) string {
		sort.Strings(keys)
		var out []string
		for _, k := range keys {
			out = append(out, fmt.Sprintf("%s (%d scenarios)", k, m[k]))
		}
		return strings.Join(out, "; ")
	}
	return []kv{
		{"dsim version", ver, ""},
		{"summary format", fmt.Sprint(s.FormatVersion), ""},
		{"variant", variantList(variants), ""},
		{"seeds", count(seeds, seedKeys), ""},
		{"shards", count(shards, shardKeys), ""},
		{"scenarios", fmt.Sprint(len(s.Seeds)), ""},
		{"workers", fmt.Sprint(s.Workers), ""},
		{"interrupted", fmt.Sprint(s.Interrupted), ""},
	}
}

// shardList names shard indexes as "0-2,5" (the first 20 runs, then
// "...").
func shardList(have []int) string {
	parts, more := campaign.ShardRuns(have, 20)
	if more {
		parts = append(parts, "...")
	}
	return strings.Join(parts, ",")
}

// trendView is the trend section: the table, the new and gone groups, and
// one plot per series.
type trendView struct {
	Nights []nightRow
	Plots  []plot
}

type nightRow struct {
	Night
	Inc string
}

func trendOf(t *Trend) *trendView {
	v := &trendView{}
	for _, n := range t.Nights {
		v.Nights = append(v.Nights, nightRow{Night: n, Inc: strings.Join(n.Incomplete, "; ")})
	}
	series := func(title string, f func(Night) float64) {
		vals := make([]float64, len(t.Nights))
		labels := make([]string, len(t.Nights))
		for i, n := range t.Nights {
			vals[i] = f(n)
			labels[i] = n.Name
		}
		v.Plots = append(v.Plots, makePlot(title, labels, vals))
	}
	series("failures", func(n Night) float64 { return float64(n.Failures) })
	series("failure groups", func(n Night) float64 { return float64(len(n.Groups)) })
	series("new groups", func(n Night) float64 { return float64(len(n.New)) })
	series("runs", func(n Night) float64 { return float64(n.Runs) })
	series("seeds/s", func(n Night) float64 { return n.SeedsPerS })
	return v
}

// plot is one inline SVG line chart, laid out here so that the page needs
// no script to draw it.
type plot struct {
	Title  string
	W, H   int
	Line   string // polyline points
	Points []point
	Max    string
	Last   string
	Axis   [4]float64 // x0 y0 x1 y1 of the base line
	// From and To label the first and last nights under the base line.
	From, To string
}

type point struct {
	X, Y  float64
	Label string
}

const (
	plotW, plotH = 300, 120
	plotL, plotR = 8, 8
	plotT, plotB = 18, 14
)

func makePlot(title string, labels []string, vals []float64) plot {
	p := plot{Title: title, W: plotW, H: plotH, Axis: [4]float64{plotL, plotH - plotB, plotW - plotR, plotH - plotB}}
	hi := 0.0
	for _, v := range vals {
		hi = math.Max(hi, v)
	}
	p.Max = strconv.FormatFloat(hi, 'g', 4, 64)
	if len(labels) > 0 {
		p.From = campaign.OneLine(labels[0], 24)
		if len(labels) > 1 {
			p.To = campaign.OneLine(labels[len(labels)-1], 24)
		}
	}
	if len(vals) > 0 {
		p.Last = strconv.FormatFloat(vals[len(vals)-1], 'g', 4, 64)
	}
	var pts []string
	for i, v := range vals {
		x := float64(plotL) + float64(plotW-plotL-plotR)/2
		if len(vals) > 1 {
			x = float64(plotL) + float64(i)*float64(plotW-plotL-plotR)/float64(len(vals)-1)
		}
		y := float64(plotH - plotB)
		if hi > 0 {
			y -= v / hi * float64(plotH-plotT-plotB)
		}
		x, y = math.Round(x*10)/10, math.Round(y*10)/10
		pts = append(pts, fmt.Sprintf("%g,%g", x, y))
		p.Points = append(p.Points, point{x, y, labels[i] + ": " + strconv.FormatFloat(v, 'g', 6, 64)})
	}
	p.Line = strings.Join(pts, " ")
	return p
}

// WriteFile writes the report page to path atomically (nothing under the
// name unless it is whole), with a replay page beside it for each group's
// smallest repro (see WriteReplayPages; limit bounds each replay's wall
// time). It returns the notes of replay pages it could not write.
func WriteFile(path string, s *campaign.Summary, o Options, limit time.Duration) ([]string, error) {
	if err := replay.CheckTarget(path); err != nil {
		return nil, err
	}
	if o.Replays == nil {
		o.Replays = WriteReplayPages(path, groupsOf(s), limit)
	}
	var notes []string
	for _, g := range groupsOf(s) {
		if r := o.Replays[g.ID]; r.Href == "" && r.Note != "" {
			notes = append(notes, fmt.Sprintf("%s %s: no replay page: %s", g.Scenario, g.Checker, r.Note))
		}
	}
	return notes, replay.WriteAtomic(path, func(w io.Writer) error { return Write(w, s, o) })
}

// MaxReplayPages bounds the replay pages one report writes: each is a
// replay of its failure, and the first groups (largest first) matter most.
const MaxReplayPages = 20

// WriteReplayPages replays the smallest repro of each group (at most
// MaxReplayPages of them, largest groups first) and writes its replay page
// (replay's HTML timeline) beside the report at reportPath, as
// NAME-group-N.html, atomically. A group whose failure has no file, whose
// file cannot be read or replayed, or that is a hang or a determinism
// failure (neither replays as one run) gets a note instead.
func WriteReplayPages(reportPath string, groups []campaign.Group, limit time.Duration) map[string]Replay {
	out := map[string]Replay{}
	base := strings.TrimSuffix(reportPath, filepath.Ext(reportPath))
	for i, g := range groups {
		f := g.Smallest
		switch {
		case i >= MaxReplayPages:
			out[g.ID] = Replay{Note: fmt.Sprintf("only the %d largest groups get a replay page", MaxReplayPages)}
			continue
		case f.File == "":
			out[g.ID] = Replay{Note: "no failure file (rerun it with its repro command)"}
			continue
		case f.Checker == replay.HangChecker || f.Checker == replay.DivergenceChecker:
			out[g.ID] = Replay{Note: "a " + f.Checker + " failure does not replay as one run"}
			continue
		}
		page := fmt.Sprintf("%s-group-%d.html", base, i+1)
		if err := writeReplayPage(f.File, page, limit); err != nil {
			out[g.ID] = Replay{Note: campaign.OneLine(err.Error(), 300)}
			continue
		}
		out[g.ID] = Replay{Href: filepath.ToSlash(filepath.Base(page))}
	}
	return out
}

func writeReplayPage(file, page string, limit time.Duration) error {
	f, err := replay.Read(file)
	if err != nil {
		return err
	}
	rec, err := replay.Record(f, replay.RecordOptions{Limit: limit})
	if err != nil {
		return err
	}
	var arts map[string][]byte
	if rec.Outcome != nil && rec.Outcome.Result != nil {
		arts = rec.Outcome.Result.Artifacts
	}
	po := replay.PageOptions{Porcupine: replay.PorcupineHref(file, page, arts)}
	return replay.WriteAtomic(page, func(w io.Writer) error { return rec.WriteHTML(w, po) })
}

// csp is the page's Content-Security-Policy: nothing fetched, no script or
// style but the page's own (by hash), no plugins, no forms, no base.
var csp = "default-src 'none'; script-src '" + hash(pageScript) + "'; style-src '" + hash(pageStyle) +
	"'; img-src 'none'; base-uri 'none'; form-action 'none'"

func hash(s string) string {
	h := sha256.Sum256([]byte(s))
	return "sha256-" + base64.StdEncoding.EncodeToString(h[:])
}
