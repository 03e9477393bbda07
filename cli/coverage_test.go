package cli

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// Test-only scenarios, registered in this test binary only (the dsim
// binary the other tests run does not have them): covtest/unsafe-declares
// declares a fact it never reaches; covtest/unsafe-other reaches a fact the
// first never does and declares nothing, and reports work under faults.

type covNode struct{ other bool }

func (n covNode) Start(env *sim.Env) {
	env.Sometimes("covtest: reached by both")
	if n.other {
		env.Sometimes("covtest: reached by other only")
	}
}
func (covNode) Receive(sim.NodeID, sim.Message) {}

func init() {
	for _, other := range []bool{false, true} {
		other := other
		s := &scenarios.Scenario{Name: "covtest/unsafe-declares", Unsafe: true, Duration: sim.Millisecond,
			Description: "test only: declares a fact it never reaches",
			Expect:      []string{"covtest: reached by both", "covtest: declared, never reached"}}
		if other {
			s = &scenarios.Scenario{Name: "covtest/unsafe-other", Unsafe: true, Duration: sim.Millisecond,
				Description: "test only: reaches a fact the other never does"}
		}
		s.Setup = func(c *scenarios.Cluster) error {
			c.Servers(c.W.AddNode("n0", func() sim.Node { return covNode{other: other} }))
			if other {
				c.Metric(scenarios.WorkUnderFaults, float64(c.Seed%2))
			}
			return nil
		}
		scenarios.Register(s)
	}
}

// campaignInProcess runs 'dsim campaign' in this process (so that the
// test-only scenarios exist) and returns its stdout and error.
func campaignInProcess(t *testing.T, args ...string) (string, error) {
	t.Helper()
	old := stderr
	stderr = io.Discard
	defer func() { stderr = old }()
	var out bytes.Buffer
	args = append([]string{"--seeds", "4", "--shard", "0/1", "--out", filepath.Join(t.TempDir(), "f")}, args...)
	err := cmdCampaign(args, &out)
	return out.String(), err
}

func TestCampaignPrintsOnlyDeclaredUnreachedFacts(t *testing.T) {
	out, err := campaignInProcess(t, "covtest/unsafe-declares", "covtest/unsafe-other")
	if err != nil {
		t.Fatalf("a declared fact never reached is a warning, not a failure: %v\n%s", err, out)
	}
	want := "coverage covtest/unsafe-declares: declared but never reached: covtest: declared, never reached\n"
	if !strings.Contains(out, want) {
		t.Fatalf("no line for the declared fact never reached; want %q in:\n%s", want, out)
	}
	if strings.Contains(out, "reached by other only") || strings.Contains(out, "coverage covtest/unsafe-other") {
		t.Fatalf("undeclared facts printed without --coverage:\n%s", out)
	}
	if n := strings.Count(out, "coverage covtest/unsafe-declares"); n != 1 {
		t.Fatalf("%d coverage lines for one scenario, want 1:\n%s", n, out)
	}
	if !strings.Contains(out, "coverage: 1 of 2 declared facts reached") {
		t.Fatalf("no coverage total line:\n%s", out)
	}
	// Work under faults rides on the scenario's own line: seeds 1..4 give
	// 1, 0, 1, 0.
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "covtest/unsafe-other") &&
			!strings.HasSuffix(line, "4 runs; work under faults 0.5/run (min 0)") {
			t.Fatalf("scenario line without its work under faults: %q", line)
		}
		if strings.HasPrefix(strings.TrimSpace(line), "covtest/unsafe-declares") && strings.Contains(line, "work under faults") {
			t.Fatalf("work under faults printed for a scenario that reports none: %q", line)
		}
	}

	full, err := campaignInProcess(t, "--coverage", "covtest/unsafe-declares", "covtest/unsafe-other")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"coverage covtest/unsafe-declares: reached covtest: reached by both (4); never reached: covtest: reached by other only; declared but never reached: covtest: declared, never reached\n",
		"coverage covtest/unsafe-other: reached covtest: reached by both (4), covtest: reached by other only (4)\n",
	} {
		if !strings.Contains(full, want) {
			t.Fatalf("--coverage: want %q in:\n%s", want, full)
		}
	}
}

func TestMergeCoverageFlag(t *testing.T) {
	js, err := campaignInProcess(t, "--json", "covtest/unsafe-declares", "covtest/unsafe-other")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "s.json")
	if err := os.WriteFile(p, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := cmdMerge([]string{p}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "declared but never reached: covtest: declared, never reached") ||
		strings.Contains(out.String(), "reached by other only") {
		t.Fatalf("merge without --coverage:\n%s", out.String())
	}
	out.Reset()
	if err := cmdMerge([]string{"--coverage", p}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "never reached: covtest: reached by other only") {
		t.Fatalf("merge --coverage lacks the full table:\n%s", out.String())
	}
}
