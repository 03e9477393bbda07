package replay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/smilingraft/dsim/sim"
)

// edit returns the good failure file's JSON with fn applied to its decoded
// form, written to a new file.
func edit(t *testing.T, good string, fn func(m map[string]any)) string {
	t.Helper()
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	fn(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "edited.json")
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// allocatedBy reports the bytes fn allocates.
func allocatedBy(fn func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	fn()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// Case 2: a file larger than MaxFileBytes is refused without reading it all
// (before: read whole, ~4 bytes of memory per byte of file).
func TestReadRefusesOversizedFile(t *testing.T) {
	_, good := failing(t)
	huge := edit(t, good, func(m map[string]any) {
		tail := m["trace_tail"].([]any)
		for len(tail) < 200_000 {
			tail = append(tail, tail...)
		}
		m["trace_tail"] = tail
	})
	if st, _ := os.Stat(huge); st.Size() <= MaxFileBytes {
		t.Fatalf("test file is only %d bytes", st.Size())
	}
	var err error
	alloc := allocatedBy(func() { _, err = Read(huge) })
	if err == nil || !errors.Is(err, ErrBadFile) || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("oversized file: %v", err)
	}
	if alloc > 2*MaxFileBytes {
		t.Fatalf("refusing an oversized file allocated %d bytes", alloc)
	}
}

// Case 2: an endless device is read only up to the bound.
func TestReadDevZeroIsBounded(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	_, err := Read("/dev/zero")
	if err == nil || !errors.Is(err, ErrBadFile) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("/dev/zero: %v", err)
	}
}

// Case 2: a plan of more than MaxPlanActions actions is refused while it is
// decoded, so memory stays proportional to the bound, not to the file
// (before: 1 M actions took ~1 GB).
func TestParseBoundsPlanLength(t *testing.T) {
	_, good := failing(t)
	b, _ := os.ReadFile(good)
	var f map[string]json.RawMessage
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	var plan bytes.Buffer
	plan.WriteString("[")
	for i := 0; i <= MaxPlanActions; i++ {
		if i > 0 {
			plan.WriteString(",")
		}
		plan.WriteString("{}")
	}
	plan.WriteString("]")
	f["plan"] = plan.Bytes()
	long, _ := json.Marshal(f)
	var err error
	alloc := allocatedBy(func() { _, err = Parse("long.json", long) })
	if err == nil || !errors.Is(err, ErrBadFile) || !strings.Contains(err.Error(), "more than") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("plan of %d actions: %v", MaxPlanActions+1, err)
	}
	if alloc > 256<<20 {
		t.Fatalf("refusing a long plan allocated %d MB", alloc>>20)
	}
}

// Case 5: every field of the plan and faults is checked against the
// scenario when the file is read (before: out-of-range nodes failed at run
// time with exit 1, negative delays and n/0 ratios were accepted).
func TestParseValidatesPlanAgainstScenario(t *testing.T) {
	_, good := failing(t) // counter/unsafe-nosync: 3 servers, 5s fault phase
	action := func(a map[string]any) func(m map[string]any) {
		return func(m map[string]any) { m["plan"] = append([]any{a}, m["plan"].([]any)...) }
	}
	for _, c := range []struct {
		name string
		fn   func(m map[string]any)
		want string
	}{
		{"node past servers", action(map[string]any{"kind": "crash", "node": 3}), "out of range 0..2"},
		{"cut past servers", action(map[string]any{"kind": "links", "cuts": [][2]int{{0, 7}}}), "cut 0->7"},
		{"negative delay", action(map[string]any{"kind": "clog", "delay_ns": -5, "for_ns": 5}), "negative delay_ns"},
		{"ratio over zero", action(map[string]any{"kind": "flaky", "node": 0, "peer": 1, "ratio": map[string]int{"num": 1, "den": 0}}), "zero denominator"},
		{"delay_min above max", action(map[string]any{"kind": "net", "net": map[string]int{"delay_min_ns": 5, "delay_max_ns": 1}}), "delay_min_ns 5 above"},
		{"past the fault phase", action(map[string]any{"kind": "crash", "at_ns": int64(6 * sim.Second)}), "after the fault phase"},
		{"duration longer than the scenario's", func(m map[string]any) { m["duration_ns"] = int64(time6s) }, "duration_ns"},
		{"faults ratio over zero", func(m map[string]any) {
			m["faults"] = map[string]any{"process": map[string]any{"crash": map[string]int{"num": 1, "den": 0}}}
		}, "faults: crash"},
		{"faults step of 1ns", func(m map[string]any) { m["faults"] = map[string]any{"step_ns": 1} }, "step_ns"},
		{"negative seed field types", func(m map[string]any) { m["vtime_ns"] = -1 }, "vtime_ns"},
	} {
		_, err := Read(edit(t, good, c.fn))
		if err == nil || !errors.Is(err, ErrBadFile) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v; want one line with %q", c.name, err, c.want)
		}
	}
	// Huge but meaningful values are accepted: time saturates.
	ok := edit(t, good, action(map[string]any{"kind": "clog", "node": 1, "delay_ns": int64(math.MaxInt64), "for_ns": int64(math.MaxInt64)}))
	if _, err := Read(ok); err != nil {
		t.Errorf("a MaxInt64 clog refused: %v", err)
	}
}

