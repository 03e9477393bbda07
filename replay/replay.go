package replay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// HangChecker is the checker name of a run that exceeded its wall-clock
// limit: an endless loop inside one handler, which the kernel's event budget
// cannot interrupt.
const HangChecker = "hang"

// RunLimited runs one (scenario, variant, seed) in its own goroutine and
// waits at most limit of wall time (0: no limit). A run that exceeds it is
// returned as a "hang" failure and its goroutine is abandoned (Go cannot
// stop it); the caller must not reuse cfg's writers afterwards.
func RunLimited(s *scenarios.Scenario, v scenarios.Variant, seed uint64, cfg scenarios.Config, limit time.Duration) *scenarios.Result {
	if limit <= 0 {
		return scenarios.Run(s, v, seed, cfg)
	}
	done := make(chan *scenarios.Result, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil { // scenarios.Run recovers; this is belt and braces
				done <- &scenarios.Result{Scenario: s.Name, Variant: v.String(), Seed: seed,
					Failure: &sim.Failure{Checker: "panic", Message: fmt.Sprint(r), Stack: string(debug.Stack())}}
			}
		}()
		done <- scenarios.Run(s, v, seed, cfg)
	}()
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case res := <-done:
		return res
	case <-t.C:
		return &scenarios.Result{Scenario: s.Name, Variant: v.String(), Seed: seed,
			Repro: scenarios.Repro(s.Name, v, seed), WallNs: limit.Nanoseconds(),
			Faults: s.FaultsFor(v, seed),
			Failure: &sim.Failure{Checker: HangChecker,
				Message: fmt.Sprintf("seed %d ran longer than %v of wall time (an endless loop in one handler?); its goroutine was abandoned", seed, limit)}}
	}
}

// lineSink is an io.Writer that hands each complete line to fn. It is safe
// for use by one writer and later readers (a hung run may still write).
type lineSink struct {
	mu      sync.Mutex
	partial []byte
	fn      func(line []byte)
}

func (l *lineSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			l.partial = append(l.partial, p...)
			break
		}
		line := p[:i]
		if len(l.partial) > 0 {
			line = append(l.partial, line...)
			l.partial = l.partial[:0]
		}
		l.fn(line)
		p = p[i+1:]
	}
	return n, nil
}

// Tail records the last n trace events of a run, and optionally every event
// with an index in [From, To] (to compare against a stored tail).
type Tail struct {
	n        int
	ring     []sim.TraceEvent
	next     int
	full     bool
	From, To uint64
	Range    []sim.TraceEvent
	// All, when set, receives every raw trace line.
	All io.Writer
	// Until, when set, keeps events past that index out of the ring (the
	// window before a failure's moment).
	Until uint64
	// Keep, when set, also appends every event (for HTML timelines).
	Keep      bool
	Kept      []sim.TraceEvent
	KeepLimit int
	// KeepThrough, when set, keeps events past that index out of Kept.
	KeepThrough uint64
	sink        *lineSink
}

// NewTail returns a Tail keeping the last n events. Its ring grows with
// the events seen, so a huge n costs nothing until a run is that long.
func NewTail(n int) *Tail {
	if n < 0 {
		n = 0
	}
	t := &Tail{n: n}
	t.sink = &lineSink{fn: t.line}
	return t
}

// Writer is the io.Writer to pass as scenarios.Config.Trace.
func (t *Tail) Writer() io.Writer { return t.sink }

func (t *Tail) line(b []byte) {
	if t.All != nil {
		_, _ = t.All.Write(append(b, '\n'))
	}
	var ev sim.TraceEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		return
	}
	if t.n > 0 && (t.Until == 0 || ev.Index <= t.Until) {
		if !t.full && t.next == len(t.ring) {
			t.ring = append(t.ring, ev)
		} else {
			t.ring[t.next] = ev
		}
		t.next = (t.next + 1) % t.n
		if t.next == 0 {
			t.full = true
		}
	}
	if t.To > 0 && ev.Index >= t.From && ev.Index <= t.To {
		t.Range = append(t.Range, ev)
	}
	if t.Keep && (t.KeepThrough == 0 || ev.Index <= t.KeepThrough) {
		t.Kept = append(t.Kept, ev)
		if t.KeepLimit > 0 && len(t.Kept) > 2*t.KeepLimit {
			t.Kept = append(t.Kept[:0], t.Kept[len(t.Kept)-t.KeepLimit:]...)
		}
	}
}

