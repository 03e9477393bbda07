package campaign

import (
	"os"
	"runtime"
	"runtime/debug"
)

// GCPercent is the garbage collector's target Run sets for a campaign when
// the GOGC environment variable is unset (Go's default is 100). A
// campaign's worlds are short-lived and allocate fast, and what they keep
// live is small: at 100 the shared heap was collected so often that GC was
// a third of the KV half's CPU and two workers in one process ran about
// 10% behind two processes. At 400 (issue 26's first round) the main job
// (`campaign --seeds 200`, 29,800 runs) took 306 CPU-s at a 160 MB peak RSS
// after issue 26's second round; at 800 it takes 278 CPU-s but peaks at
// 338 MB, which MemoryLimitBase/PerWorker bring back to 166 MB (280 CPU-s),
// and two workers then match two processes (issue 26, README).
const GCPercent = 800

// The soft memory limit Run sets unless GOMEMLIMIT is set:
// MemoryLimitBase plus MemoryLimitPerWorker per worker. Under it, GC
// collects at GCPercent while a campaign's heap is small, and sooner when a
// few large runs at once would otherwise take the heap to 9 times their
// live size. It must stay well above the live heap (a run's is a few MB,
// rarely tens): the collector works harder as the live heap nears it.
const (
	MemoryLimitBase      = 64 << 20
	MemoryLimitPerWorker = 48 << 20
)

// setGC applies GCPercent unless GOGC is set, and the memory limit for
// workers unless GOMEMLIMIT is set, and returns what restores both.
func setGC(workers int) (restore func()) {
	var undo []func()
	if _, set := os.LookupEnv("GOGC"); !set {
		prev := debug.SetGCPercent(GCPercent)
		undo = append(undo, func() { debug.SetGCPercent(prev) })
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		if workers <= 0 {
			workers = runtime.GOMAXPROCS(0)
		}
		prev := debug.SetMemoryLimit(MemoryLimitBase + int64(workers)*MemoryLimitPerWorker)
		undo = append(undo, func() { debug.SetMemoryLimit(prev) })
	}
	return func() {
		for _, u := range undo {
			u()
		}
	}
}
