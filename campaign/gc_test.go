package campaign

import (
	"os"
	"runtime/debug"
	"testing"
)

// TestSetGC: without GOGC the campaign's target applies and is restored
// afterwards; with GOGC set it is left alone.
func TestSetGC(t *testing.T) {
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	if _, set := os.LookupEnv("GOGC"); !set {
		restore := setGC()
		if got := debug.SetGCPercent(GCPercent); got != GCPercent {
			t.Errorf("during the campaign GC percent %d, want %d", got, GCPercent)
		}
		restore()
		if got := debug.SetGCPercent(100); got != 100 {
			t.Errorf("after the campaign GC percent %d, want 100 restored", got)
		}
	}
	t.Setenv("GOGC", "150")
	debug.SetGCPercent(150)
	restore := setGC()
	if got := debug.SetGCPercent(150); got != 150 {
		t.Errorf("with GOGC=150 the campaign set GC percent %d", got)
	}
	restore()
}