const time6s = 6 * sim.Second

// Case 5: a MaxInt64 delay in a plan ends the run on time (before: virtual
// time wrapped and the run spun until the watchdog called it a hang).
func TestReplayOfMaxDelayEndsOnTime(t *testing.T) {
	_, good := failing(t)
	p := edit(t, good, func(m map[string]any) {
		m["plan"] = append([]any{map[string]any{"kind": "clog", "at_ns": int64(sim.Millisecond), "node": 0, "delay_ns": int64(math.MaxInt64), "for_ns": int64(sim.Second)}}, m["plan"].([]any)...)
	})
	f, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Replay(f, Options{Limit: 20e9})
	if err != nil {
		t.Fatal(err)
	}
	if r := out.Result; r.Failure != nil && r.Failure.Checker == HangChecker {
		t.Fatalf("a MaxInt64 clog hung the run: %v", r.Failure)
	}
	for i := 1; i < len(out.Window); i++ {
		if out.Window[i].Time < out.Window[i-1].Time {
			t.Fatalf("time went backwards: %v then %v", FormatEvent(out.Window[i-1]), FormatEvent(out.Window[i]))
		}
	}
}

// Case 12: names are unique per (scenario, variant, seed, checker), the same
// for one variant however its keys are ordered, and unchanged without one.
func TestNameIncludesVariantHash(t *testing.T) {
	f := &File{Scenario: "counter/unsafe-nosync", Seed: 7, Failure: &sim.Failure{Checker: "durability"}}
	if got := f.Name(); got != "counter_unsafe-nosync-seed7-durability.json" {
		t.Fatalf("no variant: %s", got)
	}
	names := map[string]string{}
	for _, v := range []string{"counter.clients=2", "counter.clients=3", "counter.clients=3,counter.servers=5", "counter.servers=5,counter.clients=3"} {
		g := *f
		g.Variant = v
		names[v] = g.Name()
	}
	if names["counter.clients=2"] == names["counter.clients=3"] || names["counter.clients=3"] == f.Name() {
		t.Fatalf("variants share a name: %v", names)
	}
	if names["counter.clients=3,counter.servers=5"] != names["counter.servers=5,counter.clients=3"] {
		t.Fatalf("one variant, two names: %v", names)
	}
	if n := names["counter.clients=2"]; !strings.HasPrefix(n, "counter_unsafe-nosync-seed7-durability-v") || !strings.HasSuffix(n, ".json") {
		t.Fatalf("variant name %s", n)
	}
	// Hostile checker names cannot leave the directory.
	g := *f
	g.Failure = &sim.Failure{Checker: "../../etc/passwd"}
	if n := g.Name(); strings.Contains(n, "/") {
		t.Fatalf("checker name escapes: %s", n)
	}
}

// Case 13: failure files are created 0644 minus the umask (before: 0600,
// unreadable to an artifact uploader running as another user).
func TestWriteModeFollowsUmask(t *testing.T) {
	f, _ := failing(t)
	for _, c := range []struct {
		umask int
		want  os.FileMode
	}{{0o022, 0o644}, {0o077, 0o600}, {0o027, 0o640}} {
		old := syscall.Umask(c.umask)
		g := *f
		g.Repro = ""
		p, err := g.Write(t.TempDir())
		syscall.Umask(old)
		if err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != c.want {
			t.Errorf("umask %03o: mode %v, want %v", c.umask, st.Mode().Perm(), c.want)
		}
	}
}

