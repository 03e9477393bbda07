package raft

import (
	"strconv"
	"testing"
	"time"

	"github.com/smilingraft/dsim/sim"
)

// runUnreliable runs 5 servers on a lossy (10%), slow (0..27ms) network for
// 10s of virtual time, crashing the leader about once a second (restarting
// it 200..500ms later) while a client Starts a command every 10ms. Safety
// is checked online by the test observer; at the end the network heals and
// the cluster must commit again.
func runUnreliable(tb testing.TB, seed uint64, mod func(*Config), opts sim.Options) *cluster {
	opts.Net = sim.NetOptions{DelayMax: 27 * sim.Millisecond, Loss: sim.R(1, 10)}
	c := newCluster(tb, 5, seed, opts, mod, 0)
	rnd := c.w.Rand("bench")
	k := 0
	var client func()
	client = func() {
		for i := range c.ids {
			if n := c.node(i); n != nil {
				if _, _, ok := n.Submit([]byte(strconv.Itoa(k))); ok {
					break
				}
			}
		}
		k++
		c.w.After(10*sim.Millisecond, client)
	}
	c.w.After(10*sim.Millisecond, client)
	var churn func()
	churn = func() {
		if ls, _ := c.leaders(); len(ls) > 0 {
			l := ls[rnd.Intn(len(ls))]
			c.crash(l)
			c.w.After(rnd.Between(200*sim.Millisecond, 500*sim.Millisecond), func() { c.restart(l) })
		}
		c.w.After(rnd.Between(800*sim.Millisecond, 1200*sim.Millisecond), churn)
	}
	c.w.After(sim.Second, churn)
	c.w.RunUntil(sim.Time(10 * sim.Second))
	return c
}

func TestUnreliableChurnSafeAndLive(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		c := runUnreliable(t, seed, nil, sim.Options{})
		if f := c.w.Failure(); f != nil {
			t.Fatalf("seed %d: %v", seed, f)
		}
		if c.obs.nCommit < 100 {
			t.Errorf("seed %d: only %d commits in 10s", seed, c.obs.nCommit)
		}
		c.w.SetNet(reliable().Net)
		for i := range c.ids {
			c.restart(i)
		}
		c.one("final", 5)
	}
}

func TestDeterminism(t *testing.T) {
	h1 := runUnreliable(t, 42, nil, sim.Options{}).w.Hash()
	h2 := runUnreliable(t, 42, nil, sim.Options{}).w.Hash()
	h3 := runUnreliable(t, 43, nil, sim.Options{}).w.Hash()
	if h1 != h2 {
		t.Fatalf("same seed, different hashes: %x vs %x", h1, h2)
	}
	if h1 == h3 {
		t.Fatalf("different seeds, same hash %x", h1)
	}
}

func BenchmarkRaft5Unreliable(b *testing.B) {
	b.ReportAllocs()
	start := time.Now()
	var events uint64
	for i := 0; i < b.N; i++ {
		c := runUnreliable(b, uint64(i+1), nil, sim.Options{})
		if f := c.w.Failure(); f != nil {
			b.Fatalf("seed %d: %v", i+1, f)
		}
		events += c.w.Events()
	}
	wall := time.Since(start).Seconds()
	b.ReportMetric(float64(b.N)/wall, "seeds/s")
	b.ReportMetric(float64(b.N)*10/wall, "vsec/s")
	b.ReportMetric(float64(events)/float64(b.N), "events/run")
}
