// Command etcdraft is dsim's whole CLI (list, run, campaign, replay,
// shrink, explain, compare) over the etcd/... scenarios, which host
// etcd-io/raft RawNodes as dsim nodes (package etcdsim registers them on
// import), through dsim's public CLI package:
//
//	go run . list
//	go run . campaign --seeds 200
//	go run . run etcd/swarm --seed 7
package main

import (
	"os"

	"github.com/smilingraft/dsim/cli"
	_ "github.com/smilingraft/dsim/examples/etcdraft/etcdsim" // registers etcd/...
)

func main() { os.Exit(cli.Main(os.Args[1:])) }