// Events returns the last events recorded, oldest first.
func (t *Tail) Events() []sim.TraceEvent {
	t.sink.mu.Lock()
	defer t.sink.mu.Unlock()
	if !t.full {
		return append([]sim.TraceEvent(nil), t.ring[:t.next]...)
	}
	return append(append([]sim.TraceEvent(nil), t.ring[t.next:]...), t.ring[:t.next]...)
}

// Capture reruns the file's run with a trace and stores its last n events in
// f.TraceTail, so that a later replay can name the first differing event.
func (f *File) Capture(n int, limit time.Duration) {
	s, v, cfg, err := f.Config()
	if err != nil {
		return
	}
	t := NewTail(n)
	cfg.Trace = t.Writer()
	res := RunLimited(s, v, f.Seed, cfg, limit)
	if res.Failure != nil && res.Failure.Checker == HangChecker {
		return
	}
	f.TraceTail = t.Events()
}

// Outcome is what a replay found.
type Outcome struct {
	Result *scenarios.Result
	// Same is true when checker, event and trace hash all match the file.
	Same bool
	// Diffs lists each difference, one line each.
	Diffs []string
	// FirstDiff names the first trace event that differs from the file's
	// stored tail ("" when none differs or the file stored none).
	FirstDiff string
	// Window is the trace leading up to the failure (or the run's end).
	Window []sim.TraceEvent
	// Kept is the trace kept for an HTML timeline (when asked for).
	Kept []sim.TraceEvent
	// MomentWindow is the trace leading up to the moment the file's
	// failure points at (sim.Failure.Moment), when it has one.
	MomentWindow []sim.TraceEvent
}

// Options tune a replay.
type Options struct {
	// Window is how many trace events before the failure to keep (default 40).
	Window int
	// Trace, when set, receives the full trace as JSON lines.
	Trace io.Writer
	// Keep keeps up to KeepLimit events for an HTML timeline.
	Keep      bool
	KeepLimit int
	// Limit is the wall-clock limit of the run (0: none).
	Limit time.Duration
}

// Replay reruns a failure file with its explicit plan and faults and
// compares the outcome with what the file recorded.
func Replay(f *File, o Options) (*Outcome, error) {
	s, v, cfg, err := f.Config()
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	if o.Window <= 0 {
		o.Window = 40
	}
	t := NewTail(o.Window)
	t.All = o.Trace
	t.Keep, t.KeepLimit = o.Keep, o.KeepLimit
	if n := len(f.TraceTail); n > 0 {
		t.From, t.To = f.TraceTail[0].Index, f.TraceTail[n-1].Index
	}
	cfg.Trace = t.Writer()
	var mt *Tail
	if m := f.Failure.Moment; m != nil && m.Event > 0 {
		mt = NewTail(o.Window)
		mt.Until = m.Event
		cfg.Trace = io.MultiWriter(t.Writer(), mt.Writer())
	}
	res := RunLimited(s, v, f.Seed, cfg, o.Limit)
	out := &Outcome{Result: res, Window: t.Events(), Kept: t.Kept}
	if mt != nil {
		out.MomentWindow = mt.Events()
	} else if res.Failure != nil && res.Failure.Moment != nil && res.Failure.Moment.Event > 0 && res.Failure.Checker != HangChecker {
		// A file written before failures had moments: run once more for
		// the trace up to the one this run found.
		if s, v, cfg, err := f.Config(); err == nil {
			mt = NewTail(o.Window)
			mt.Until = res.Failure.Moment.Event
			cfg.Trace = mt.Writer()
			RunLimited(s, v, f.Seed, cfg, o.Limit)
			out.MomentWindow = mt.Events()
		}
	}
	out.Diffs = Compare(f, res)
	if len(f.TraceTail) > 0 && res.Failure != nil && res.Failure.Checker != HangChecker {
		out.FirstDiff = firstDiff(f.TraceTail, t.Range)
	}
	out.Same = len(out.Diffs) == 0
	return out, nil
}

