package kvsrv

import (
	"fmt"
	"strconv"

	"github.com/smilingraft/dsim/checkers/kvcheck"
	"github.com/smilingraft/dsim/nodes/kv"
	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// lockTest is the lab's lock tests: every client first tries Put l0@0, then
// loops until stopped: Acquire "l"; Get "l0" must be ""; Put its own name;
// sleep 10ms; Put ""; Release. A non-empty l0 or a second holder (checked
// online with kvcheck.Mutex) is a mutual-exclusion failure; every client
// must get out of Acquire once stopped.
func lockTest(im impl) func(c *scenarios.Cluster) error {
	return func(c *scenarios.Cluster) error {
		d := deploy(c, im)
		n := c.Int(kClients)
		if n < 1 || n > 100 {
			return fmt.Errorf("lock: %s must be 1..100", kClients)
		}
		var mu kvcheck.Mutex
		stop, stopped := false, 0
		for i := 0; i < n; i++ {
			me := fmt.Sprintf("c%d", i)
			AddClient(c, me, func(env *sim.Env) {
				ck := d.clerk(env)
				lk := im.newLock(env, ck, "l")
				check := func(what string, err kv.Err) bool {
					if err != kv.OK && err != kv.ErrMaybe {
						failf(c, "lock.workload", "%s: %s = %s, want OK or ErrMaybe", me, what, err)
						return false
					}
					return true
				}
				var loop func()
				loop = func() {
					if stop {
						stopped++
						return
					}
					lk.Acquire(func() {
						if err := mu.Acquired(me, int64(c.W.Now())); err != nil {
							failf(c, MutualExclusion, "%v", err)
							return
						}
						ck.Get("l0", func(val string, ver uint64, err kv.Err) {
							d.h.Done()
							if err != kv.OK || val != "" {
								failf(c, MutualExclusion, "%s holds the lock but l0 = %q (%s): two holders", me, val, err)
								return
							}
							ck.Put("l0", me, ver, func(err kv.Err) {
								d.h.Done()
								if !check("put(l0, me, v"+strconv.FormatUint(ver, 10)+")", err) {
									return
								}
								env.After(10*sim.Millisecond, func() {
									ck.Put("l0", "", ver+1, func(err kv.Err) {
										d.h.Done()
										if !check("put(l0, \"\")", err) {
											return
										}
										if err := mu.Released(me, int64(c.W.Now())); err != nil {
											failf(c, MutualExclusion, "%v", err)
											return
										}
										lk.Release(loop)
									})
								})
							})
						})
					})
				}
				env.After(sim.Millisecond, func() {
					ck.Put("l0", "", 0, func(kv.Err) { d.h.Done(); loop() })
				})
			})
		}
		c.OnHeal(func() { stop = true })
		c.Progress("clients leave the lock loop", func() error {
			if stopped < n {
				return fmt.Errorf("%d of %d clients still in Acquire or their critical section", n-stopped, n)
			}
			return nil
		})
		c.Check("lock.acquisitions", func() error {
			c.Metric("acquisitions", float64(mu.Acquisitions))
			if mu.Acquisitions == 0 {
				return fmt.Errorf("no client ever acquired the lock")
			}
			return nil
		})
		d.h.Check(d.final)
		return nil
	}
}

func lockScenarios(im impl) []*scenarios.Scenario {
	var out []*scenarios.Scenario
	for _, net := range []string{"reliable", "unreliable"} {
		for _, n := range []int{1, 10} {
			name := "one-client"
			if n > 1 {
				name = "many-clients"
			}
			s := &scenarios.Scenario{
				Name: "lock/" + name + "-" + net,
				Description: fmt.Sprintf("lab lock test: %d client(s) on a %s network for 2s; mutual exclusion online, no deadlock",
					n, net),
				Params:   []scenarios.Param{{Key: kClients, Default: strconv.Itoa(n), Doc: "number of clients", Range: scenarios.Span(1, 64)}, timeoutParam},
				Duration: 2 * sim.Second, Liveness: 5 * sim.Second, Setup: lockTest(im),
			}
			if net == "unreliable" {
				s.Faults = unreliable
			}
			out = append(out, s)
		}
	}
	return out
}
