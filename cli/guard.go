package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/smilingraft/dsim/replay"
)

// What every long command shares with campaign: output targets checked
// before the work starts, files written atomically (replay.AtomicFile), a
// first SIGINT or SIGTERM that stops cleanly with what is done so far
// (exit 3), a second that kills.

// checkOutFile refuses an output file the command could not write, before
// any run: a target that is not a regular file, a directory that is missing
// or takes no file. flagName labels the one-line error.
func checkOutFile(flagName, path string) error {
	if path == "" {
		return nil
	}
	a, err := replay.CreateAtomic(path)
	if err != nil {
		return usagef("--%s: %v", flagName, err)
	}
	a.Abort()
	return nil
}

// checkOutDir creates dir and checks that it takes a file, before any run.
func checkOutDir(flagName, dir string) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return usagef("--%s %s: %v", flagName, dir, unwrapPathErr(err))
	}
	return checkOutFile(flagName, filepath.Join(dir, ".dsim-probe"))
}

// isSet reports whether flag name was given on the command line (a zero
// value given is not the same as the default).
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// exitProcess is os.Exit (a variable for tests).
var exitProcess = os.Exit

// catchInterrupts makes the first SIGINT or SIGTERM cancel ctx, so the
// command stops, prints what it has and exits 3 (incomplete); a second one
// exits at once with 128+signal, as the default action would. It catches
// the signals even when the process started with SIGINT ignored (a
// background job of a non-interactive shell), so Ctrl-C and `kill -INT`
// behave the same everywhere. release stops catching; call it once the
// work is over.
func catchInterrupts() (ctx context.Context, release func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	errw := stderr
	go func() {
		first := true
		for {
			select {
			case sig := <-ch:
				if first {
					first = false
					cancel(fmt.Errorf("interrupted (%s)", signalName(sig)))
					fmt.Fprintf(errw, "dsim: %s: stopping with what is done; a second signal kills\n", signalName(sig))
					continue
				}
				code := 130
				if s, ok := sig.(syscall.Signal); ok {
					code = 128 + int(s)
				}
				exitProcess(code)
			case <-done:
				return
			}
		}
	}()
	var released bool
	return ctx, func() {
		if !released {
			released = true
			signal.Stop(ch)
			close(done)
		}
	}
}

// interrupted is the incomplete result of a command ctx stopped: exit 3
// with what was stopped.
func interrupted(ctx context.Context, what string) error {
	return incompleteError{[]string{fmt.Sprintf("%v: %s", context.Cause(ctx), what)}}
}

// untilInterrupted runs fn in its own goroutine and waits for it or for
// ctx: it reports false if ctx was cancelled first. Work Go cannot stop
// (one run of a world) is abandoned: the command returns and the process
// exits.
func untilInterrupted(ctx context.Context, fn func()) bool {
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

func signalName(sig os.Signal) string {
	switch sig {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return sig.String()
}
