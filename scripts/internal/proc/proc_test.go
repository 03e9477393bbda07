package proc

import (
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"
)

func TestCPUOfThisProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	x := 0
	for i := 0; i < 50_000_000; i++ { // burn a little CPU so that it is above 0
		x += i
	}
	if d, ok := CPU(os.Getpid()); !ok || d <= 0 {
		t.Fatalf("CPU(self) = %v, %v (x=%d)", d, ok, x)
	}
	if _, ok := CPU(-1); ok {
		t.Fatal("CPU of no process reported ok")
	}
}

func TestRunCappedStopsAtTheBudget(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	cmd := exec.Command("sh", "-c", "while :; do :; done")
	capped, err := RunCapped(cmd, 100*time.Millisecond)
	if !capped || err == nil {
		t.Fatalf("a busy loop with a 100ms budget: capped=%v err=%v, want capped and killed", capped, err)
	}
	if cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(); cpu < 100*time.Millisecond {
		t.Fatalf("stopped after %v of CPU, before its 100ms budget", cpu)
	}
	capped, err = RunCapped(exec.Command("true"), time.Hour)
	if capped || err != nil {
		t.Fatalf("true: capped=%v err=%v, want neither", capped, err)
	}
}

func TestFirstLine(t *testing.T) {
	for _, c := range []struct {
		in   string
		max  int
		want string
	}{{"\n  one\ntwo", 0, "one"}, {"abcdef", 3, "abc..."}, {"abc", 3, "abc"}} {
		if got := FirstLine(c.in, c.max); got != c.want {
			t.Errorf("FirstLine(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
		}
	}
}
