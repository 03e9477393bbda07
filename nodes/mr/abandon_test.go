package mr

import (
	"strings"
	"testing"

	"github.com/smilingraft/dsim/sim"
)

// mrRig is a coordinator, an FS holding two inputs, and one word-count
// worker, on a reliable network.
type mrRig struct {
	w                 *sim.World
	coord, fs, worker sim.NodeID
	exits             []string
}

func newMRRig(cfg Config) *mrRig {
	r := &mrRig{w: sim.NewWorld(1, sim.Options{Net: sim.NetOptions{DelayMin: sim.Millisecond, DelayMax: 2 * sim.Millisecond}})}
	r.fs = r.w.AddNode("fs", func() sim.Node { return &FS{} })
	files := []string{"in-a", "in-b"}
	d := r.w.Disk(r.fs)
	d.Write("in-a", []byte("one two two"))
	d.Write("in-b", []byte("three three three"))
	d.Sync()
	r.coord = r.w.AddNode("coord", func() sim.Node { return &Coordinator{Files: files, Config: cfg} })
	r.worker = r.w.AddNode("worker", func() sim.Node {
		return &Worker{Coord: r.coord, FS: r.fs, App: WC(), Config: cfg, OnExit: func(why string) { r.exits = append(r.exits, why) }}
	})
	return r
}

func (r *mrRig) run(d sim.Duration) { r.w.RunUntil(r.w.Now().Add(d)) }

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.NReduce = 1
	cfg.RPCTimeout = 100 * sim.Millisecond
	cfg.FSRetries = 2
	cfg.MaxContactFailures = 3
	cfg.Poll = 50 * sim.Millisecond
	return cfg
}

// TestWorkerAbandonsTaskWhenFSIsGone reaches the worker's abandon path and
// the coordinator's re-issue of an abandoned task, which no seed of the
// default campaign executes (issue 23 item 5: the scenarios never cut the FS
// off for a whole FSRetries budget): the FS is cut off while the worker
// runs a map, every copy of its FS request times out, it gives the task up,
// and once the FS is back the job still finishes with the right output.
func TestWorkerAbandonsTaskWhenFSIsGone(t *testing.T) {
	r := newMRRig(testConfig())
	r.run(20 * sim.Millisecond) // the worker holds its first map
	r.w.Isolate(r.fs, []sim.NodeID{r.coord, r.worker})
	r.run(10 * sim.Second)
	if r.w.Coverage()["mr: worker abandoned a task"] == 0 {
		t.Fatalf("the worker never abandoned a task while the FS was cut off (exits %q, facts %v, files %v)", r.exits, r.w.Coverage(), r.w.Disk(r.fs).List())
	}
	r.w.Heal()
	r.run(30 * sim.Second)
	if len(r.exits) != 1 || r.exits[0] != "job done" {
		t.Fatalf("worker exits %q, want job done", r.exits)
	}
	out, ok := r.w.Disk(r.fs).Read("mr-out-0")
	if !ok || string(out) == "" {
		t.Fatalf("no output after the heal (files %v)", r.w.Disk(r.fs).List())
	}
	for _, want := range []string{"one 1", "two 2", "three 3"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output %q lacks %q", out, want)
		}
	}
}

// TestWorkerExitsWhenCoordinatorIsGone reaches the worker's "coordinator
// unreachable" exit, never executed by the default campaign (its
// coordinator is never cut off for MaxContactFailures rounds).
func TestWorkerExitsWhenCoordinatorIsGone(t *testing.T) {
	r := newMRRig(testConfig())
	r.w.Isolate(r.coord, []sim.NodeID{r.fs, r.worker})
	r.run(10 * sim.Second)
	if len(r.exits) != 1 || r.exits[0] != "coordinator unreachable" {
		t.Fatalf("worker exits %q, want coordinator unreachable", r.exits)
	}
}
