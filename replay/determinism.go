package replay

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// DivergenceChecker is the checker name of a seed whose two runs differ.
const DivergenceChecker = "determinism"

// Diverge reruns (scenario, variant, seed) twice with full traces in memory
// and names the first trace line that differs. It returns "" when both runs
// agree (a non-determinism that does not recur, or none).
func Diverge(s *scenarios.Scenario, v scenarios.Variant, seed uint64, cfg scenarios.Config) string {
	var a, b bytes.Buffer
	ca, cb := cfg, cfg
	ca.Trace, cb.Trace = &a, &b
	ra := scenarios.Run(s, v, seed, ca)
	rb := scenarios.Run(s, v, seed, cb)
	if d := DiffTraces(a.Bytes(), b.Bytes()); d != "" {
		return d
	}
	if ra.TraceHash != rb.TraceHash {
		return fmt.Sprintf("traces agree line by line but hashes differ: %s vs %s", ra.TraceHash, rb.TraceHash)
	}
	return ""
}

// DiffTraces compares two JSON-lines traces and describes the first line that
// differs, naming its event index.
func DiffTraces(a, b []byte) string {
	line, l, ok := partingLines(a, b)
	if line == 0 {
		return ""
	}
	describe := func(ok bool, l []byte) string {
		if !ok {
			return "(trace ended)"
		}
		var ev sim.TraceEvent
		if json.Unmarshal(l, &ev) != nil {
			return string(l)
		}
		return FormatEvent(ev) + " h=" + ev.Hash
	}
	idx := ""
	var ev sim.TraceEvent
	if ok[0] && json.Unmarshal(l[0], &ev) == nil {
		idx = fmt.Sprintf(" (event %d)", ev.Index)
	}
	return fmt.Sprintf("first differing trace line %d%s:\n  run 1: %s\n  run 2: %s", line, idx, describe(ok[0], l[0]), describe(ok[1], l[1]))
}

// partingLines returns the first line (from 1) at which two JSON-lines
// traces differ, 0 when none, and that line in each (ok false: that trace
// ended first).
func partingLines(a, b []byte) (line int, l [2][]byte, ok [2]bool) {
	sa, sb := bufio.NewScanner(bytes.NewReader(a)), bufio.NewScanner(bytes.NewReader(b))
	sa.Buffer(make([]byte, 64<<10), 1<<20)
	sb.Buffer(make([]byte, 64<<10), 1<<20)
	for line = 1; ; line++ {
		ok = [2]bool{sa.Scan(), sb.Scan()}
		if !ok[0] && !ok[1] {
			return 0, l, ok
		}
		l = [2][]byte{sa.Bytes(), sb.Bytes()}
		if !ok[0] || !ok[1] || !bytes.Equal(l[0], l[1]) {
			return line, l, ok
		}
	}
}

// Divergence is what two runs of one failure file's run showed: whether
// they still differ, and where their traces part.
type Divergence struct {
	// Runs are the two results.
	Runs [2]*scenarios.Result
	// Differ is true when the trace hashes or the verdicts differ.
	Differ bool
	// Line is the first trace line that differs (1-based; 0: the traces
	// agree line by line) and Events that line's event in each run (nil:
	// that run's trace had ended).
	Line   int
	Events [2]*sim.TraceEvent
}

// Message is the one-line account of the divergence, as the campaign's
// double-run check words it.
func (d *Divergence) Message(seed uint64) string {
	a, b := d.Runs[0], d.Runs[1]
	msg := fmt.Sprintf("two runs of seed %d differ: hash %s (%s) vs %s (%s)", seed, a.TraceHash, runVerdict(a), b.TraceHash, runVerdict(b))
	if !d.Differ {
		msg = fmt.Sprintf("two runs of seed %d agree: hash %s (%s)", seed, a.TraceHash, runVerdict(a))
	}
	if d.Line > 0 {
		msg += fmt.Sprintf("; first differing trace line %d", d.Line)
		if e := d.Events[0]; e != nil {
			msg += fmt.Sprintf(" (event %d)", e.Index)
		}
	}
	return msg
}

func runVerdict(r *scenarios.Result) string {
	if r.Failure == nil {
		if len(r.Undecided) > 0 {
			return "undecided"
		}
		return "passed"
	}
	return r.Failure.Checker
}

// lockedBuffer is a bytes.Buffer a run abandoned by the watchdog may still
// write to while the caller reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedBuffer) bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]byte(nil), l.buf.Bytes()...)
}

// differ reports whether two runs of one seed differ: trace hash or
// verdict (a hang on either side counts as no evidence).
func differ(a, b *scenarios.Result) bool {
	if hung(a) || hung(b) {
		return false
	}
	return a.TraceHash != b.TraceHash || (a.Failure == nil) != (b.Failure == nil)
}

func hung(r *scenarios.Result) bool { return r.Failure != nil && r.Failure.Checker == HangChecker }

// DivergeFile runs the file's run (its plan, faults and fault phase) twice
// with full traces and compares them: what replaying a determinism failure
// means. limit is each run's wall-clock watchdog (0: none).
func DivergeFile(f *File, limit time.Duration) (*Divergence, error) {
	s, v, cfg, err := f.Config()
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	var d Divergence
	var bufs [2]lockedBuffer
	var traces [2][]byte
	for i := range d.Runs {
		c := cfg
		if c.Plan != nil {
			p := append(sim.Plan{}, (*c.Plan)...)
			c.Plan = &p
		}
		c.Trace = &bufs[i]
		d.Runs[i] = RunLimited(s, v, f.Seed, c, limit)
		if hung(d.Runs[i]) {
			return nil, fmt.Errorf("replay: %s", d.Runs[i].Failure.Message)
		}
		traces[i] = bufs[i].bytes()
	}
	d.Differ = differ(d.Runs[0], d.Runs[1])
	d.Line, d.Events = firstDifferingLine(traces[0], traces[1])
	if d.Line > 0 {
		d.Differ = true
	}
	return &d, nil
}

// firstDifferingLine returns the first line at which two JSON-lines
// traces differ (0 when none) and its event on each side.
func firstDifferingLine(a, b []byte) (int, [2]*sim.TraceEvent) {
	var evs [2]*sim.TraceEvent
	line, l, ok := partingLines(a, b)
	for i := range evs {
		var ev sim.TraceEvent
		if ok[i] && json.Unmarshal(l[i], &ev) == nil {
			evs[i] = &ev
		}
	}
	return line, evs
}

// shrinkRun runs one shrink candidate and reports whether it still fails
// as the file did. For a determinism failure that means two runs that
// still differ; the result returned is the first run's, carrying the
// determinism failure (no event: the two runs part at a trace line).
func shrinkRun(s *scenarios.Scenario, v scenarios.Variant, seed uint64, cfg scenarios.Config, limit time.Duration, checker string) (*scenarios.Result, bool) {
	if checker != DivergenceChecker {
		res := RunLimited(s, v, seed, cfg, limit)
		return res, res.Failure != nil && res.Failure.Checker == checker
	}
	var rs [2]*scenarios.Result
	for i := range rs {
		c := cfg
		if c.Plan != nil {
			p := append(sim.Plan{}, (*c.Plan)...)
			c.Plan = &p
		}
		rs[i] = RunLimited(s, v, seed, c, limit)
	}
	if !differ(rs[0], rs[1]) {
		return rs[0], false
	}
	d := &Divergence{Runs: rs, Differ: true}
	res := *rs[0]
	res.Failure = &sim.Failure{Checker: DivergenceChecker, Message: d.Message(seed)}
	res.Passed = false
	return &res, true
}
