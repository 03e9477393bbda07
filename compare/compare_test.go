package compare

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/perf/benchfmt"

	"github.com/smilingraft/dsim/scenarios"
	_ "github.com/smilingraft/dsim/scenarios/all"
)

func variant(t *testing.T, s string) scenarios.Variant {
	t.Helper()
	v, err := scenarios.ParseVariant(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func execute(t *testing.T, scenario string, seeds uint64, vs ...string) *Result {
	t.Helper()
	s, err := scenarios.Lookup(scenario)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Scenario: s, From: 1, Seeds: seeds}
	for _, v := range vs {
		o.Variants = append(o.Variants, variant(t, v))
	}
	r, err := Execute(o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

const (
	fast = "raft.election_min_ms=100,raft.election_max_ms=200,raft.heartbeat_ms=50"
	slow = "raft.election_min_ms=1000,raft.election_max_ms=2000"
)

// A 100 ms and a 1 s election range truly differ: the first leader comes
// about ten times later, and the U test says so.
func TestTrulyDifferentVariantsAreSignificant(t *testing.T) {
	r := execute(t, "raft/unreliable-churn", 12, fast, slow)
	rows := r.Table()
	row := Find(rows, "first_leader_ns")
	if row == nil {
		t.Fatalf("no first_leader_ns among %v", r.Metrics)
	}
	a, b := row.Cells[0], row.Cells[1]
	if a.N != 12 || b.N != 12 {
		t.Fatalf("n = %d, %d; want 12 passed runs each", a.N, b.N)
	}
	if !b.Significant || b.P >= 0.05 || !strings.HasPrefix(b.Delta, "+") {
		t.Fatalf("1s vs 100ms election range: p=%v significant=%v delta=%q; want a significant increase", b.P, b.Significant, b.Delta)
	}
	if b.Median < 5*a.Median {
		t.Fatalf("median first leader %v (1s range) vs %v (100ms range): want about 10x", b.Median, a.Median)
	}
}

// Two variants that run the same protocol (the same variant twice, and
// one with Raft's assertions off, which changes nothing in a safe run)
// differ significantly in no metric.
func TestIdenticalVariantsAreNotSignificant(t *testing.T) {
	r := execute(t, "raft/unreliable-churn", 12, "raft.prevote=true", "raft.prevote=true", "raft.prevote=true,raft.assertions=false")
	rows := r.Table()
	if len(rows) < 10 {
		t.Fatalf("only %d metrics compared", len(rows))
	}
	for _, row := range rows {
		for i, c := range row.Cells[1:] {
			if c.Significant || (c.Delta != "~" && c.Delta != "") {
				t.Errorf("%s: variant %s differs from A: p=%v delta %q", row.Metric, r.Arms[i+1].Label, c.P, c.Delta)
			}
		}
	}
	var out bytes.Buffer
	if err := r.WriteText(&out, rows); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "~ (p=1.000 n=12)") {
		t.Fatalf("text table without the not-significant mark:\n%s", out.String())
	}
}

// Failures count: an unsafe variant fails on some seeds; the comparison
// reports its failure rate and the seeds run until the first failure.
func TestFailuresCount(t *testing.T) {
	r := execute(t, "raft/figure8-adversary", 6, "", "raft.unsafe_commit_prior_term=true")
	if n := r.Arms[0].Failures(); n != 0 {
		t.Fatalf("the safe variant failed %d times", n)
	}
	n, seed := r.Arms[1].SeedsToFirstFailure()
	if r.Arms[1].Failures() == 0 || n == 0 || seed != uint64(n) {
		t.Fatalf("unsafe variant: %d failures, first after %d seeds (seed %d)", r.Arms[1].Failures(), n, seed)
	}
	var out bytes.Buffer
	if err := r.WriteText(&out, r.Table()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "(seed ") {
		t.Fatalf("no first failing seed in the table:\n%s", out.String())
	}
}

// The benchmark files hold one line per seed in every variant's file, and
// benchstat, when it can be built from the module cache, reproduces the
// comparison: the same delta for first-leader-sec.
func TestBenchFilesReproduceWithBenchstat(t *testing.T) {
	r := execute(t, "raft/unreliable-churn", 12, fast, slow)
	dir := t.TempDir()
	paths, err := r.WriteBench(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 3 {
		t.Fatalf("wrote %v", paths)
	}
	for i, p := range paths[:2] {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		rd := benchfmt.NewReader(f, p)
		lines := 0
		for rd.Scan() {
			res, ok := rd.Result().(*benchfmt.Result)
			if !ok {
				t.Fatalf("%s: %v", p, rd.Result())
			}
			lines++
			if v, ok := res.Value("failed"); !ok || v != 0 {
				t.Fatalf("%s: failed = %v, %v", p, v, ok)
			}
			if _, ok := res.Value("first-leader-sec"); !ok {
				t.Fatalf("%s: no first-leader-sec in %+v", p, res.Values)
			}
			if res.GetConfig("scenario") != "raft/unreliable-churn" {
				t.Fatalf("%s: config %+v", p, res.Config)
			}
		}
		f.Close()
		if lines != 12 {
			t.Fatalf("variant %d: %d result lines, want 12", i, lines)
		}
	}
	bin := filepath.Join(t.TempDir(), "benchstat")
	if out, err := exec.Command("go", "build", "-o", bin, "golang.org/x/perf/cmd/benchstat").CombinedOutput(); err != nil {
		t.Skipf("benchstat cannot be built here (%v): %s", err, firstLine(string(out)))
	}
	out, err := exec.Command(bin, paths[0], paths[1]).CombinedOutput()
	if err != nil {
		t.Fatalf("benchstat: %v\n%s", err, out)
	}
	want := Find(r.Table(), "first_leader_ns").Cells[1].Delta
	found := false
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, want) && strings.Contains(line, "p=0.000 n=12") {
			found = true
		}
	}
	if !found {
		t.Fatalf("benchstat does not show first-leader-sec %s (p=0.000 n=12):\n%s", want, out)
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func TestPlotsAndSweep(t *testing.T) {
	s, err := scenarios.Lookup("raft/initial-election")
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Scenario: s, From: 1, Seeds: 5, SweepKey: "raft.election_min_ms", Metrics: []string{"first_leader_ns", "leader_changes"}}
	for _, v := range []string{"150", "300", "600"} {
		o.Variants = append(o.Variants, scenarios.Variant{"raft.election_min_ms": v, "raft.election_max_ms": "1200"})
		o.Labels = append(o.Labels, v)
	}
	r, err := Execute(o)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files, err := r.Plot(dir, r.Table())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"first_leader_ns-box.svg", "first_leader_ns-cdf.png", "first_leader_ns-sweep.svg",
		"first_leader_ns-sweep.png", "leader_changes-box.png"} {
		b, err := os.ReadFile(filepath.Join(dir, want))
		if err != nil || len(b) < 500 {
			t.Fatalf("%s: %d bytes, %v (wrote %v)", want, len(b), err, files)
		}
	}
	svg, _ := os.ReadFile(filepath.Join(dir, "first_leader_ns-cdf.svg"))
	for _, want := range []string{"raft/initial-election", "seeds 1..5"} {
		if !bytes.Contains(svg, []byte(want)) {
			t.Errorf("the CDF's title lacks %q", want)
		}
	}
}

func TestValidate(t *testing.T) {
	s, _ := scenarios.Lookup("raft/initial-election")
	two := []scenarios.Variant{{}, {}}
	for name, o := range map[string]Options{
		"one variant":     {Scenario: s, Variants: two[:1], Seeds: 3},
		"no seeds":        {Scenario: s, Variants: two, Seeds: 0},
		"too many seeds":  {Scenario: s, Variants: two, Seeds: MaxSeeds + 1},
		"unknown key":     {Scenario: s, Variants: []scenarios.Variant{{}, {"raft.nosuch": "1"}}, Seeds: 3},
		"past last seed":  {Scenario: s, Variants: two, Seeds: 3, From: ^uint64(0)},
		"labels mismatch": {Scenario: s, Variants: two, Seeds: 3, Labels: []string{"x"}},
	} {
		if err := o.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := Execute(Options{Scenario: s, Variants: two, Seeds: 2, Metrics: []string{"no_such_metric"}}); err == nil ||
		!strings.Contains(err.Error(), "unknown metric") {
		t.Errorf("unknown metric: %v", err)
	}
}
