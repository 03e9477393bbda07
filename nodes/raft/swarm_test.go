package raft

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/smilingraft/dsim/sim"
)

// runSwarm runs 5 servers for 8s under a swarm-drawn fault plan (every kind
// but wipes and bit flips) with a client Starting every 15ms, then heals and
// requires a fresh commit on all 5.
func runSwarm(t *testing.T, seed uint64, mod func(*Config), snapEvery int) {
	t.Helper()
	kinds := sim.AllKinds()
	f := sim.Swarm(sim.NewRand(sim.StreamSeed(seed, "swarm")), kinds)
	c := newCluster(t, 5, seed, sim.Options{Disk: sim.DiskOptions{Torn: f.Disk.Torn}}, mod, snapEvery)
	plan := sim.GeneratePlan(seed, f, 5, 8*sim.Second)
	c.w.Schedule(plan, c.ids)
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
		if c.w.Now() < sim.Time(8*sim.Second) {
			c.w.After(15*sim.Millisecond, client)
		}
	}
	c.w.After(0, client)
	c.w.RunUntil(sim.Time(8 * sim.Second))
	if f := c.w.Failure(); f != nil {
		t.Fatalf("seed %d (faults %+v): %v", seed, f, f)
	}
	c.w.HealAll(c.ids, reliable().Net)
	for i := range c.ids {
		c.restart(i)
		c.w.Resume(c.ids[i])
	}
	c.one(fmt.Sprint("final", seed), 5)
}

func TestSwarmSafety(t *testing.T) {
	variants := []struct {
		name string
		mod  func(*Config)
		snap int
	}{
		{"plain", nil, 0},
		{"prevote+cq+snap", func(c *Config) { c.PreVote, c.CheckQuorum = true, true }, 10},
		{"slowbackup+snap+readindex", func(c *Config) { c.FastBackup = false; c.ReadMode = ReadReadIndex; c.MaxEntries = 4 }, 7},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			for seed := uint64(1); seed <= swarmSeeds; seed++ {
				runSwarm(t, seed, v.mod, v.snap)
			}
		})
	}
}

// swarmSeeds is the per-variant seed count of TestSwarmSafety (kept small so
// that go test stays fast; campaigns run many more).
var swarmSeeds = uint64(40)
