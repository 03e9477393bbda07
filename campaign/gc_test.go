package campaign

import (
	"math"
	"os"
	"runtime/debug"
	"testing"
)

// TestSetGC: without GOGC and GOMEMLIMIT the campaign's target and memory
// limit apply (the limit grows with the workers) and are restored
// afterwards; with them set they are left alone.
func TestSetGC(t *testing.T) {
	prevPct := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prevPct)
	prevLim := debug.SetMemoryLimit(math.MaxInt64)
	defer debug.SetMemoryLimit(prevLim)
	_, gogc := os.LookupEnv("GOGC")
	_, golim := os.LookupEnv("GOMEMLIMIT")
	if !gogc && !golim {
		restore := setGC(4)
		if got := debug.SetGCPercent(GCPercent); got != GCPercent {
			t.Errorf("during the campaign GC percent %d, want %d", got, GCPercent)
		}
		if got, want := debug.SetMemoryLimit(-1), int64(MemoryLimitBase+4*MemoryLimitPerWorker); got != want {
			t.Errorf("during a 4-worker campaign memory limit %d, want %d", got, want)
		}
		restore()
		if got := debug.SetGCPercent(100); got != 100 {
			t.Errorf("after the campaign GC percent %d, want 100 restored", got)
		}
		if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
			t.Errorf("after the campaign memory limit %d, want none restored", got)
		}
	}
	t.Setenv("GOGC", "150")
	t.Setenv("GOMEMLIMIT", "1GiB")
	debug.SetGCPercent(150)
	restore := setGC(4)
	if got := debug.SetGCPercent(150); got != 150 {
		t.Errorf("with GOGC=150 the campaign set GC percent %d", got)
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("with GOMEMLIMIT set the campaign set a memory limit %d", got)
	}
	restore()
}
