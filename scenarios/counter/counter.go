// Package counter registers the example system's scenarios (counter/...):
// durable counters under crashes, partitions and disk faults, checked for
// durability (every acknowledged increment survives) and liveness.
//
// It may import sim, scenarios and nodes/counter.
package counter

import (
	"fmt"

	"github.com/smilingraft/dsim/nodes/counter"
	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

var params = []scenarios.Param{
	{Key: "counter.servers", Default: "3", Doc: "number of counter servers", Range: scenarios.Span(1, 64)},
	{Key: "counter.clients", Default: "2", Doc: "number of clients", Range: scenarios.Span(0, 64)},
	{Key: "counter.sync", Default: "true", Doc: "sync each write before replying (false is the example's bug)"},
}

func setup(c *scenarios.Cluster) error {
	n, nc := c.Int("counter.servers"), c.Int("counter.clients")
	if n < 1 || n > 64 || nc < 0 || nc > 64 {
		return fmt.Errorf("counter: servers must be 1..64 and clients 0..64")
	}
	noSync := !c.Bool("counter.sync")
	var servers []sim.NodeID
	for i := 0; i < n; i++ {
		servers = append(servers, c.W.AddNode(fmt.Sprintf("s%d", i), func() sim.Node { return &counter.Server{NoSync: noSync} }))
	}
	c.Servers(servers...)
	// Durability, online: every increment a server acknowledges gets a
	// fresh value; a value acknowledged twice means an acknowledged write
	// was lost and counted again.
	acked := map[sim.NodeID]map[uint64]bool{}
	max := map[sim.NodeID]uint64{}
	// Work under faults: increments acknowledged while a fault is active.
	underFaults := 0
	c.Metric("acks_under_faults", 0)
	c.Metric(scenarios.WorkUnderFaults, 0)
	onAck := func(s sim.NodeID, n uint64) {
		if c.W.FaultActive() {
			underFaults++
			c.Metric("acks_under_faults", float64(underFaults))
			c.Metric(scenarios.WorkUnderFaults, float64(underFaults))
		}
		if acked[s] == nil {
			acked[s] = map[uint64]bool{}
		}
		if acked[s][n] {
			c.W.Fail("durability", "%s acknowledged value %d twice: an acknowledged increment was lost", c.W.Name(s), n)
		}
		acked[s][n] = true
		if n > max[s] {
			max[s] = n
		}
	}
	for i := 0; i < nc; i++ {
		c.W.AddNode(fmt.Sprintf("c%d", i), func() sim.Node {
			return &counter.Client{Servers: servers, Interval: 20 * sim.Millisecond, Timeout: 200 * sim.Millisecond, OnAck: onAck}
		})
	}
	// Durability, offline: each disk holds at least the highest value its
	// server acknowledged.
	c.Check("durability", func() error {
		for _, s := range servers {
			stored, ok := counter.Stored(c.W.Disk(s))
			if max[s] > 0 && (!ok || stored < max[s]) {
				return fmt.Errorf("%s acknowledged %d but its disk holds %d (ok=%v)", c.W.Name(s), max[s], stored, ok)
			}
		}
		return nil
	})
	// Liveness: after healing, every server answers a fresh increment.
	start := map[sim.NodeID]uint64{}
	c.OnHeal(func() {
		for _, s := range servers {
			if srv, ok := c.W.Node(s).(*counter.Server); ok {
				start[s] = srv.Value()
			}
		}
	})
	c.Progress("increment", func() error {
		for _, s := range servers {
			srv, ok := c.W.Node(s).(*counter.Server)
			if !ok || (nc > 0 && srv.Value() <= start[s]) {
				return fmt.Errorf("%s made no progress", c.W.Name(s))
			}
		}
		return nil
	})
	return nil
}

func init() {
	all := sim.AllKinds()
	scenarios.Register(&scenarios.Scenario{
		Name:        "counter/basic",
		Description: "example system: durable counters, reliable network, no faults",
		Params:      params, Duration: 2 * sim.Second, Liveness: 2 * sim.Second, Setup: setup,
	})
	scenarios.Register(&scenarios.Scenario{
		Name:        "counter/swarm",
		Description: "example system under swarm faults: every kind the kernel has, a random subset per seed",
		Params:      params, Duration: 5 * sim.Second, Liveness: 3 * sim.Second, Kinds: &all, Setup: setup,
	})
	scenarios.Register(&scenarios.Scenario{
		Name:        "counter/crash",
		Description: "example system with crashes and torn writes: acknowledged increments must survive",
		Params:      params, Duration: 5 * sim.Second, Liveness: 3 * sim.Second, Setup: setup,
		// Crash points land between a reply and the write behind it.
		Expect: []string{"sim: crash point after send", "sim: crash point before sync"},
		Faults: func(scenarios.Variant) sim.Faults {
			return sim.Faults{Step: 50 * sim.Millisecond,
				Process: sim.ProcessFaults{Crash: sim.R(1, 5), CrashStability: 100 * sim.Millisecond,
					CrashPoint: sim.R(1, 5), ShortDown: sim.R(1, 2)},
				Disk: sim.DiskFaults{Torn: sim.R(1, 2)}}
		},
	})
	unsafe := []scenarios.Param{params[0], params[1], {Key: "counter.sync", Default: "false", Doc: params[2].Doc}}
	scenarios.Register(&scenarios.Scenario{
		Name:        "counter/unsafe-nosync",
		Description: "UNSAFE: servers reply before syncing; crashes lose acknowledged increments (dsim must catch it)",
		Params:      unsafe, Duration: 5 * sim.Second, Liveness: 3 * sim.Second, Setup: setup, Unsafe: true,
		Faults: func(scenarios.Variant) sim.Faults {
			return sim.Faults{Step: 50 * sim.Millisecond,
				Process: sim.ProcessFaults{Crash: sim.R(1, 10), CrashStability: 100 * sim.Millisecond}}
		},
	})
}