// Compare lists how a run's result differs from the file: checker, event,
// virtual time, trace hash (message differences are listed too but do not
// make a replay different when everything else matches).
func Compare(f *File, res *scenarios.Result) []string {
	var d []string
	if res.Failure == nil {
		return []string{fmt.Sprintf("the run passed (events=%d hash=%s); the file recorded %s", res.Events, res.TraceHash, Escape(f.Failure.Error()))}
	}
	a, b := f.Failure, res.Failure
	if a.Checker != b.Checker {
		d = append(d, fmt.Sprintf("checker: file %q, replay %q (%s)", a.Checker, b.Checker, Escape(b.Message)))
	}
	if a.Checker == HangChecker && b.Checker == HangChecker {
		return d // a hang has no event or hash to compare
	}
	if a.Event != b.Event {
		d = append(d, fmt.Sprintf("failure event: file %d, replay %d", a.Event, b.Event))
	}
	if a.VTime != b.VTime {
		d = append(d, fmt.Sprintf("failure vtime: file %v, replay %v", a.VTime, b.VTime))
	}
	if ma, mb := a.Moment, b.Moment; ma != nil && mb != nil && (ma.Event != mb.Event || ma.VTime != mb.VTime) {
		d = append(d, fmt.Sprintf("failure moment: file event %d (%v), replay event %d (%v)", ma.Event, ma.VTime, mb.Event, mb.VTime))
	}
	if f.TraceHash != "" && f.TraceHash != res.TraceHash {
		d = append(d, fmt.Sprintf("trace hash: file %s, replay %s", Escape(f.TraceHash), res.TraceHash))
	}
	return d
}

// firstDiff compares a stored trace tail with the replay's events over the
// same index range and describes the first line that differs.
func firstDiff(want, got []sim.TraceEvent) string {
	for i := range want {
		if i >= len(got) {
			return fmt.Sprintf("replay trace ends before stored event %d: %s", want[i].Index, FormatEvent(want[i]))
		}
		if want[i] != got[i] {
			return fmt.Sprintf("first differing event %d:\n  file:   %s\n  replay: %s", want[i].Index, FormatEvent(want[i]), FormatEvent(got[i]))
		}
	}
	return ""
}

// FormatEvent prints one trace event as a timeline line. Its text (node
// names, kinds, messages) is escaped with Escape: it may come from a
// hostile file, and a terminal must never receive its control sequences.
func FormatEvent(e sim.TraceEvent) string {
	who := e.Node
	if who == "" {
		who = "world"
	}
	s := fmt.Sprintf("#%-7d %12v  %-8s %-7s", e.Index, e.Time, Escape(who), Escape(e.Kind))
	if e.Peer != "" {
		s += " ->" + Escape(e.Peer)
	}
	if e.What != "" {
		s += " " + Escape(e.What)
	}
	return s
}

// Escape returns s with everything a terminal could act on written as a Go
// escape: control characters (ESC, BEL, CR, NUL, ...), Unicode format
// characters such as bidirectional overrides, and bytes that are not UTF-8.
// Printable text, including non-ASCII letters, is left as it is.
func Escape(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsPrint(r):
			b.WriteString(s[i : i+n])
		default:
			q := strconv.QuoteRune(r) // '\x1b', '\a', '\u202e'
			b.WriteString(q[1 : len(q)-1])
		}
		i += n
	}
	return b.String()
}

// PrintMoment writes the moment a failure's evidence points at (nothing
// when it has none): the event, why, and the operations it names, then
// the trace leading up to it when window holds it.
func PrintMoment(w io.Writer, fail *sim.Failure, window []sim.TraceEvent) {
	if fail == nil || fail.Moment == nil {
		return
	}
	m := fail.Moment
	fmt.Fprintf(w, "moment: event %d (vtime %v): %s\n", m.Event, m.VTime, Escape(m.Why))
	if len(window) > 0 {
		fmt.Fprintf(w, "timeline up to the moment (last %d events):\n", len(window))
		PrintTimeline(w, window, &sim.Failure{Event: m.Event})
	}
	if len(m.Ops) > 0 {
		fmt.Fprintf(w, "operations of the evidence (role, client, invoke .. return):\n")
	}
	for _, o := range m.Ops {
		ret := "never returned"
		if o.Return >= 0 {
			ret = fmt.Sprintf("%v (event %d)", o.Return, o.ReturnEvent)
		}
		fmt.Fprintf(w, "  %-10s %-8s %v (event %d) .. %s  %s\n", Escape(o.Role), Escape(o.Lane), o.Call, o.CallEvent, ret, Escape(o.Op))
	}
}

// PrintTimeline writes the events as lines, marking the failure event.
func PrintTimeline(w io.Writer, evs []sim.TraceEvent, fail *sim.Failure) {
	for _, e := range evs {
		mark := "  "
		if e.Kind == "fail" || (fail != nil && e.Index == fail.Event && fail.Event > 0) {
			mark = "=>"
		}
		fmt.Fprintf(w, "%s %s\n", mark, FormatEvent(e))
	}
}
