package replay_test

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/smilingraft/dsim/replay"
	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// recorder keeps a checksummed counter record on disk, bumped every 50ms.
// inPlace is the bug: it overwrites its only record, so a crash between
// the write and the Sync may tear it; the fix writes a twin and renames it.
type recorder struct {
	inPlace bool
	env     *sim.Env
	n       uint64
	torn    bool
}

func (r *recorder) Start(env *sim.Env) {
	r.env = env
	if b, ok := env.Disk().Read("rec"); ok {
		if len(b) != 12 || crc32.ChecksumIEEE(b[:8]) != binary.LittleEndian.Uint32(b[8:]) {
			r.torn = true
			return
		}
		r.n = binary.LittleEndian.Uint64(b)
	}
	env.After(50*sim.Millisecond, r.tick)
}

func (r *recorder) tick() {
	r.n++
	var b [12]byte
	binary.LittleEndian.PutUint64(b[:], r.n)
	binary.LittleEndian.PutUint32(b[8:], crc32.ChecksumIEEE(b[:8]))
	if r.inPlace {
		r.env.Disk().Write("rec", b[:])
	} else {
		r.env.Disk().Write("rec.tmp", b[:])
		r.env.Disk().Rename("rec.tmp", "rec")
	}
	r.env.Disk().Sync()
	r.env.After(50*sim.Millisecond, r.tick)
}

func (r *recorder) Receive(sim.NodeID, sim.Message) {}

func init() {
	for _, inPlace := range []bool{true, false} {
		inPlace := inPlace
		name := "test/unsafe-record-in-place"
		if !inPlace {
			name = "test/unsafe-record-renamed" // safe, but test-only: kept out of campaigns
		}
		scenarios.Register(&scenarios.Scenario{Name: name, Unsafe: true, Duration: sim.Second,
			Description: "test only: a checksummed record rewritten every 50ms",
			Setup: func(c *scenarios.Cluster) error {
				var node *recorder
				c.Servers(c.W.AddNode("s0", func() sim.Node { node = &recorder{inPlace: inPlace}; return node }))
				c.Check("record-intact", func() error {
					if node.torn {
						return fmt.Errorf("s0 restarted to a torn record")
					}
					return nil
				})
				return nil
			}})
	}
}

// TestCrashStatesFindTheTornRecord: enumeration at the in-place writer's
// next Sync finds the states that tear its record (and only those), and
// the failure file of one replays to the same failure; the renamed-twin
// writer survives every state of its two-operation window.
func TestCrashStatesFindTheTornRecord(t *testing.T) {
	bad, _ := scenarios.Lookup("test/unsafe-record-in-place")
	rep, err := replay.CrashStates(bad, nil, 1, replay.CrashPoint{Event: 3, Down: 10 * sim.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Fired || len(rep.Ops) != 1 || rep.Node != "s0" {
		t.Fatalf("report %+v: want the point to fire on s0 with one unsynced write", rep)
	}
	broken := rep.Broken()
	if len(rep.Runs) != 5 || len(broken) != 3 {
		t.Fatalf("%d states, %d broken: want 5 states (none, 3 torn, all), the 3 torn ones broken", len(rep.Runs), len(broken))
	}
	for _, b := range broken {
		if b.State.Torn < 0 || b.Result.Failure.Checker != "record-intact" {
			t.Fatalf("state %+v broke %v: want only torn states, caught by record-intact", b.State, b.Result.Failure)
		}
	}
	f := replay.FromResult(broken[0].Result, "crash-states")
	out, err := replay.Replay(f, replay.Options{})
	if err != nil || !out.Same {
		t.Fatalf("replaying the state's failure file: err %v, outcome %+v", err, out)
	}

	good, _ := scenarios.Lookup("test/unsafe-record-renamed")
	rep, err = replay.CrashStates(good, nil, 1, replay.CrashPoint{Event: 3, Down: 10 * sim.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Ops) != 2 || len(rep.Runs) != 6 || len(rep.Broken()) != 0 {
		t.Fatalf("renamed twin: %d ops, %d states, %d broken; want 2 ops, 6 states, none broken", len(rep.Ops), len(rep.Runs), len(rep.Broken()))
	}
	if _, err := replay.CrashStates(good, nil, 1, replay.CrashPoint{Event: 1 << 40}); err == nil {
		t.Fatalf("an event past the run's end was accepted")
	}
}

// TestShrinkCrashPoint: shrinking drops the actions around a crash point
// that tears a record, fires it at the first matching operation and
// shortens its downtime.
func TestShrinkCrashPoint(t *testing.T) {
	s, _ := scenarios.Lookup("test/unsafe-record-in-place")
	plan := sim.Plan{
		{At: 100 * sim.Millisecond, Kind: sim.ActDrift, PPM: 5000},
		{At: 200 * sim.Millisecond, Kind: sim.ActCrashPoint, On: sim.OnWrite, Nth: 3, For: 80 * sim.Millisecond,
			State: &sim.CrashState{Keep: 1, Torn: 5}},
		{At: 300 * sim.Millisecond, Kind: sim.ActClog, Delay: 10 * sim.Millisecond, For: 100 * sim.Millisecond},
		{At: 400 * sim.Millisecond, Kind: sim.ActJump, Delay: 30 * sim.Millisecond},
	}
	res := scenarios.Run(s, nil, 1, scenarios.Config{Plan: &plan})
	if res.Failure == nil {
		t.Fatalf("the torn crash point did not break the in-place record")
	}
	small, _, err := replay.Shrink(replay.FromResult(res, "test"), replay.ShrinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(small.Plan) != 1 || small.Plan[0].Kind != sim.ActCrashPoint || small.Plan[0].Nth != 1 || small.Plan[0].For > sim.Millisecond {
		t.Fatalf("shrunk plan %v: want one crash point at the 1st write with a short downtime", small.Plan)
	}
}
