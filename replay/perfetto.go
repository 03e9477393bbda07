package replay

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/smilingraft/dsim/sim"
)

// Perfetto track ids inside each node's process.
const (
	tidEvents = 1 // every trace event of the node, as a short slice
	tidProc   = 2 // down and paused spans
	tidLinks  = 3 // spans with links cut
	tidRole   = 4 // term and leadership spans
)

// perfettoEvent is one Chrome trace event (the JSON Perfetto and
// chrome://tracing read): https://docs.google.com/document/d/1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU
type perfettoEvent struct {
	Name string         `json:"name"`
	Cat  string         `json:"cat,omitempty"`
	Ph   string         `json:"ph"`
	Ts   float64        `json:"ts"`
	Dur  *float64       `json:"dur,omitempty"`
	Pid  int            `json:"pid"`
	Tid  int            `json:"tid"`
	ID   *int           `json:"id,omitempty"`
	Bp   string         `json:"bp,omitempty"`
	Args map[string]any `json:"args,omitempty"`
}

func us(t sim.Time) float64 { return float64(t) / 1e3 }

// WritePerfetto writes the recording in Chrome's trace event JSON format,
// which Perfetto (ui.perfetto.dev) and chrome://tracing open: every node
// is a process (pid) whose first track (tid 1) holds each of its trace
// events as a short slice named by kind (and message type) with the event
// index, peer, size and body as args; messages are flow events (ph s at
// the send, ph f at the delivery or the drop); down and paused spans, cut
// links and the node's term and leadership are slices on tracks 2, 3 and
// 4; the world's events and the connected groups while links are cut are
// on the "world" process. Time is virtual time in microseconds.
func (r *Recording) WritePerfetto(w io.Writer) error {
	tl := r.Timeline()
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	bw.WriteString(`{"displayTimeUnit":"ns","otherData":`)
	other := map[string]any{"tool": "dsim " + Version}
	if f := r.File; f != nil {
		other["scenario"], other["seed"], other["variant"] = f.Scenario, f.Seed, f.Variant
	}
	if r.Outcome != nil && r.Outcome.Result != nil && r.Outcome.Result.Failure != nil {
		other["failure"] = r.Outcome.Result.Failure.Error()
	}
	if err := enc.Encode(other); err != nil {
		return err
	}
	bw.WriteString(`,"traceEvents":[`)
	first := true
	emit := func(e perfettoEvent) error {
		if !first {
			bw.WriteByte(',')
		}
		first = false
		return enc.Encode(&e) // a newline after each: one event a line
	}
	pid := func(lane int) int { return lane + 1 }
	for l, name := range tl.Lanes {
		meta := []perfettoEvent{
			{Name: "process_name", Ph: "M", Pid: pid(l), Args: map[string]any{"name": name}},
			{Name: "process_sort_index", Ph: "M", Pid: pid(l), Args: map[string]any{"sort_index": l}},
			{Name: "thread_name", Ph: "M", Pid: pid(l), Tid: tidEvents, Args: map[string]any{"name": name + " events"}},
			{Name: "thread_name", Ph: "M", Pid: pid(l), Tid: tidProc, Args: map[string]any{"name": name + " down/paused"}},
			{Name: "thread_name", Ph: "M", Pid: pid(l), Tid: tidLinks, Args: map[string]any{"name": name + " links cut"}},
			{Name: "thread_name", Ph: "M", Pid: pid(l), Tid: tidRole, Args: map[string]any{"name": name + " term/leader"}},
		}
		for _, m := range meta {
			if err := emit(m); err != nil {
				return err
			}
		}
	}
	// Each event is a slice lasting until the lane's next distinct
	// instant (at most 1µs), so slices on a track never overlap partly
	// and a flow binds to the slice it starts or ends in.
	dur := make([]float64, len(r.Events))
	last := make([]sim.Time, len(tl.Lanes))     // the latest time seen on the lane (going back)
	distinct := make([]sim.Time, len(tl.Lanes)) // the lane's next instant after last
	for i := range last {
		last[i], distinct[i] = -1, -1
	}
	for row := len(r.Events) - 1; row >= 0; row-- {
		t, l := r.Events[row].Time, tl.Lane[row]
		if last[l] != t {
			distinct[l], last[l] = last[l], t
		}
		dur[row] = 1.0
		if n := distinct[l]; n > t && n-t < 1000 {
			dur[row] = float64(n-t) / 1e3
		}
	}
	for row := 0; row < len(r.Events); row++ {
		e := r.Events[row]
		args := map[string]any{"i": e.Index}
		if e.Peer != "" {
			args["peer"] = e.Peer
		}
		if e.Node != "" {
			args["node"] = e.Node
		}
		if e.Size != 0 {
			args["size"] = e.Size
		}
		if e.What != "" {
			args["body"] = e.What
		}
		d := dur[row]
		if err := emit(perfettoEvent{Name: eventName(e), Cat: e.Kind, Ph: "X", Ts: us(e.Time), Dur: &d,
			Pid: pid(tl.Lane[row]), Tid: tidEvents, Args: args}); err != nil {
			return err
		}
	}
	for j, m := range tl.Msgs {
		if m.Send < 0 || m.End < 0 || m.Fate == MsgRefused {
			continue
		}
		id := j + 1
		s, e := r.Events[m.Send], r.Events[m.End]
		name := "message " + msgType(s.What)
		if err := emit(perfettoEvent{Name: name, Cat: "msg", Ph: "s", Ts: us(s.Time), Pid: pid(tl.Lane[m.Send]), Tid: tidEvents, ID: &id}); err != nil {
			return err
		}
		if err := emit(perfettoEvent{Name: name, Cat: "msg", Ph: "f", Bp: "e", Ts: us(e.Time), Pid: pid(tl.Lane[m.End]), Tid: tidEvents, ID: &id}); err != nil {
			return err
		}
	}
	span := func(iv Interval, tid int, name string, args map[string]any) error {
		d := us(iv.To) - us(iv.From)
		p := pid(iv.Lane)
		if iv.Lane < 0 {
			p = pid(len(tl.Lanes) - 1) // the world
		}
		args["from_event"], args["to_event"] = iv.I0, iv.I1
		return emit(perfettoEvent{Name: name, Cat: "fault", Ph: "X", Ts: us(iv.From), Dur: &d, Pid: p, Tid: tid, Args: args})
	}
	for _, iv := range tl.Down {
		if err := span(iv, tidProc, iv.Text, map[string]any{}); err != nil {
			return err
		}
	}
	for _, iv := range tl.Cuts {
		if err := span(iv, tidLinks, iv.Text, map[string]any{"links_cut": iv.Level}); err != nil {
			return err
		}
	}
	for _, iv := range tl.Groups {
		if err := span(iv, tidLinks, "partition "+iv.Text, map[string]any{}); err != nil {
			return err
		}
	}
	for _, iv := range tl.Roles {
		name := fmt.Sprintf("term %d", iv.Term)
		if iv.Leader {
			name = fmt.Sprintf("LEADER term %d", iv.Term)
		}
		if err := span(iv, tidRole, name, map[string]any{"term": iv.Term, "leader": iv.Leader}); err != nil {
			return err
		}
	}
	bw.WriteString("]}\n")
	return bw.Flush()
}

// shivizHost is a lane name usable as a ShiViz host: no white space.
func shivizHost(s string) string {
	if s == "" {
		return "world"
	}
	return strings.Join(strings.Fields(s), "_")
}
