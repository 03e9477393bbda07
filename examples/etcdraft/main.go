//go:build dsimcli

// Command etcdraft is dsim's whole CLI (list, run, campaign, replay,
// shrink...) over the etcd/... scenarios, which host etcd-io/raft RawNodes
// as dsim nodes (package etcdsim registers them on import):
//
//	go run -tags dsimcli . list
//	go run -tags dsimcli . campaign --seeds 200
//	go run -tags dsimcli . run etcd/swarm --seed 7
//
// It needs dsim's public CLI package (github.com/smilingraft/dsim/cli,
// Main(args) int); until that lands the file is behind the dsimcli build
// tag so that the module builds and tests without it.
package main

import (
	"os"

	"github.com/smilingraft/dsim/cli"
	_ "github.com/smilingraft/dsim/examples/etcdraft/etcdsim" // registers etcd/...
)

func main() { os.Exit(cli.Main(os.Args[1:])) }
