// Package clitest holds the helpers the tests of cli and cmd/dsim share to
// run the dsim binary as a user or a job engine would: an environment
// without a CI runner's sharding, a buffer to read while the process
// writes, and the exit status (128+signal for a killed process).
package clitest

import (
	"bytes"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// ShardVars are the job-engine variables a campaign reads (campaign's
// shard detection); tests clear them so that a CI runner's own sharding
// does not leak in.
var ShardVars = []string{"DSIM_SHARD", "DSIM_SHARD_INDEX", "DSIM_SHARD_COUNT", "JOB_COMPLETION_INDEX", "JOB_COMPLETIONS",
	"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX", "SLURM_ARRAY_TASK_STEP", "SLURM_ARRAY_TASK_COUNT",
	"CI_NODE_INDEX", "CI_NODE_TOTAL"}

// Env is this process's environment without ShardVars, then extra.
func Env(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(ShardVars, k) {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// Buffer is a bytes.Buffer safe to read while the process writes it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns what was written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// ExitCode is the exit status behind err from exec.Cmd's Run or Wait: 0 for
// nil, 128+signal for a process killed by a signal (as a shell reports
// it). Any other error (the binary did not start) fails the test.
func ExitCode(t testing.TB, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	ee, ok := err.(*exec.ExitError)
	if !ok {
		t.Fatal(err)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ee.ExitCode()
}
