// Command dsim runs deterministic simulations of dsim's own systems
// (counter, Raft, MapReduce, the KV services, sharded KV): the CLI of
// package cli over the scenarios of scenarios/all. See `dsim help`.
package main

import (
	"os"

	"github.com/smilingraft/dsim/cli"
	_ "github.com/smilingraft/dsim/scenarios/all"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }
