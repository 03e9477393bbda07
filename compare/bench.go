package compare

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/perf/benchfmt"

	"github.com/smilingraft/dsim/replay"
)

// Unit returns the Go benchmark unit of a metric and the factor its values
// are multiplied by: "_ns" metrics become seconds ("first_leader_ns" ->
// "first-leader-sec", x1e-9, which benchstat prints as durations), others
// keep their value with "_" as "-" ("leader_changes" -> "leader-changes").
// Failed runs are the unit "failed" (1 for a failed run, 0 for a pass).
func Unit(metric string) (unit string, factor float64) {
	if b, ok := strings.CutSuffix(metric, "_ns"); ok {
		return strings.ReplaceAll(b, "_", "-") + "-sec", 1e-9
	}
	return strings.ReplaceAll(metric, "_", "-"), 1
}

// BenchFile returns the file WriteBench writes variant i's runs to:
// a.txt, b.txt, ...
func BenchFile(i int) string { return strings.ToLower(Label(i)) + ".txt" }

// WriteBench writes the runs in Go benchmark format into dir: one file per
// variant (a.txt, b.txt, ...: `benchstat a.txt b.txt` reproduces the
// comparison of A and B) and all.txt, every variant with a "variant:"
// configuration line (`benchstat -col variant all.txt`). Each run is one
// result line named after the scenario, with one iteration, the unit
// "failed" and, for a run that passed, every compared metric (see Unit).
// It returns the paths written.
func (r *Result) WriteBench(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	write := func(name string, arms []int, withVariant bool) error {
		p := filepath.Join(dir, name)
		// Atomically: a full disk leaves no truncated file under the name.
		if err := replay.WriteAtomic(p, func(w io.Writer) error { return r.writeBench(w, arms, withVariant) }); err != nil {
			return err
		}
		paths = append(paths, p)
		return nil
	}
	all := make([]int, len(r.Arms))
	for i := range r.Arms {
		all[i] = i
		if err := write(BenchFile(i), []int{i}, false); err != nil {
			return paths, err
		}
	}
	return paths, write("all.txt", all, true)
}

func (r *Result) writeBench(w io.Writer, arms []int, withVariant bool) error {
	// A comment line (not "key: value", not "Benchmark..."): benchfmt
	// readers skip it.
	labels := make([]string, len(arms))
	for i, a := range arms {
		labels[i] = r.Arms[a].Label + " = " + variantString(r.Arms[a])
	}
	if _, err := fmt.Fprintf(w, "dsim compare %s %s, %s (written by dsim; one line per seed)\n\n",
		r.Scenario, r.SeedRange(), strings.Join(labels, "; ")); err != nil {
		return err
	}
	bw := benchfmt.NewWriter(w)
	res := &benchfmt.Result{Name: benchfmt.Name(r.Scenario), Iters: 1}
	res.SetConfig("scenario", r.Scenario)
	res.SetConfig("seeds", fmt.Sprintf("%d..%d", r.From, r.From+r.Seeds-1))
	for i := range res.Config {
		res.Config[i].File = true
	}
	for _, ai := range arms {
		a := r.Arms[ai]
		if withVariant {
			res.SetConfig("variant", variantString(a))
			if i, ok := res.ConfigIndex("variant"); ok {
				res.Config[i].File = true
			}
		}
		for _, run := range a.Runs {
			res.Values = res.Values[:0]
			failed := 1.0
			if run.Passed {
				failed = 0
			}
			res.Values = append(res.Values, benchfmt.Value{Value: failed, Unit: "failed"})
			if run.Passed {
				for _, m := range r.Metrics {
					v, ok := run.Metrics[m]
					if !ok {
						continue
					}
					u, f := Unit(m)
					res.Values = append(res.Values, benchfmt.Value{Value: v * f, Unit: u})
				}
			}
			if err := bw.Write(res); err != nil {
				return err
			}
		}
	}
	return nil
}

// variantString is the variant as "k=v,...", "(defaults)" for none,
// after the arm's scenario when arms run their own (Options.Scenarios).
func variantString(a *Arm) string {
	s := a.Variant.String()
	if s == "" {
		s = "(defaults)"
	}
	if a.Scenario != "" { // side by side: the arm's own scenario first
		s = a.Scenario + " " + s
	}
	return s
}
