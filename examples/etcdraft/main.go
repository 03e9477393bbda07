// Command etcdraft is dsim's whole CLI (list, run, campaign, replay,
// shrink, explain, compare) over the etcd/... scenarios, which host
// etcd-io/raft RawNodes as dsim nodes (package etcdsim registers them on
// import), through dsim's public CLI package. Build it and run the binary
// (`go run` reports every non-zero exit status as 1; CI needs 1, 2 and 3
// apart):
//
//	go build -o etcdsim-cli .
//	./etcdsim-cli list
//	./etcdsim-cli campaign --seeds 200
//	./etcdsim-cli run etcd/swarm --seed 7
package main

import (
	"os"
	"strings"

	"github.com/smilingraft/dsim/cli"
	_ "github.com/smilingraft/dsim/examples/etcdraft/etcdsim" // registers etcd/...
	"github.com/smilingraft/dsim/scenarios"
	_ "github.com/smilingraft/dsim/scenarios/raft" // dsim's own Raft (raft/...), for side-by-side compare
)

func main() { os.Exit(cli.Main(etcdByDefault(os.Args[1:]))) }

// etcdByDefault makes a campaign given no scenario pattern run etcd/* (the
// raft/... scenarios are registered for `compare raft/X etcd/X`, not to
// join this module's default campaign): an argument that is not a flag
// and matches registered scenarios is a pattern.
func etcdByDefault(args []string) []string {
	if len(args) == 0 || args[0] != "campaign" {
		return args
	}
	for _, a := range args[1:] {
		if a == "merge" && a == args[1] {
			return args
		}
		if !strings.HasPrefix(a, "-") {
			if _, err := scenarios.Match([]string{a}); err == nil {
				return args
			}
		}
	}
	return append([]string{"campaign", "etcd/*"}, args[1:]...)
}
