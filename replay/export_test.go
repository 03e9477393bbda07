package replay

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

var fig8 struct {
	once sync.Once
	f    *File
	err  error
}

// figure8File returns the failure file of the first failing seed of
// raft/unsafe-figure8 (seed 3 today), with its trace tail.
func figure8File(t *testing.T) *File {
	t.Helper()
	fig8.once.Do(func() {
		s, err := scenarios.Lookup("raft/unsafe-figure8")
		if err != nil {
			fig8.err = err
			return
		}
		for seed := uint64(1); seed <= 20; seed++ {
			res := scenarios.Run(s, scenarios.Variant{}, seed, scenarios.Config{})
			if res.Failure != nil {
				fig8.f = FromResult(res, "test")
				fig8.f.Capture(40, 0)
				return
			}
		}
		fig8.err = fmt.Errorf("raft/unsafe-figure8 passed seeds 1..20: the adversary no longer finds the bug?")
	})
	if fig8.err != nil {
		t.Fatal(fig8.err)
	}
	return fig8.f
}

func record(t *testing.T, f *File) *Recording {
	t.Helper()
	rec, err := Record(f, RecordOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rec.Outcome.Same {
		t.Fatalf("recording is not a replay of the file: %v", rec.Outcome.Diffs)
	}
	return rec
}

// The recording of a figure-8 failure holds what the page must show: two
// leaders with their terms, the partitions, and messages matched from send
// to delivery or drop.
func TestRecordFigure8(t *testing.T) {
	rec := record(t, figure8File(t))
	tl := rec.Timeline()
	if got := tl.Lanes[:5]; !cmp.Equal(got, []string{"s0", "s1", "s2", "s3", "s4"}) {
		t.Fatalf("lanes %v", tl.Lanes)
	}
	leaders := map[string]map[uint64]bool{}
	for _, r := range tl.Roles {
		if r.Leader {
			n := tl.Lanes[r.Lane]
			if leaders[n] == nil {
				leaders[n] = map[uint64]bool{}
			}
			leaders[n][r.Term] = true
		}
	}
	if len(leaders) < 2 {
		t.Fatalf("want leadership bands of at least two nodes, got %v", leaders)
	}
	if len(tl.Groups) == 0 || len(tl.Cuts) == 0 {
		t.Fatalf("no partition bands: groups %d cuts %d", len(tl.Groups), len(tl.Cuts))
	}
	fates := map[int]int{}
	for _, m := range tl.Msgs {
		fates[m.Fate]++
		if m.Send >= 0 && m.End >= 0 && m.Fate != MsgRefused {
			s, e := rec.Events[m.Send], rec.Events[m.End]
			if s.What != e.What || s.Node != e.Node || s.Peer != e.Peer || e.Time < s.Time {
				t.Fatalf("message matched wrongly:\n %s\n %s", FormatEvent(s), FormatEvent(e))
			}
			if tl.Lane[m.End] != tl.Peer[m.Send] {
				t.Fatalf("delivery drawn on lane %d, receiver lane %d", tl.Lane[m.End], tl.Peer[m.Send])
			}
		}
	}
	if fates[MsgDelivered] == 0 || fates[MsgRefused] == 0 {
		t.Fatalf("fates %v: want deliveries and refused sends", fates)
	}
	if fates[MsgOrphan] != 0 {
		t.Fatalf("%d deliveries without a send in an uncapped trace", fates[MsgOrphan])
	}
}

// A crash and restart become a down band on the node's lane.
func TestRecordDownBand(t *testing.T) {
	f, _ := failing(t)
	rec := record(t, f)
	tl := rec.Timeline()
	if len(tl.Down) == 0 {
		t.Fatalf("counter/unsafe-nosync crashes a server, but no down band")
	}
	for _, d := range tl.Down {
		if d.Text != "down" && d.Text != "paused" || d.To < d.From {
			t.Fatalf("bad band %+v", d)
		}
	}
}

// The cap keeps the latest events and says so.
func TestRecordCap(t *testing.T) {
	rec, err := Record(figure8File(t), RecordOptions{MaxEvents: 100})
	if err != nil {
		t.Fatal(err)
	}
	hasFail := false
	for _, e := range rec.Events {
		hasFail = hasFail || e.Kind == "fail"
	}
	if !rec.Capped || len(rec.Events) != 100 || !hasFail {
		t.Fatalf("capped=%v kept %d (with the failure: %v)", rec.Capped, len(rec.Events), hasFail)
	}
	var b bytes.Buffer
	if err := rec.WriteHTML(&b, PageOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "this page holds its last 100 events") {
		t.Fatal("a capped page does not say so")
	}
}

type pfEvent struct {
	Name string          `json:"name"`
	Cat  string          `json:"cat"`
	Ph   string          `json:"ph"`
	Ts   float64         `json:"ts"`
	Dur  *float64        `json:"dur"`
	Pid  int             `json:"pid"`
	Tid  int             `json:"tid"`
	ID   *int            `json:"id"`
	Bp   string          `json:"bp"`
	Args json.RawMessage `json:"args"`
}

// The Perfetto file is Chrome trace event JSON that holds every trace
// event as one slice on its node's track, every message as a flow from a
// slice to a slice, and the faults and roles as slices.
func TestPerfettoHoldsEveryEvent(t *testing.T) {
	rec := record(t, figure8File(t))
	rec.Events = append(rec.Events[:10:10], append([]sim.TraceEvent{{Index: rec.Events[9].Index, Time: rec.Events[9].Time,
		Kind: "log", Node: "s2", What: "hostile \"quote\" \n newline </script>"}}, rec.Events[10:]...)...)
	var b bytes.Buffer
	if err := rec.WritePerfetto(&b); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		TraceEvents []pfEvent `json:"traceEvents"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	tl := rec.Timeline()
	type key struct {
		I          uint64
		Kind, Body string
		Pid        int
	}
	var want, got []key
	for row, e := range rec.Events {
		want = append(want, key{e.Index, e.Kind, e.What, tl.Lane[row] + 1})
	}
	flows := map[int][]pfEvent{}
	slices := map[[2]int][]pfEvent{}
	names := map[string]bool{}
	for _, e := range doc.TraceEvents {
		switch e.Ph {
		case "M":
		case "X":
			if e.Dur == nil || *e.Dur < 0 {
				t.Fatalf("slice without a duration: %+v", e)
			}
			names[e.Name] = true
			if e.Tid == tidEvents {
				var a struct {
					I    uint64 `json:"i"`
					Body string `json:"body"`
				}
				if err := json.Unmarshal(e.Args, &a); err != nil {
					t.Fatal(err)
				}
				got = append(got, key{a.I, e.Cat, a.Body, e.Pid})
				slices[[2]int{e.Pid, e.Tid}] = append(slices[[2]int{e.Pid, e.Tid}], e)
			}
		case "s", "f":
			if e.ID == nil {
				t.Fatalf("flow without id: %+v", e)
			}
			flows[*e.ID] = append(flows[*e.ID], e)
		default:
			t.Fatalf("unexpected phase %q", e.Ph)
		}
	}
	less := func(a, b key) bool {
		if a.I != b.I {
			return a.I < b.I
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Pid != b.Pid {
			return a.Pid < b.Pid
		}
		return a.Body < b.Body
	}
	sort.Slice(want, func(i, j int) bool { return less(want[i], want[j]) })
	sort.Slice(got, func(i, j int) bool { return less(got[i], got[j]) })
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("perfetto slices differ from the trace (-want +got):\n%s", d)
	}
	nflows := 0
	for _, m := range tl.Msgs {
		if m.Send >= 0 && m.End >= 0 && m.Fate != MsgRefused {
			nflows++
		}
	}
	if len(flows) != nflows || nflows == 0 {
		t.Fatalf("%d flows, want %d", len(flows), nflows)
	}
	for id, fl := range flows {
		if len(fl) != 2 || fl[0].Ph != "s" || fl[1].Ph != "f" || fl[1].Bp != "e" || fl[1].Ts < fl[0].Ts {
			t.Fatalf("flow %d malformed: %+v", id, fl)
		}
	}
	// Slices on one track never overlap partly (Perfetto needs nesting),
	// and each flow end lies in a slice of its track.
	for tr, ss := range slices {
		sort.SliceStable(ss, func(i, j int) bool { return ss[i].Ts < ss[j].Ts })
		for i := 1; i < len(ss); i++ {
			a, b := ss[i-1], ss[i]
			if b.Ts > a.Ts && b.Ts < a.Ts+*a.Dur-1e-6 {
				t.Fatalf("track %v: slices overlap partly: %+v %+v", tr, a, b)
			}
		}
	}
	var leader, partition bool
	for n := range names {
		leader = leader || strings.HasPrefix(n, "LEADER term ")
		partition = partition || strings.HasPrefix(n, "partition {")
	}
	if !leader || !partition {
		t.Fatalf("leader slices %v, partition slices %v: want both", leader, partition)
	}
}

// The ShiViz log starts with its parser's regular expression, holds every
// trace event in order on its node's host, and its vector clocks are
// consistent: a host's own entry grows by one per event and a delivery's
// clock is at least the send's.
func TestShiVizHoldsEveryEvent(t *testing.T) {
	rec := record(t, figure8File(t))
	rec.Events = append(rec.Events[:10:10], append([]sim.TraceEvent{{Index: rec.Events[9].Index, Time: rec.Events[9].Time,
		Kind: "log", Node: "s2", What: "two\nlines and a {\"json\":1}"}}, rec.Events[10:]...)...)
	var b bytes.Buffer
	if err := rec.WriteShiViz(&b); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&b)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) < 2 || lines[0] != ShiVizRegex || lines[1] != "" {
		t.Fatalf("header %q", lines[:2])
	}
	re, err := regexp.Compile(lines[0])
	if err != nil {
		t.Fatalf("ShiViz regex does not compile: %v", err)
	}
	body := strings.Join(lines[2:], "\n")
	ms := re.FindAllStringSubmatch(body, -1)
	if len(ms) != len(rec.Events) {
		t.Fatalf("%d ShiViz events, %d trace events", len(ms), len(rec.Events))
	}
	tl := rec.Timeline()
	own := map[string]int{}
	clocks := make([]map[string]int, len(ms))
	hi, ci, ei := re.SubexpIndex("host"), re.SubexpIndex("clock"), re.SubexpIndex("event")
	for row, m := range ms {
		host, ev := m[hi], m[ei]
		if want := shivizHost(tl.Lanes[tl.Lane[row]]); host != want {
			t.Fatalf("event %d on host %q, want %q", row, host, want)
		}
		if ev != FormatEvent(rec.Events[row]) {
			t.Fatalf("event %d text %q, want %q", row, ev, FormatEvent(rec.Events[row]))
		}
		var c map[string]int
		if err := json.Unmarshal([]byte(m[ci]), &c); err != nil {
			t.Fatalf("clock %q: %v", m[ci], err)
		}
		own[host]++
		if c[host] != own[host] {
			t.Fatalf("host %s's own entry is %d at its event %d", host, c[host], own[host])
		}
		clocks[row] = c
	}
	merged := 0
	for _, m := range tl.Msgs {
		if m.Fate != MsgDelivered || m.Send < 0 {
			continue
		}
		for h, v := range clocks[m.Send] {
			if clocks[m.End][h] < v {
				t.Fatalf("delivery %d's clock %v is not after its send's %v", m.End, clocks[m.End], clocks[m.Send])
			}
		}
		merged++
	}
	if merged == 0 {
		t.Fatal("no delivered message")
	}
}
