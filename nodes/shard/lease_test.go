package shard

import (
	"fmt"
	"testing"

	"github.com/smilingraft/dsim/nodes/kv"
	"github.com/smilingraft/dsim/sim"
)

// TestLeaseContenderWaitsWhileHolderRenews reaches two lease corners no
// seed of the default campaign executes (issue 23 item 5: the sharded
// scenarios run one controller at a time): a contender that finds the lease
// renewed after waiting it out waits again (it never takes a live lease),
// and a deposed controller's later call fails at once with ErrDeposed.
// Controller A acts every 100 ms until 3 s (renewing its 500 ms lease as it
// goes); B asks for the lease at 1.1 s and must get it only once A stopped.
// A, cut off from 3 s to 4 s and then acting again, is deposed, and its
// next call is refused without a renewal.
func TestLeaseContenderWaitsWhileHolderRenews(t *testing.T) {
	r := newRig(5, sim.NetOptions{DelayMin: sim.Millisecond, DelayMax: 3 * sim.Millisecond})
	r.addGroup(1, -1, GroupOptions{})
	c1, _ := Initial(0).Join(map[GID][]sim.NodeID{1: r.groups[1]})
	lease := 500 * sim.Millisecond
	var aLate []kv.Err
	var bErr kv.Err = "none"
	var bAt sim.Time
	a := r.w.AddNode("ctlA", func() sim.Node {
		return &prog{start: func(env *sim.Env) {
			c := NewCtrl(env, CtrlConfig{KVServer: r.kvsrv, Lease: lease})
			var act func()
			act = func() { // a change to the current configuration: the guard renews, then ErrStale
				if env.Now() >= sim.Time(3*sim.Second) {
					return
				}
				c.ChangeConfigTo(c1, func(kv.Err) { env.After(100*sim.Millisecond, act) })
			}
			c.InitController(func(err kv.Err) {
				c.InitConfig(c1, func(err kv.Err) { act() })
			})
			env.After(4500*sim.Millisecond, func() {
				c.ChangeConfigTo(c1, func(err kv.Err) {
					aLate = append(aLate, err)
					renewals := c.Stats().Renewals
					c.ChangeConfigTo(c1, func(err kv.Err) {
						aLate = append(aLate, err)
						if c.Stats().Renewals != renewals {
							t.Errorf("a deposed controller renewed again")
						}
					})
				})
			})
		}}
	})
	r.w.After(3*sim.Second, func() { r.w.Cut(a, r.kvsrv); r.w.Cut(r.kvsrv, a) })
	r.w.After(4*sim.Second, func() { r.w.Connect(a, r.kvsrv); r.w.Connect(r.kvsrv, a) })
	r.w.AddNode("ctlB", func() sim.Node {
		return &prog{start: func(env *sim.Env) {
			env.After(1100*sim.Millisecond, func() {
				c := NewCtrl(env, CtrlConfig{KVServer: r.kvsrv, Lease: lease})
				c.InitController(func(err kv.Err) { bErr, bAt = err, env.Now() })
			})
		}}
	})
	r.w.RunFor(8 * sim.Second)
	if f := r.w.Failure(); f != nil {
		t.Fatal(f)
	}
	if bErr != kv.OK {
		t.Fatalf("controller B: %v", bErr)
	}
	if bAt < sim.Time(3*sim.Second) {
		t.Errorf("B took the lease at %v while A was still renewing it", bAt)
	}
	if fmt.Sprint(aLate) != "[ErrDeposed ErrDeposed]" {
		t.Errorf("controller A after B took over: %v, want [ErrDeposed ErrDeposed]", aLate)
	}
}

// TestInitConfigTwiceIsStale reaches InitConfig's refusal to initialise a
// deployment that exists (no scenario initialises twice): a second
// InitConfig, by the same or another controller, is ErrStale and leaves
// the current configuration as it was.
func TestInitConfigTwiceIsStale(t *testing.T) {
	r := newRig(2, sim.NetOptions{DelayMin: sim.Millisecond, DelayMax: 3 * sim.Millisecond})
	r.addGroup(1, -1, GroupOptions{})
	c1, _ := Initial(0).Join(map[GID][]sim.NodeID{1: r.groups[1]})
	var errs []kv.Err
	var cur Config
	r.w.AddNode("ctl", func() sim.Node {
		return &prog{start: func(env *sim.Env) {
			c := NewCtrl(env, CtrlConfig{KVServer: r.kvsrv})
			c.InitController(func(kv.Err) {
				c.InitConfig(c1, func(err kv.Err) {
					errs = append(errs, err)
					again := NewCtrl(env, CtrlConfig{KVServer: r.kvsrv})
					again.InitConfig(c1, func(err kv.Err) {
						errs = append(errs, err)
						c.Query(func(q Config, _ kv.Err) { cur = q })
					})
				})
			})
		}}
	})
	r.w.RunFor(3 * sim.Second)
	if f := r.w.Failure(); f != nil {
		t.Fatal(f)
	}
	if fmt.Sprint(errs) != "[OK ErrStale]" {
		t.Fatalf("InitConfig twice: %v, want [OK ErrStale]", errs)
	}
	if cur.Num != 1 {
		t.Errorf("current configuration %d after the refused InitConfig, want 1", cur.Num)
	}
}
