package cli

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/smilingraft/dsim/campaign"
	"github.com/smilingraft/dsim/compare"
	"github.com/smilingraft/dsim/scenarios"
)

// repeated is a flag that may be given several times.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, " ") }
func (r *repeated) Set(s string) error { *r = append(*r, s); return nil }

// cmdCompare is `dsim compare SCENARIO --variant A --variant B [...]`,
// `dsim compare SCENARIO [--variant BASE] --sweep KEY=V1,V2[,...]`, or
// `dsim compare SCENARIO1 SCENARIO2 [--variant V1 --variant V2]` (two
// implementations side by side on the same seeds; sidebyside.go).
func cmdCompare(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	var variants, metrics repeated
	fs.Var(&variants, "variant", "a variant k=v[,k=v] to compare (repeat: the first is the baseline; '' is the defaults); with --sweep, at most one: the base of every swept variant")
	sweep := fs.String("sweep", "", "KEY=V1,V2[,V3...]: one variant per value of KEY (the first is the baseline)")
	fs.Var(&metrics, "metric", "compare only this metric (repeat; default: every metric the runs recorded)")
	seedsStr := fs.String("seeds", "100", "seeds per variant")
	fromStr := fs.String("from", "1", "first seed")
	workers := fs.Int("workers", 0, "worlds run at once (0: one per core)")
	benchOut := fs.String("bench-out", "", "write Go benchmark files (a.txt, b.txt, ..., all.txt) into DIR for benchstat")
	plotDir := fs.String("plot", "", "draw the distributions (SVG and PNG) into DIR")
	asJSON := fs.Bool("json", false, "print the table and failures as JSON")
	watchdog := fs.Duration("watchdog", 60*time.Second, "wall-clock limit per run")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 && len(pos) != 2 {
		return usagef("want one SCENARIO, or two to compare side by side (see 'dsim list')")
	}
	s, err := scenarios.Lookup(pos[0])
	if err != nil {
		return usagef("%v", err)
	}
	o := compare.Options{Scenario: s, Metrics: metrics, Watchdog: *watchdog}
	if len(pos) == 2 {
		if err := sideBySide(&o, pos[1], &variants, *sweep); err != nil {
			return usagef("%v", err)
		}
	}
	seeds, err := strconv.ParseUint(*seedsStr, 10, 64)
	if err != nil || seeds == 0 {
		return usagef("bad --seeds %q: want a positive integer", *seedsStr)
	}
	o.Seeds = seeds
	if o.From, err = parseSeed(*fromStr); err != nil {
		return usagef("bad --from %q: want a non-negative integer", *fromStr)
	}
	if *workers < 0 {
		return usagef("--workers must be non-negative")
	}
	o.Workers = *workers
	if *watchdog <= 0 {
		return usagef("--watchdog must be positive")
	}
	if *sweep != "" {
		if o.Variants, o.Labels, o.SweepKey, err = sweepVariants(*sweep, variants); err != nil {
			return usagef("%v", err)
		}
	} else {
		for _, v := range variants {
			pv, err := scenarios.ParseVariant(v)
			if err != nil {
				if k, _, ok := strings.Cut(v, "="); ok && strings.Count(v, "=") == 1 && strings.Contains(v, ",") {
					return usagef("%v (to compare values of one key use --sweep %s=V1,V2,...)", err, k)
				}
				return usagef("%v", err)
			}
			o.Variants = append(o.Variants, pv)
		}
	}
	if len(o.Variants) < 2 {
		return usagef("want at least two variants: --variant A --variant B [...], or --sweep KEY=V1,V2[,...]")
	}
	if err := o.Validate(); err != nil {
		return usagef("%v", err)
	}
	// Everything that can be refused is refused before the first seed.
	if err := checkOutDir("bench-out", *benchOut); err != nil {
		return err
	}
	if err := checkOutDir("plot", *plotDir); err != nil {
		return err
	}
	if err := o.CheckMetrics(); err != nil {
		return usagef("%v", err)
	}
	ctx, release := catchInterrupts()
	defer release()
	o.Stop = ctx.Done()
	res, err := compare.Execute(o)
	release()
	if err != nil {
		return usagef("%v", err)
	}
	rows := res.Table()
	if *asJSON {
		type arm struct {
			Label         string `json:"label"`
			Variant       string `json:"variant"`
			Runs          int    `json:"runs"`
			Failures      int    `json:"failures"`
			SeedsToFirst  int    `json:"seeds_to_first_failure,omitempty"`
			FirstFailSeed uint64 `json:"first_failure_seed,omitempty"`
		}
		out := struct {
			Scenario string         `json:"scenario"`
			From     uint64         `json:"from"`
			Seeds    uint64         `json:"seeds"`
			Arms     []arm          `json:"variants"`
			Rows     []compare.Row  `json:"metrics"`
			Alpha    float64        `json:"alpha"`
			Conf     float64        `json:"confidence"`
			Files    map[string]any `json:"files,omitempty"`
		}{Scenario: res.Scenario, From: res.From, Seeds: res.Seeds, Rows: jsonSafe(rows), Alpha: res.Alpha, Conf: res.Confidence}
		for _, a := range res.Arms {
			n, seed := a.SeedsToFirstFailure()
			out.Arms = append(out.Arms, arm{a.Label, a.Variant.String(), len(a.Runs), a.Failures(), n, seed})
		}
		if err := writeJSON(stdout, out); err != nil {
			return err
		}
	} else if err := res.WriteText(stdout, rows); err != nil {
		return err
	}
	info := stdout
	if *asJSON {
		info = stderr
	}
	if *benchOut != "" {
		paths, err := res.WriteBench(*benchOut)
		if err != nil {
			return incompleteError{[]string{fmt.Sprintf("--bench-out: %v", err)}}
		}
		fmt.Fprintf(info, "benchmark files: %s (benchstat %s %s)\n", strings.Join(paths, " "), paths[0], paths[1])
	}
	if *plotDir != "" {
		files, err := res.Plot(*plotDir, rows)
		if err != nil {
			return incompleteError{[]string{fmt.Sprintf("--plot: %v", err)}}
		}
		fmt.Fprintf(info, "plots: %d files in %s\n", len(files), *plotDir)
	}
	if res.Interrupted {
		return interrupted(ctx, fmt.Sprintf("compare stopped after %d of %d seeds per variant; the results cover those", res.Seeds, seeds))
	}
	// The CLI contract: a property that failed is exit 1, here as in run
	// and campaign (the table is the comparison; the failures are bugs).
	for _, a := range res.Arms {
		if a.Failures() > 0 {
			return errFailed
		}
	}
	return nil
}

