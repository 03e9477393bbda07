//go:build unix

package all_test

import "syscall"

// processCPU returns the process's user+system CPU time in ns (every
// thread: the run's own and the GC's), or 0 if unavailable.
func processCPU() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
