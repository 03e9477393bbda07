package campaign

import (
	"os"
	"runtime/debug"
)

// GCPercent is the garbage collector's target Run sets for a campaign when
// the GOGC environment variable is unset (Go's default is 100). A
// campaign's worlds are short-lived and allocate fast; at 100 the shared
// heap is collected so often that GC was a third of the KV half's CPU and
// two workers in one process ran about 10% behind two processes. At 400,
// the default campaign (`campaign --seeds 20`, 2980 runs) took 33 CPU-s
// instead of 47 and peaked at 146 MB RSS instead of 58 MB; kv/* with two
// workers matched two one-worker processes (issue 26).
const GCPercent = 400

// setGC applies GCPercent unless GOGC is set, and returns what restores
// the previous setting.
func setGC() (restore func()) {
	if _, set := os.LookupEnv("GOGC"); set {
		return func() {}
	}
	prev := debug.SetGCPercent(GCPercent)
	return func() { debug.SetGCPercent(prev) }
}
