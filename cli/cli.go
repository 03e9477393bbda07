// Package cli is the dsim command line as a library: Main gives a user's own
// module the whole CLI (list, run, campaign, merge, replay, shrink, explain,
// compare) over the scenarios registered in its process, so pointing dsim
// at your own nodes takes a scenario package and a three-line main:
//
//	package main
//
//	import (
//		"os"
//
//		"github.com/smilingraft/dsim/cli"
//		_ "example.com/mysystem/scenarios" // registers mysystem/* scenarios
//	)
//
//	func main() { os.Exit(cli.Main(os.Args[1:])) }
//
// cmd/dsim is that main over dsim's own systems (scenarios/all). Usage:
//
//	dsim list [--json]
//	dsim run SCENARIO [--seed N] [--variant k=v[,k=v]] [--trace FILE] [--json] [--break K] [--crash-states K]
//	dsim campaign [PATTERN...] [--seeds N | --time D] [--from N] [--workers N] [--shard I/N] [--out DIR] [--json]
//	dsim campaign merge FILE|DIR...
//	dsim replay FILE [--trace] [--html FILE] [--perfetto FILE] [--shiviz FILE] [--break K]
//	dsim shrink FILE [--out FILE]
//	dsim explain FILE [--forks M] [--points K]
//	dsim compare SCENARIO --variant A --variant B [--seeds N]
//
// Exit status: 0 all passed, 1 a property failed, 2 bad usage or bad input
// (with a one-line reason on stderr), 3 incomplete or undecided.
//
// It may import every dsim package except scenarios/all: which systems a
// binary knows is its main's choice.
package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/smilingraft/dsim/campaign"
	"github.com/smilingraft/dsim/replay"
	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// usageError is bad input: exit status 2 with a one-line reason.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// errFailed means a property failed: exit status 1 (already reported).
var errFailed = errors.New("a property failed")

type command struct {
	name, summary string
	run           func(args []string, stdout io.Writer) error
}

// commands is initialised before any init function runs, so files that
// add subcommands from their init (campaign.go, replay.go...) may do so in
// any order.
var commands = []command{
	{"list", "list scenarios", cmdList},
	{"run", "run one scenario with one seed", cmdRun},
	{"compare", "compare protocol variants of one scenario over the same seeds (statistics, benchstat files, plots)", cmdCompare},
}

// register adds a subcommand from another file's init.
func register(c command) { commands = append(commands, c) }

// Main runs the command line on args (without the program name) over the
// scenarios registered in this process, writing to os.Stdout and os.Stderr,
// and returns the exit status for os.Exit.
func Main(args []string) int { return Run(args, os.Stdout, os.Stderr) }

// Run is Main with the output streams given: for tests and for programs
// that embed the CLI. Commands run one at a time: Run is not safe for
// concurrent use.
func Run(args []string, stdout, stderr io.Writer) int { return mainExit(args, stdout, stderr) }

// helpOut receives a command's --help text: the caller's stdout.
var helpOut io.Writer = os.Stdout

func mainExit(args []string, stdout, errw io.Writer) int {
	prevErr, prevHelp := stderr, helpOut
	stderr, helpOut = errw, stdout
	defer func() { stderr, helpOut = prevErr, prevHelp }()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) == 2 {
			args = []string{args[1], "--help"}
		} else {
			usage(stderr)
			if len(args) == 0 {
				return 2
			}
			return 0
		}
	}
	for _, c := range commands {
		if c.name == args[0] {
			out := &errWriter{w: stdout}
			err := lostReport(c.run(args[1:], out), out.err)
			switch {
			case err == nil:
				return 0
			case errors.Is(err, flag.ErrHelp):
				return 0
			case errors.Is(err, errFailed):
				return 1
			default:
				// Escaped: a reason may quote a hostile file's text.
				msg := replay.Escape(strings.ReplaceAll(err.Error(), "\n", " "))
				fmt.Fprintf(stderr, "dsim %s: %s\n", c.name, msg)
				var coded interface{ ExitCode() int }
				if errors.As(err, &coded) {
					return coded.ExitCode()
				}
				return 2
			}
		}
	}
	fmt.Fprintf(stderr, "dsim: unknown command %q (try 'dsim help')\n", args[0])
	return 2
}

