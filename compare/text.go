package compare

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Format prints a metric's value for people: "_ns" metrics as durations
// (virtual time), others with four significant digits.
func Format(metric string, v float64) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case math.IsInf(v, 1):
		return "+inf"
	case math.IsInf(v, -1):
		return "-inf"
	case strings.HasSuffix(metric, "_ns"):
		d := time.Duration(math.Round(v))
		switch {
		case d == 0 || d >= time.Second || d <= -time.Second:
			return d.Round(time.Millisecond).String()
		case d >= time.Millisecond || d <= -time.Millisecond:
			return d.Round(10 * time.Microsecond).String()
		}
		return d.String()
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// SeedRange prints the corpus as "seeds A..B".
func (r *Result) SeedRange() string {
	if r.Seeds == 1 {
		return fmt.Sprintf("seed %d", r.From)
	}
	return fmt.Sprintf("seeds %d..%d", r.From, r.From+r.Seeds-1)
}

// WriteText prints the comparison: the variants, their failures, and per
// metric each variant's median with its confidence interval and, for every
// variant after the first, the change against the first with the U test's
// p-value (benchstat's "~" when not significant at Alpha).
func (r *Result) WriteText(w io.Writer, rows []Row) error {
	fmt.Fprintf(w, "dsim compare %s: %s, %d variants, %d runs, %.1fs\n", r.Scenario, r.SeedRange(),
		len(r.Arms), uint64(len(r.Arms))*r.Seeds, float64(r.WallNs)/1e9)
	for i, a := range r.Arms {
		fmt.Fprintf(w, "  %s: %s", a.Label, variantString(a))
		if same, n := r.SamePlans(i); i > 0 && a.Scenario != "" && n > 0 {
			fmt.Fprintf(w, " (fault plan identical to %s's on %d of %d seeds)", r.Arms[0].Label, same, n)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "failures")
	for _, a := range r.Arms {
		fmt.Fprintf(tw, "\t%s", a.Label)
	}
	fmt.Fprint(tw, "\t\nrate")
	for _, a := range r.Arms {
		fmt.Fprintf(tw, "\t%d/%d", a.Failures(), len(a.Runs))
	}
	fmt.Fprint(tw, "\t\nseeds to first")
	for _, a := range r.Arms {
		if n, seed := a.SeedsToFirstFailure(); n > 0 {
			fmt.Fprintf(tw, "\t%d (seed %d)", n, seed)
		} else {
			fmt.Fprint(tw, "\tnone")
		}
	}
	fmt.Fprint(tw, "\t\n")
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)

	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	conf := fmt.Sprintf("%.0f%%", r.Confidence*100)
	fmt.Fprint(tw, "metric")
	for _, a := range r.Arms {
		fmt.Fprintf(tw, "\t%s median [%s CI]", a.Label, conf)
	}
	for _, a := range r.Arms[1:] {
		fmt.Fprintf(tw, "\t%s vs %s", a.Label, r.Arms[0].Label)
	}
	fmt.Fprint(tw, "\t\n")
	var warned []string
	for _, row := range rows {
		fmt.Fprint(tw, row.Metric)
		for _, c := range row.Cells {
			if c.N == 0 {
				fmt.Fprint(tw, "\t-")
				continue
			}
			fmt.Fprintf(tw, "\t%s [%s, %s]", Format(row.Metric, c.Median), Format(row.Metric, c.Lo), Format(row.Metric, c.Hi))
		}
		for _, c := range row.Cells[1:] {
			n0 := row.Cells[0].N
			switch {
			case c.N == 0 || n0 == 0:
				fmt.Fprint(tw, "\t-")
			case n0 == c.N:
				fmt.Fprintf(tw, "\t%s (p=%.3f n=%d)", c.Delta, c.P, c.N)
			default:
				fmt.Fprintf(tw, "\t%s (p=%.3f n=%d+%d)", c.Delta, c.P, n0, c.N)
			}
		}
		fmt.Fprint(tw, "\t\n")
		for _, c := range row.Cells {
			if len(c.Warnings) > 0 {
				warned = append(warned, row.Metric+": "+c.Warnings[0])
				break
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nmedians of the runs that passed; %s confidence intervals; vs %s: change of the medians, Mann-Whitney U test, ~ = not significant at alpha %.2f\n",
		conf, r.Arms[0].Label, r.Alpha)
	for i, s := range warned {
		if i == 5 {
			fmt.Fprintf(w, "... %d more metrics with warnings\n", len(warned)-5)
			break
		}
		fmt.Fprintf(w, "warning %s\n", s)
	}
	return nil
}
