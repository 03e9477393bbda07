package sim

import (
	"bytes"
	"fmt"
	"testing"
)

// gossip is a busy test node that uses every kernel feature: timers, sends,
// RPCs, its PRNG stream, its disk, and a leader claim for plan targeting.
type gossip struct {
	env   *Env
	peers []NodeID
	n     uint64
}

func (g *gossip) Start(env *Env) {
	g.env = env
	if b, ok := env.Disk().Read("n"); ok && len(b) > 0 {
		g.n = uint64(len(b))
	}
	env.After(Duration(1+env.Rand().Intn(20))*Millisecond, g.tick)
}

func (g *gossip) tick() {
	to := g.peers[g.env.Rand().Intn(len(g.peers))]
	switch g.env.Rand().Intn(3) {
	case 0:
		g.env.Send(to, fmt.Sprint(g.n))
	case 1:
		g.env.Call(to, "q", 50*Millisecond, func(Message, bool) { g.n++ })
	case 2:
		g.env.Disk().Append("n", []byte{1})
		if g.env.Rand().Intn(2) == 0 {
			g.env.Disk().Sync()
		}
	}
	g.env.After(Duration(1+g.env.Rand().Intn(20))*Millisecond, g.tick)
}

func (g *gossip) Receive(from NodeID, msg Message) {
	if req, ok := msg.(*Request); ok {
		g.env.Reply(from, req, "a")
		return
	}
	g.n++
}

func (g *gossip) Role() (uint64, bool) { return g.n, g.n%3 == 0 }

// runGossip runs a 5-node gossip world under a swarm plan drawn from seed
// and returns its hash and event count.
func runGossip(seed uint64, trace *bytes.Buffer) (uint64, uint64) {
	f := Swarm(NewRand(StreamSeed(seed, "swarm")), AllKinds())
	o := Options{Net: f.Network.Base, Disk: DiskOptions{Torn: f.Disk.Torn}}
	if trace != nil {
		o.Trace = trace
	}
	w := NewWorld(seed, o)
	var ids []NodeID
	for i := 0; i < 5; i++ {
		ids = append(ids, NodeID(i))
	}
	for i := 0; i < 5; i++ {
		w.AddNode(fmt.Sprintf("g%d", i), func() Node { return &gossip{peers: ids} })
	}
	w.Schedule(GeneratePlan(StreamSeed(seed, "nemesis"), f, 5, 3*Second), ids)
	w.RunUntil(Time(3 * Second))
	w.HealAll(ids, NetOptions{})
	w.RunFor(Second)
	_ = w.FlushTrace()
	return w.Hash(), w.Events()
}

func TestDeterminismSameSeedSameHash(t *testing.T) {
	hashes := map[uint64]uint64{}
	for seed := uint64(0); seed < 100; seed++ {
		h1, e1 := runGossip(seed, nil)
		h2, e2 := runGossip(seed, nil)
		if h1 != h2 || e1 != e2 {
			t.Fatalf("seed %d: hash %x/%x events %d/%d", seed, h1, h2, e1, e2)
		}
		if prev, dup := hashes[h1]; dup {
			t.Fatalf("seeds %d and %d give the same hash", prev, seed)
		}
		hashes[h1] = seed
	}
}

func TestDeterminismTraceDoesNotChangeTheRun(t *testing.T) {
	var a, b bytes.Buffer
	h1, _ := runGossip(9, &a)
	h2, _ := runGossip(9, &b)
	h3, _ := runGossip(9, nil)
	if h1 != h3 || h1 != h2 || !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("recording a trace changed the run, or two traces differ")
	}
	if bytes.Count(a.Bytes(), []byte("\n")) < 1000 {
		t.Fatalf("trace too short: %d bytes", a.Len())
	}
}
