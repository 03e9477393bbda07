// Package all imports every system's scenarios so that they register; the
// CLI and cross-system tests import it.
package all

import (
	// Each import registers a system's scenarios.
	_ "github.com/smilingraft/dsim/scenarios/counter"
	_ "github.com/smilingraft/dsim/scenarios/kv"
	_ "github.com/smilingraft/dsim/scenarios/kvsrv"
	_ "github.com/smilingraft/dsim/scenarios/mr"
	_ "github.com/smilingraft/dsim/scenarios/raft"
	_ "github.com/smilingraft/dsim/scenarios/rsm"
	_ "github.com/smilingraft/dsim/scenarios/shardkv"
)
