package counter

import (
	"testing"

	"github.com/smilingraft/dsim/sim"
)

// TestCorruptRecordRefusesService reaches the checksum check of Start,
// which no campaign executes (issue 23 item 5): the swarm never flips bits
// on counter disks (sim.AllKinds leaves Corrupt out, and a counter has one
// copy, so a flip would lose acknowledged increments by design). A server
// whose record fails its checksum answers nothing rather than a wrong
// value, and Stored reports the record unreadable.
func TestCorruptRecordRefusesService(t *testing.T) {
	w := sim.NewWorld(1, sim.Options{Net: sim.NetOptions{DelayMin: sim.Millisecond, DelayMax: sim.Millisecond}})
	srv := w.AddNode("s", func() sim.Node { return &Server{} })
	var acks []uint64
	w.AddNode("c", func() sim.Node {
		return &Client{Servers: []sim.NodeID{srv}, Interval: 10 * sim.Millisecond, Timeout: 50 * sim.Millisecond,
			OnAck: func(_ sim.NodeID, n uint64) { acks = append(acks, n) }}
	})
	w.RunUntil(w.Now().Add(200 * sim.Millisecond))
	if len(acks) == 0 {
		t.Fatal("no increment acknowledged")
	}
	if n, ok := Stored(w.Disk(srv)); !ok || n != acks[len(acks)-1] {
		t.Fatalf("stored %d (ok %v), last ack %d", n, ok, acks[len(acks)-1])
	}
	w.Crash(srv)
	if !w.Corrupt(srv) {
		t.Fatal("nothing to corrupt")
	}
	w.Restart(srv)
	before := len(acks)
	w.RunUntil(w.Now().Add(200 * sim.Millisecond))
	if s := w.Node(srv).(*Server); !s.corrupt {
		t.Fatal("the restarted server did not detect its corrupt record")
	}
	if len(acks) != before {
		t.Fatalf("a corrupt server acknowledged %v", acks[before:])
	}
	if _, ok := Stored(w.Disk(srv)); ok {
		t.Error("Stored read a corrupt record")
	}
}