// Case 1: WriteAs replaces a regular file or creates one, and refuses
// anything else at the path (before: it renamed over fifos and devices).
func TestWriteAsRefusesNonRegular(t *testing.T) {
	f, _ := failing(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip(err)
	}
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o755)
	link := filepath.Join(dir, "link")
	os.Symlink(filepath.Join(dir, "target.json"), link)
	for _, p := range []string{fifo, sub, link} {
		if _, err := f.WriteAs(p); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("WriteAs(%s): %v", filepath.Base(p), err)
		}
	}
	if st, err := os.Lstat(fifo); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the fifo was replaced: %v %v", st.Mode(), err)
	}
	reg := filepath.Join(dir, "reg.json")
	os.WriteFile(reg, []byte("old"), 0o644)
	for _, p := range []string{reg, filepath.Join(dir, "new.json")} {
		if _, err := f.WriteAs(p); err != nil {
			t.Errorf("WriteAs(%s): %v", filepath.Base(p), err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 5 {
		t.Errorf("%d entries left (temp files?)", len(entries))
	}
}

// Case 6: trace text from a file (or a node) is printed with control
// characters escaped, so a hostile file cannot drive the terminal.
func TestFormatEventEscapesControlCharacters(t *testing.T) {
	hostile := "\x1b]0;pwned\x07\x1b[2J\r\x00\u202e"
	e := sim.TraceEvent{Index: 1, Kind: "send" + hostile, Node: "n" + hostile, Peer: "p" + hostile, What: "m" + hostile}
	var b bytes.Buffer
	PrintTimeline(&b, []sim.TraceEvent{e}, &sim.Failure{Checker: hostile, Message: hostile})
	s := FormatEvent(e) + b.String()
	for _, r := range s {
		if r != '\n' && (r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u202e') {
			t.Fatalf("control character %U printed raw: %q", r, s)
		}
	}
	if !strings.Contains(s, `\x1b]0;pwned\a`) && !strings.Contains(s, `\x1b]0;pwned\x07`) {
		t.Fatalf("escaped text unreadable: %q", s)
	}
	if got := Escape("plain text, ünïcode ok"); got != "plain text, ünïcode ok" {
		t.Fatalf("Escape changed printable text: %q", got)
	}
}

// Case 6: a replay that differs from a hostile file prints the file's
// stored trace and failure escaped.
func TestReplayOutputEscapesFileText(t *testing.T) {
	f, _ := failing(t)
	g := *f
	g.TraceTail = append([]sim.TraceEvent(nil), f.TraceTail...)
	g.TraceTail[0].What = "\x1b[2Jgotcha"
	out, err := Replay(&g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	text := out.FirstDiff + strings.Join(out.Diffs, "\n")
	if strings.ContainsRune(text, 0x1b) || !strings.Contains(out.FirstDiff, `\x1b[2Jgotcha`) {
		t.Fatalf("first diff %q", out.FirstDiff)
	}
	h := g
	h.Failure = &sim.Failure{Checker: "durability", Message: "\x1b[31mred"}
	h.Variant = "counter.sync=true" // passes now: the file's failure is printed
	out, err = Replay(&h, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if text := strings.Join(out.Diffs, "\n"); strings.ContainsRune(text, 0x1b) {
		t.Fatalf("diffs %q", text)
	}
}

// Case 4: a huge window costs memory for the events a run has, not for the
// window asked for (before: 2e9 events were allocated up front and the
// process died out of memory).
func TestTailWindowAllocatesLazily(t *testing.T) {
	var tl *Tail
	alloc := allocatedBy(func() {
		tl = NewTail(2_000_000_000)
		w := tl.Writer()
		for i := 0; i < 100; i++ {
			fmt.Fprintf(w, `{"i":%d,"t":0,"k":"send","h":"x"}`+"\n", i)
		}
	})
	if alloc > 1<<20 {
		t.Fatalf("a 2e9-event window allocated %d bytes for 100 events", alloc)
	}
	if evs := tl.Events(); len(evs) != 100 || evs[99].Index != 99 {
		t.Fatalf("events %d", len(evs))
	}
	small := NewTail(3)
	for i := 0; i < 10; i++ {
		fmt.Fprintf(small.Writer(), `{"i":%d,"t":0,"k":"send","h":"x"}`+"\n", i)
	}
	if evs := small.Events(); len(evs) != 3 || evs[0].Index != 7 || evs[2].Index != 9 {
		t.Fatalf("ring of 3 kept %v", evs)
	}
}