// lostReport makes a report lost on stdout (a full disk, a closed file)
// exit 3 with one line, whatever the command concluded: CI must not take a
// report it never got for a pass or a failure. Bad usage stays exit 2.
func lostReport(err, stdoutErr error) error {
	var ue usageError
	if stdoutErr == nil || errors.As(err, &ue) {
		return err
	}
	return incompleteError{[]string{fmt.Sprintf("the report on stdout is lost: %v", unwrapPathErr(stdoutErr))}}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "dsim: deterministic simulation testing of distributed systems")
	fmt.Fprintln(w, "\nusage: dsim COMMAND [args]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nexit status: 0 passed, 1 a property failed, 2 bad usage or input, 3 incomplete (undecided, interrupted, or a report or file lost)")
}

// parse parses flags that may come before or after positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) > 1 && a[0] == '-' {
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if strings.Contains(name, "=") {
				continue
			}
			f := fs.Lookup(name)
			if f == nil {
				if name == "h" || name == "help" {
					fs.SetOutput(helpOut)
					fs.Usage()
					return nil, flag.ErrHelp
				}
				return nil, usagef("unknown flag %s", a)
			}
			if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
				continue
			}
			if i+1 >= len(args) {
				return nil, usagef("flag %s needs a value", a)
			}
			i++
			flags = append(flags, args[i])
			continue
		}
		pos = append(pos, a)
	}
	if err := fs.Parse(flags); err != nil {
		return nil, usagef("%v", err)
	}
	return pos, nil
}

// parseSeed accepts a non-negative decimal integer.
func parseSeed(s string) (uint64, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, usagef("bad seed %q: want a non-negative integer", s)
	}
	return n, nil
}

func cmdList(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("list takes no arguments")
	}
	type entry struct {
		Name        string            `json:"name"`
		System      string            `json:"system"`
		Description string            `json:"description"`
		Unsafe      bool              `json:"unsafe,omitempty"`
		Params      []scenarios.Param `json:"params,omitempty"`
	}
	var out []entry
	for _, s := range scenarios.All() {
		out = append(out, entry{s.Name, s.System(), s.Description, s.Unsafe, s.Params})
	}
	if *asJSON {
		return writeJSON(stdout, out)
	}
	for _, e := range out {
		fmt.Fprintf(stdout, "%-40s %s\n", e.Name, e.Description)
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func cmdRun(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	seedStr := fs.String("seed", "1", "seed (non-negative integer)")
	variant := fs.String("variant", "", "protocol options k=v[,k=v]")
	tracePath := fs.String("trace", "", "write the full JSON-lines trace to FILE")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	breakAt := fs.Uint64("break", 0, "stop after event K and print every node's state")
	crashAt := fs.Uint64("crash-states", 0, "crash-state enumeration: crash the node of event K before its next Sync, once per state its disk could be left in")
	crashNode := fs.String("crash-node", "", "with --crash-states: the node to crash (default: event K's node)")
	crashDown := fs.Duration("crash-down", 10*time.Millisecond, "with --crash-states: downtime before the restart")
	outDir := fs.String("out", "failures", "directory for the failure file of a failing run (created only then; with --crash-states: one per breaking state)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want exactly one SCENARIO (see 'dsim list')")
	}
	s, err := scenarios.Lookup(pos[0])
	if err != nil {
		return usagef("%v", err)
	}
	seed, err := parseSeed(*seedStr)
	if err != nil {
		return err
	}
	v, err := scenarios.ParseVariant(*variant)
	if err != nil {
		return usagef("%v", err)
	}
	if err := s.Validate(v); err != nil {
		return usagef("%v", err)
	}
	switch {
	case isSet(fs, "break") && *breakAt == 0:
		return usagef("--break 0: events count from 1; give the event to stop after")
	case isSet(fs, "crash-states") && *crashAt == 0:
		return usagef("--crash-states 0: events count from 1; give the event whose node to crash")
	}
	if *crashAt > 0 {
		switch {
		case *breakAt > 0 || *tracePath != "" || *asJSON:
			return usagef("--crash-states runs many runs: it does not combine with --break, --trace or --json")
		case *crashDown < 0:
			return usagef("--crash-down %v: want a non-negative duration", *crashDown)
		}
		p := replay.CrashPoint{Event: *crashAt, Node: *crashNode, Down: sim.Duration(crashDown.Nanoseconds())}
		return runCrashStates(s, v, seed, p, *outDir, stdout)
	}
	if *crashNode != "" {
		return usagef("--crash-node needs --crash-states")
	}
	if st, err := os.Stat(*outDir); err == nil && !st.IsDir() {
		return usagef("--out %s: not a directory", *outDir)
	}
	cfg := scenarios.Config{BreakAt: *breakAt}
	var trace *replay.AtomicFile
	if *tracePath != "" {
		var err error
		if trace, err = createOutput("trace", *tracePath); err != nil {
			return err
		}
		defer trace.Abort() // after Commit: nothing left to drop
		cfg.Trace = trace
	}
	ctx, release := catchInterrupts()
	defer release()
	var res *scenarios.Result
	if !untilInterrupted(ctx, func() { res = scenarios.Run(s, v, seed, cfg) }) {
		what := fmt.Sprintf("%s seed %d stopped before its verdict", s.Name, seed)
		if trace != nil {
			what += "; no trace written"
		}
		return interrupted(ctx, what)
	}
	release()
	if *breakAt > 0 && res.Inspect == nil && res.Failure == nil {
		fmt.Fprintf(stdout, "seed %d: the run ended after %d events, before event %d\n", seed, res.Events, *breakAt)
		return usagef("--break %d is past the run's last event %d: it was never reached", *breakAt, res.Events)
	}
	var written *campaign.Failure
	if res.Failure != nil && *outDir != "" {
		f := campaign.WriteFailure(res, "run", *outDir, runWatchdog)
		written = &f
	}
	if *asJSON {
		out := struct {
			*scenarios.Result
			File      string   `json:"failure_file,omitempty"`
			FileError string   `json:"failure_file_error,omitempty"`
			Artifacts []string `json:"artifacts,omitempty"`
		}{Result: res}
		if written != nil {
			out.File, out.FileError, out.Artifacts = written.File, written.FileError, written.Artifacts
		}
		if err := writeJSON(stdout, out); err != nil {
			return err
		}
	} else {
		printResult(stdout, res)
		if written != nil {
			for _, a := range written.Artifacts {
				fmt.Fprintf(stdout, "artifact: %s\n", replay.Escape(a))
			}
			printFileLine(stdout, *written)
		}
	}
	if trace != nil {
		// A trace cut short by a full disk must not pass for a whole one.
		if err := trace.Commit(); err != nil {
			return fmt.Errorf("trace: %v", err)
		}
	}
	if written != nil && written.FileError != "" {
		return incompleteError{[]string{"the failure file could not be written: " + written.FileError}}
	}
	if res.Failure == nil && len(res.Undecided) > 0 {
		return incompleteError{res.Undecided}
	}
	if !res.Passed && res.Inspect == nil {
		return errFailed
	}
	return nil
}