// sweepVariants turns KEY=V1,V2,... (and at most one base variant) into
// one variant per value (labelled A, B, C... like any variant).
func sweepVariants(sweep string, base []string) (vs []scenarios.Variant, labels []string, key string, err error) {
	key, list, ok := strings.Cut(sweep, "=")
	key = strings.TrimSpace(key)
	if !ok || key == "" || strings.Contains(list, "=") {
		return nil, nil, "", fmt.Errorf("bad --sweep %q: want KEY=V1,V2[,...] (one key)", sweep)
	}
	if len(base) > 1 {
		return nil, nil, "", fmt.Errorf("with --sweep give at most one --variant (the base of every swept variant)")
	}
	b := scenarios.Variant{}
	if len(base) == 1 {
		if b, err = scenarios.ParseVariant(base[0]); err != nil {
			return nil, nil, "", err
		}
	}
	if _, ok := b[key]; ok {
		return nil, nil, "", fmt.Errorf("--sweep key %s is also set by --variant", key)
	}
	seen := map[string]bool{}
	for _, val := range strings.Split(list, ",") {
		val = strings.TrimSpace(val)
		if val == "" || seen[val] {
			return nil, nil, "", fmt.Errorf("bad --sweep %q: empty or repeated value", sweep)
		}
		seen[val] = true
		v := scenarios.Variant{key: val}
		for k, x := range b {
			v[k] = x
		}
		vs = append(vs, v)
	}
	if len(vs) < 2 {
		return nil, nil, "", fmt.Errorf("bad --sweep %q: want at least two values", sweep)
	}
	return vs, labels, key, nil
}

// jsonSafe replaces the infinite confidence bounds of tiny samples (which
// JSON cannot carry) by NaN-free nulls: here, the median itself, with a
// warning already in the cell.
func jsonSafe(rows []compare.Row) []compare.Row {
	out := make([]compare.Row, len(rows))
	for i, r := range rows {
		out[i] = compare.Row{Metric: r.Metric, Cells: append([]compare.Cell(nil), r.Cells...)}
		for j := range out[i].Cells {
			c := &out[i].Cells[j]
			for _, f := range []*float64{&c.Median, &c.Lo, &c.Hi} {
				if *f != *f || *f > 1e308 || *f < -1e308 {
					*f = c.Median
					if *f != *f || *f > 1e308 || *f < -1e308 {
						*f = 0
					}
				}
			}
		}
	}
	return out
}

// printMetrics prints a campaign summary's metrics as a table, per
// scenario and metric: runs that recorded it, mean, p50, p90, p99, min and
// max ("_ns" metrics as durations of virtual time). `campaign --metrics`
// and `campaign merge --metrics` print it after the summary.
func printMetrics(w io.Writer, s *campaign.Summary) {
	names := make([]string, 0, len(s.Metrics))
	for n := range s.Metrics {
		names = append(names, n)
	}
	sort.Strings(names)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tmetric\truns\tmean\tp50\tp90\tp99\tmin\tmax\t")
	for _, n := range names {
		ms := s.Metrics[n]
		keys := make([]string, 0, len(ms))
		for k := range ms {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			d := ms[k]
			if d == nil || d.Count == 0 || strings.Contains(k, "wall") {
				continue
			}
			f := func(v float64) string { return compare.Format(k, v) }
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", esc(n), esc(k), d.Count, f(d.Mean), f(d.P50), f(d.P90), f(d.P99), f(d.Min), f(d.Max))
		}
	}
	tw.Flush()
}
