package proc

import (
	"os"
	"runtime"
	"testing"
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
