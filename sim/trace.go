package sim

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
)

// Hash tags, one per kind of event folded into the trace hash.
const (
	evSend eventKind = iota + 16
	evDrop
	evCrash
	evRestart
	evPause
	evResume
	evPartition
	evDisk
	evClock
	evNet
	evInvoke
	evReturn
	evAction
	evFork
)

// mix folds one event into the running trace hash. It is cheap (a few
// multiplies) so that it runs for every event of every run.
func (w *World) mix(kind eventKind, a, b NodeID, v int64) {
	h := w.hash
	h ^= uint64(kind) | uint64(uint32(a))<<8 | uint64(uint32(b))<<40
	h *= 0x100000001b3
	h ^= uint64(w.now)
	h *= 0x9e3779b97f4a7c15
	h ^= uint64(v)
	h *= 0xbf58476d1ce4e5b9
	w.hash = h ^ (h >> 29)
}

// TraceEvent is one line of a recorded trace.
type TraceEvent struct {
	Index uint64 `json:"i"`
	Time  Time   `json:"t"`
	Kind  string `json:"k"`
	Node  string `json:"n,omitempty"`
	Peer  string `json:"p,omitempty"`
	Size  int    `json:"sz,omitempty"`
	What  string `json:"m,omitempty"`
	Hash  string `json:"h"`
}

// Trace record kinds.
const (
	trSend      = "send"
	trDeliver   = "deliver"
	trDrop      = "drop"
	trTimer     = "timer"
	trCrash     = "crash"
	trRestart   = "start"
	trPause     = "pause"
	trResume    = "resume"
	trPartition = "net"
	trNet       = "netopts"
	trDisk      = "disk"
	trClock     = "clock"
	trInvoke    = "invoke"
	trReturn    = "return"
	trLog       = "log"
	trFail      = "fail"
	trAction    = "action"
)

type tracer struct {
	bw  *bufio.Writer
	enc *json.Encoder
}

func newTracer(out io.Writer) *tracer {
	bw := bufio.NewWriterSize(out, 64<<10)
	return &tracer{bw: bw, enc: json.NewEncoder(bw)}
}

// record writes one trace line when a trace is being recorded.
func (w *World) record(kind string, a, b NodeID, size int, what any) {
	if w.tr == nil {
		return
	}
	ev := TraceEvent{Index: w.events, Time: w.now, Kind: kind, Size: size, Hash: fmt.Sprintf("%016x", w.hash)}
	if a != NoNode {
		ev.Node = w.Name(a)
	}
	if b != NoNode {
		ev.Peer = w.Name(b)
	}
	if (kind == trInvoke || kind == trReturn) && (a < 0 || int(a) >= len(w.procs)) {
		ev.Node = fmt.Sprintf("client%d", a)
	}
	if what != nil {
		s := describe(what)
		if len(s) > 240 {
			s = s[:240] + "…"
		}
		ev.What = s
	}
	_ = w.tr.enc.Encode(&ev)
}

func describe(v any) string {
	switch m := v.(type) {
	case string:
		return m
	case *Request:
		return fmt.Sprintf("call#%d %s", m.ID, describe(m.Body))
	case *reply:
		return fmt.Sprintf("reply#%d %s", m.id, describe(m.body))
	case fmt.Stringer:
		return m.String()
	case nil:
		return "nil"
	default:
		return fmt.Sprintf("%T %s", v, formatValue(v)) // bytes as text: describe.go
	}
}

// FlushTrace writes out any buffered trace lines.
func (w *World) FlushTrace() error {
	if w.tr == nil {
		return nil
	}
	return w.tr.bw.Flush()
}

// Note writes a free-form line into the trace (scenario phases, checker
// verdicts) and folds it into the hash.
func (w *World) Note(format string, args ...any) {
	w.mix(evAction, NoNode, NoNode, 0)
	if w.tr != nil {
		w.record(trAction, NoNode, NoNode, 0, fmt.Sprintf(format, args...))
	}
}
