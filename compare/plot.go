package compare

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/smilingraft/dsim/replay"
)

// palette colours the variants (Okabe-Ito, distinguishable in colour
// blindness), cycling past eight.
var palette = []color.Color{
	color.RGBA{0, 114, 178, 255}, color.RGBA{213, 94, 0, 255}, color.RGBA{0, 158, 115, 255},
	color.RGBA{204, 121, 167, 255}, color.RGBA{230, 159, 0, 255}, color.RGBA{86, 180, 233, 255},
	color.RGBA{240, 228, 66, 255}, color.RGBA{0, 0, 0, 255},
}

// Plot draws every compared metric into dir, each as SVG and PNG: a box
// plot per variant (METRIC-box), for durations ("_ns": latencies,
// unavailability) the CDF over runs with one line per variant
// (METRIC-cdf), and for a sweep the median with its confidence interval
// against the swept value (METRIC-sweep). Titles name the scenario, the
// variants and the seed range. It returns the files written.
func (r *Result) Plot(dir string, rows []Row) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []string
	save := func(p *plot.Plot, name string, w vg.Length) error {
		for _, ext := range []string{".svg", ".png"} {
			f := filepath.Join(dir, name+ext)
			wt, err := p.WriterTo(w, 4*vg.Inch, ext[1:])
			if err != nil {
				return fmt.Errorf("plot %s: %w", f, err)
			}
			// Atomically: a full disk leaves no truncated picture.
			if err := replay.WriteAtomic(f, func(out io.Writer) error { _, err := wt.WriteTo(out); return err }); err != nil {
				return fmt.Errorf("plot: %w", err)
			}
			files = append(files, f)
		}
		return nil
	}
	for _, row := range rows {
		if p, ok := r.boxPlot(row.Metric); ok {
			if err := save(p, fileName(row.Metric)+"-box", vg.Length(3+len(r.Arms))*vg.Inch); err != nil {
				return files, err
			}
		}
		if strings.HasSuffix(row.Metric, "_ns") {
			if p, ok := r.cdfPlot(row.Metric); ok {
				if err := save(p, fileName(row.Metric)+"-cdf", 6*vg.Inch); err != nil {
					return files, err
				}
			}
		}
		if r.SweepKey != "" {
			if p, ok := r.sweepPlot(row); ok {
				if err := save(p, fileName(row.Metric)+"-sweep", 6*vg.Inch); err != nil {
					return files, err
				}
			}
		}
	}
	return files, nil
}

// fileName keeps a metric name safe as a file name.
func fileName(metric string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == ' ' || r == ':' {
			return '_'
		}
		return r
	}, metric)
}

// title is "SCENARIO: METRIC" over the variants and seed range.
func (r *Result) title(metric string) string {
	var vs []string
	for _, a := range r.Arms {
		vs = append(vs, a.Label+" "+variantString(a))
	}
	t := fmt.Sprintf("%s: %s, %s\n%s", r.Scenario, metric, r.SeedRange(), strings.Join(vs, " | "))
	if len(t) > 200 {
		t = t[:197] + "..."
	}
	return t
}

// scaled returns a metric's values in the unit its axis shows: "_ns" in
// seconds.
func scaled(metric string, vs []float64) ([]float64, string) {
	if strings.HasSuffix(metric, "_ns") {
		out := make([]float64, len(vs))
		for i, v := range vs {
			out[i] = v / 1e9
		}
		return out, strings.TrimSuffix(metric, "_ns") + " (s, virtual time)"
	}
	return vs, metric
}

func (r *Result) newPlot(metric string) *plot.Plot {
	p := plot.New()
	p.Title.Text = r.title(metric)
	p.Add(plotter.NewGrid())
	return p
}

func (r *Result) boxPlot(metric string) (*plot.Plot, bool) {
	p := r.newPlot(metric)
	var names []string
	any := false
	for i, a := range r.Arms {
		vs, label := scaled(metric, a.Values(metric))
		p.Y.Label.Text = label
		names = append(names, a.Label)
		if len(vs) == 0 {
			continue
		}
		b, err := plotter.NewBoxPlot(vg.Points(30), float64(i), plotter.Values(vs))
		if err != nil {
			continue
		}
		b.FillColor = palette[i%len(palette)]
		p.Add(b)
		any = true
	}
	p.NominalX(names...)
	return p, any
}

func (r *Result) cdfPlot(metric string) (*plot.Plot, bool) {
	p := r.newPlot(metric)
	p.Y.Label.Text = "fraction of runs"
	p.Legend.Top = false
	p.Legend.Left = false
	any := false
	for i, a := range r.Arms {
		vs, label := scaled(metric, a.Values(metric))
		p.X.Label.Text = label
		if len(vs) == 0 {
			continue
		}
		sort.Float64s(vs)
		pts := make(plotter.XYs, 0, 2*len(vs))
		for j, v := range vs {
			if j > 0 {
				pts = append(pts, plotter.XY{X: v, Y: float64(j) / float64(len(vs))})
			}
			pts = append(pts, plotter.XY{X: v, Y: float64(j+1) / float64(len(vs))})
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			continue
		}
		l.Color = palette[i%len(palette)]
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(a.Label+" "+variantString(a), l)
		any = true
	}
	return p, any
}

// sweepPlot draws each variant's median and confidence interval against
// the swept key's value (numeric values on a numeric axis, others in
// order).
func (r *Result) sweepPlot(row Row) (*plot.Plot, bool) {
	p := r.newPlot(row.Metric)
	p.X.Label.Text = r.SweepKey
	_, p.Y.Label.Text = scaled(row.Metric, nil)
	factor := 1.0
	if strings.HasSuffix(row.Metric, "_ns") {
		factor = 1e-9
	}
	var pts plotter.XYs
	var errs plotter.YErrors
	var names []string
	numeric := true
	for _, a := range r.Arms {
		if _, err := strconv.ParseFloat(a.Variant[r.SweepKey], 64); err != nil {
			numeric = false
		}
	}
	for i, a := range r.Arms {
		c := row.Cells[i]
		names = append(names, a.Variant[r.SweepKey])
		if c.N == 0 {
			continue
		}
		x := float64(i)
		if numeric {
			x, _ = strconv.ParseFloat(a.Variant[r.SweepKey], 64)
		}
		lo, hi := c.Lo, c.Hi
		if math.IsInf(lo, 0) || math.IsNaN(lo) {
			lo = c.Median
		}
		if math.IsInf(hi, 0) || math.IsNaN(hi) {
			hi = c.Median
		}
		pts = append(pts, plotter.XY{X: x, Y: c.Median * factor})
		errs = append(errs, struct{ Low, High float64 }{(c.Median - lo) * factor, (hi - c.Median) * factor})
	}
	if len(pts) == 0 {
		return nil, false
	}
	l, s, err := plotter.NewLinePoints(pts)
	if err != nil {
		return nil, false
	}
	l.Color, s.Color = palette[0], palette[0]
	p.Add(l, s)
	eb, err := plotter.NewYErrorBars(errBars{pts, errs})
	if err == nil {
		p.Add(eb)
	}
	if !numeric {
		p.NominalX(names...)
	}
	return p, true
}

// errBars joins points and their error bars for plotter.NewYErrorBars.
type errBars struct {
	plotter.XYs
	plotter.YErrors
}
