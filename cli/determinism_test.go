package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smilingraft/dsim/replay"
	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// mapPinger breaks the determinism rules on purpose: every millisecond it
// ranges over a Go map of its peers and pings the first one the iteration
// yields, so two runs of one seed send to different peers (the chance
// that 40 ticks agree is 4^-40).
type mapPinger struct{ peers map[string]sim.NodeID }

func (m *mapPinger) Start(env *sim.Env) {
	var tick func()
	tick = func() {
		for name, id := range m.peers {
			env.Send(id, "ping "+name)
			break
		}
		env.After(sim.Millisecond, tick)
	}
	env.After(sim.Millisecond, tick)
}

func (m *mapPinger) Receive(sim.NodeID, sim.Message) {}

type quiet struct{}

func (quiet) Start(*sim.Env)                  {}
func (quiet) Receive(sim.NodeID, sim.Message) {}

func init() {
	scenarios.Register(&scenarios.Scenario{Name: "test/unsafe-map-order", Unsafe: true, Duration: 40 * sim.Millisecond,
		Description: "test only: a node ranges over a Go map to choose whom to ping",
		Faults: func(scenarios.Variant) sim.Faults {
			return sim.Faults{Step: 5 * sim.Millisecond, Process: sim.ProcessFaults{Pause: sim.Ratio{Num: 1, Den: 2}}}
		},
		Setup: func(c *scenarios.Cluster) error {
			peers := map[string]sim.NodeID{}
			for _, n := range []string{"p1", "p2", "p3", "p4"} {
				peers[n] = c.W.AddNode(n, func() sim.Node { return quiet{} })
			}
			c.Servers(peers["p1"], peers["p2"], peers["p3"], peers["p4"])
			c.W.AddNode("pinger", func() sim.Node { return &mapPinger{peers: peers} })
			return nil
		}})
}

// A nondeterminism caught by the campaign's double run replays as two
// runs that still differ (REPRODUCED, with the first differing event of
// each), and shrinks while they keep differing: every fault action goes,
// since none is needed for the node to diverge.
func TestDeterminismFailureReplaysAndShrinks(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := run(t, "campaign", "test/unsafe-map-order", "--seeds", "1", "--check-determinism", "--out", dir)
	if code != 1 {
		t.Fatalf("campaign exit %d, want 1:\n%s%s", code, out, errs)
	}
	m, _ := filepath.Glob(filepath.Join(dir, "*-determinism*.json"))
	if len(m) != 1 {
		t.Fatalf("determinism failure files %v:\n%s", m, out)
	}
	file := m[0]
	f, err := replay.Read(file)
	if err != nil || len(f.Plan) == 0 {
		t.Fatalf("failure file: %v, %d plan actions (want some to shrink away)", err, len(f.Plan))
	}

	code, out, errs = run(t, "replay", file)
	if code != 1 || !strings.Contains(out, "REPRODUCED determinism: two runs of seed 1 differ") ||
		!strings.Contains(out, "  run 1: #") || !strings.Contains(out, "  run 2: #") || !strings.Contains(out, "ping p") {
		t.Fatalf("replay exit %d, want 1 and REPRODUCED with each run's first differing event:\n%s%s", code, out, errs)
	}
	if code, out, errs := run(t, "replay", file, "--html", filepath.Join(dir, "x.html")); code != 2 || strings.Count(errs, "\n") != 1 {
		t.Fatalf("replay --html of a determinism failure: exit %d, want 2 and one line:\n%s%s", code, out, errs)
	}

	if code, out, errs := run(t, "explain", file); code != 2 || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "determinism") {
		t.Fatalf("explain of a determinism failure: exit %d, want 2 and one line:\n%s%s", code, out, errs)
	}

	small := filepath.Join(dir, "small.json")
	code, out, errs = run(t, "shrink", file, "--out", small)
	if code != 0 || !strings.Contains(out, "shrunk test/unsafe-map-order seed 1 (determinism)") {
		t.Fatalf("shrink exit %d:\n%s%s", code, out, errs)
	}
	g, err := replay.Read(small)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Plan) != 0 || g.Failure.Checker != replay.DivergenceChecker || !strings.Contains(g.Failure.Message, "differ") {
		b, _ := json.Marshal(g.Failure)
		t.Fatalf("shrunk file: %d plan actions (want 0), failure %s", len(g.Plan), b)
	}
	if code, out, errs := run(t, "replay", small); code != 1 || !strings.Contains(out, "REPRODUCED determinism") {
		t.Fatalf("replay of the shrunk file: exit %d:\n%s%s", code, out, errs)
	}
	if _, err := os.Stat(small); err != nil {
		t.Fatal(err)
	}
}
