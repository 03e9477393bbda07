package cli_test

import (
	"fmt"
	"io"
	"os"

	"github.com/smilingraft/dsim/cli"
	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// tally is a user's node: it counts the pings it receives and keeps the
// count on its disk (synced before it answers, unless lazy).
type tally struct {
	env  *sim.Env
	n    int
	lazy bool
}

func (t *tally) Start(env *sim.Env) {
	t.env = env
	b, _ := env.Disk().Read("n")
	t.n = len(b)
}

func (t *tally) Receive(from sim.NodeID, msg sim.Message) {
	req, ok := msg.(*sim.Request)
	if !ok {
		return
	}
	t.n++
	t.env.Disk().Append("n", []byte{1})
	if !t.lazy {
		t.env.Disk().Sync()
	}
	t.env.Reply(from, req, t.n)
}

// register registers the user's scenario: one tally server that crashes
// now and then, one client pinging it; every acknowledged ping must
// survive.
func register(name string, lazy bool) {
	scenarios.Register(&scenarios.Scenario{
		Name: name, Description: "pings survive crashes", Unsafe: lazy,
		Duration: 3 * sim.Second,
		Faults: func(scenarios.Variant) sim.Faults {
			return sim.Faults{Process: sim.ProcessFaults{Crash: sim.R(1, 5), CrashStability: 100 * sim.Millisecond}}
		},
		Setup: func(c *scenarios.Cluster) error {
			var srv *tally
			id := c.W.AddNode("s0", func() sim.Node { srv = &tally{lazy: lazy}; return srv })
			c.Servers(id)
			acked := 0
			c.W.AddNode("c0", func() sim.Node {
				return client(func(env *sim.Env) {
					var ping func()
					ping = func() {
						env.Call(id, "ping", 50*sim.Millisecond, func(reply sim.Message, ok bool) {
							if ok && reply.(int) > acked {
								acked = reply.(int)
							}
						})
						env.After(10*sim.Millisecond, ping)
					}
					ping()
				})
			})
			c.Check("durable", func() error {
				if b, _ := c.W.Disk(id).Read("n"); len(b) < acked {
					return fmt.Errorf("%d pings acknowledged, %d on disk", acked, len(b))
				}
				return nil
			})
			return nil
		},
	})
}

// client is a node that only runs its start function.
type client func(env *sim.Env)

func (f client) Start(env *sim.Env)              { f(env) }
func (f client) Receive(sim.NodeID, sim.Message) {}

// Example points the whole dsim CLI at a user's own node: register a
// scenario, then hand the arguments to cli.Main (here cli.Run, to keep the
// output quiet). A program's main is just os.Exit(cli.Main(os.Args[1:])).
func Example() {
	register("tally/crash", false)
	register("tally/unsafe-lazy", true)
	quiet := io.Discard
	out, _ := os.MkdirTemp("", "tally")
	defer os.RemoveAll(out)
	fmt.Println(cli.Run([]string{"run", "tally/crash", "--seed", "1"}, quiet, quiet))
	fmt.Println(cli.Run([]string{"campaign", "tally/crash", "--seeds", "20", "--out", out}, quiet, quiet))
	fmt.Println(cli.Run([]string{"campaign", "tally/unsafe-lazy", "--seeds", "20", "--out", out}, quiet, quiet))
	fmt.Println(cli.Run([]string{"run", "tally/nope"}, quiet, quiet))
	// Output:
	// 0
	// 0
	// 1
	// 2
}
