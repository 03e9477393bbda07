// Package proc holds what dsim's measuring scripts (scripts/mutants,
// scripts/guidedcov) share about the processes they run: a child's CPU
// time read from /proc, a run stopped at a CPU budget, and the first line
// of its output for a table. It
// is tooling, not part of dsim: it imports only the standard library.
package proc

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// CPU returns a running process's user+system time from /proc (Linux); ok
// is false elsewhere, or once the process is gone.
func CPU(pid int) (d time.Duration, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// Fields after the parenthesised command name: state is field 3,
	// utime 14 and stime 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	s, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	const hz = 100 // USER_HZ, 100 on every Linux ABI Go supports
	return time.Duration(u+s) * time.Second / hz, true
}

// RunCapped starts cmd and waits for it, sending it SIGTERM once its
// user+system time reaches budget (checked every 50ms; the budget is not
// enforced where CPU cannot read it). capped reports whether it was
// stopped; err is Start's or Wait's error.
func RunCapped(cmd *exec.Cmd, budget time.Duration) (capped bool, err error) {
	if err := cmd.Start(); err != nil {
		return false, err
	}
	done := make(chan struct{})
	stopped := make(chan bool, 1)
	go func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				stopped <- false
				return
			case <-t.C:
				if c, ok := CPU(cmd.Process.Pid); ok && c >= budget {
					_ = cmd.Process.Signal(syscall.SIGTERM)
					stopped <- true
					return
				}
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	return <-stopped, err
}

// FirstLine returns s's first non-blank line, cut to max bytes plus "..."
// (max <= 0: no cut).
func FirstLine(s string, max int) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if max > 0 && len(s) > max {
		s = s[:max] + "..."
	}
	return s
}
