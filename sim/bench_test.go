package sim

import "testing"

// pinger bounces one preallocated message and re-arms one preallocated
// timer: the kernel's steady state, which must not allocate per event.
type pinger struct {
	env  *Env
	peer NodeID
	msg  Message
	tick func()
}

func (p *pinger) Start(env *Env) {
	p.env = env
	p.tick = func() { p.env.After(Millisecond, p.tick) }
	env.After(Millisecond, p.tick)
	if p.env.ID() == 0 {
		env.After(0, func() {
			for i := 0; i < 64; i++ {
				env.Send(p.peer, p.msg)
			}
		})
	}
}

func (p *pinger) Receive(from NodeID, msg Message) { p.env.Send(from, msg) }

// BenchmarkKernel measures events/s of the world's loop: 64 messages
// bouncing between two nodes with 0..1ms delays, plus timers.
func BenchmarkKernel(b *testing.B) {
	w := NewWorld(1, Options{Net: NetOptions{DelayMin: 0, DelayMax: Millisecond}})
	msg := Message(&struct{ x int }{1})
	w.AddNode("a", func() Node { return &pinger{peer: 1, msg: msg} })
	w.AddNode("b", func() Node { return &pinger{peer: 0, msg: msg} })
	w.RunFor(Second) // warm up: pools and heap at steady size
	b.ReportAllocs()
	b.ResetTimer()
	start := w.Events()
	for w.Events()-start < uint64(b.N) {
		w.RunFor(10 * Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(w.Events()-start)/b.Elapsed().Seconds(), "events/s")
}

// bareEvent and bareHeap are the baseline: the least a discrete-event loop
// can do (a binary heap of (time, seq) structs, a PRNG draw per event).
type bareEvent struct {
	at   int64
	seq  uint64
	node int32
}

type bareHeap []bareEvent

func (h *bareHeap) push(e bareEvent) {
	*h = append(*h, e)
	s := *h
	for j := len(s) - 1; j > 0; {
		i := (j - 1) / 2
		if s[i].at < s[j].at || (s[i].at == s[j].at && s[i].seq < s[j].seq) {
			break
		}
		s[i], s[j] = s[j], s[i]
		j = i
	}
}

func (h *bareHeap) pop() bareEvent {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	for i := 0; ; {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && (s[r].at < s[l].at || (s[r].at == s[l].at && s[r].seq < s[l].seq)) {
			m = r
		}
		if s[i].at < s[m].at || (s[i].at == s[m].at && s[i].seq < s[m].seq) {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

// BenchmarkKernelBaselineHeap is the bare binary-heap event loop with the
// same shape of work (64 messages in flight plus two timers).
func BenchmarkKernelBaselineHeap(b *testing.B) {
	r := NewRand(1)
	h := bareHeap{}
	var seq uint64
	for i := 0; i < 66; i++ {
		seq++
		h.push(bareEvent{at: int64(r.Uint64n(1e6)), seq: seq, node: int32(i % 2)})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e := h.pop()
		seq++
		h.push(bareEvent{at: e.at + int64(r.Uint64n(1e6)), seq: seq, node: 1 - e.node})
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// TestKernelSteadyStateDoesNotAllocate pins the benchmark's 0 allocs/event
// as a test (allocation counts are deterministic; timings are not).
func TestKernelSteadyStateDoesNotAllocate(t *testing.T) {
	w := NewWorld(1, Options{Net: NetOptions{DelayMin: 0, DelayMax: Millisecond}})
	msg := Message(&struct{ x int }{1})
	w.AddNode("a", func() Node { return &pinger{peer: 1, msg: msg} })
	w.AddNode("b", func() Node { return &pinger{peer: 0, msg: msg} })
	w.RunFor(Second)
	before := w.Events()
	allocs := testing.AllocsPerRun(20, func() { w.RunFor(10 * Millisecond) })
	if w.Events()-before < 10000 {
		t.Fatalf("too few events to measure: %d", w.Events()-before)
	}
	if allocs > 0 {
		t.Fatalf("steady state allocates: %.1f allocs per 10ms of virtual time", allocs)
	}
}