// runWatchdog bounds the rerun that captures a failure file's trace tail.
const runWatchdog = 60 * time.Second

// createOutput starts an output file for flag --name: atomic (see
// replay.AtomicFile) unless path names a device or a pipe (/dev/stdout,
// a fifo), which is written as it goes. Its errors are bad usage.
func createOutput(name, path string) (*replay.AtomicFile, error) {
	a, err := replay.CreateOutput(path)
	if err != nil {
		return nil, usagef("--%s: %v", name, err)
	}
	return a, nil
}

// errWriter remembers the first write error of w and drops everything
// after it (the kernel's tracer ignores write errors so as not to disturb
// the run; the command reports them when the run is over).
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	if err != nil {
		e.err = err
	}
	return n, err
}

// unwrapPathErr drops the "write PATH:" prefix of a file error whose path
// the caller already names.
func unwrapPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func printResult(w io.Writer, r *scenarios.Result) {
	fmt.Fprintf(w, "seed %d  repro: %s\n", r.Seed, r.Repro)
	status := "PASS"
	switch {
	case r.Failure == nil && len(r.Undecided) > 0:
		status = "UNDECIDED"
	case !r.Passed:
		status = "FAIL"
	case r.Inspect != nil:
		status = "STOPPED"
	}
	fmt.Fprintf(w, "%s %s  events=%d vtime=%v wall=%.1fms hash=%s\n", status, r.Scenario, r.Events, r.VTime, float64(r.WallNs)/1e6, r.TraceHash)
	if r.Failure != nil {
		fmt.Fprintf(w, "failure: %s\n", replay.Escape(r.Failure.Error()))
		printMoment(w, r.Failure, nil, r.Repro)
		if r.Failure.Stack != "" {
			fmt.Fprintf(w, "%s\n", r.Failure.Stack)
		}
	}
	if r.Inspect != nil {
		b, _ := json.MarshalIndent(r.Inspect, "", "  ")
		fmt.Fprintf(w, "state at event %d:\n%s\n", r.Events, b)
	}
}
