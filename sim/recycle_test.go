package sim

import "testing"

// note is a pooled test message.
type note struct {
	N   int
	Buf []byte
}

// recycler is a node that recycles every *note it receives, or, with
// later set, keeps them to recycle from a timer (which must not work).
type recycler struct {
	env   *Env
	seen  []*note
	later bool
}

func (r *recycler) Start(env *Env) { r.env = env }

func (r *recycler) Receive(from NodeID, msg Message) {
	m := msg.(*note)
	r.seen = append(r.seen, m)
	if r.later {
		r.env.After(Millisecond, func() { r.env.Recycle(m) })
		return
	}
	r.env.Recycle(m)
	r.env.Recycle(m) // twice: must be kept once
}

func spareCount(w *World) int {
	n := 0
	for _, s := range w.spares {
		n += len(s.msgs)
	}
	return n
}

func TestRecycleReusesOnlyTheDeliveredSingleCopy(t *testing.T) {
	w := NewWorld(1, Options{})
	a, b := &recycler{}, &recycler{}
	w.AddNode("a", func() Node { return a })
	w.AddNode("b", func() Node { return b })

	m := Reuse[note](a.env)
	m.N, m.Buf = 7, []byte("x")
	a.env.Send(1, m)
	b.env.Recycle(m) // not being delivered: refused
	if spareCount(w) != 0 {
		t.Fatal("a message in flight was taken back")
	}
	w.RunFor(Second)
	if len(b.seen) != 1 || spareCount(w) != 1 {
		t.Fatalf("delivered %d, spares %d; want 1 and 1", len(b.seen), spareCount(w))
	}
	r := Reuse[note](a.env)
	if r != m || r.N != 0 || r.Buf != nil {
		t.Fatalf("Reuse gave %p %+v, want the recycled %p zeroed", r, r, m)
	}
	if Reuse[note](a.env) == m {
		t.Fatal("one recycled message was handed out twice")
	}

	// A duplicated message is never recycled: the other copy is in flight.
	w2 := NewWorld(1, Options{Net: NetOptions{Dup: R(1, 1)}})
	c, d := &recycler{}, &recycler{}
	w2.AddNode("c", func() Node { return c })
	w2.AddNode("d", func() Node { return d })
	c.env.Send(1, &note{N: 1})
	w2.RunFor(Second)
	if len(d.seen) != 2 || spareCount(w2) != 0 {
		t.Fatalf("duplicated: delivered %d, spares %d; want 2 and 0", len(d.seen), spareCount(w2))
	}

	// Recycling later, from a timer, is refused.
	w3 := NewWorld(1, Options{})
	e, f := &recycler{}, &recycler{later: true}
	w3.AddNode("e", func() Node { return e })
	w3.AddNode("f", func() Node { return f })
	e.env.Send(1, &note{N: 2})
	w3.RunFor(Second)
	if len(f.seen) != 1 || spareCount(w3) != 0 {
		t.Fatalf("late recycle: delivered %d, spares %d; want 1 and 0", len(f.seen), spareCount(w3))
	}
}

// reqRecycler recycles every RPC request it receives and never answers.
type reqRecycler struct{ env *Env }

func (r *reqRecycler) Start(env *Env) { r.env = env }

func (r *reqRecycler) Receive(from NodeID, msg Message) { r.env.Recycle(msg) }

// A *Request is never taken back: the caller's timeout timer still holds
// it, and a Reuse handing it out zeroed would time out the wrong call.
func TestRecycleRefusesRequests(t *testing.T) {
	w := NewWorld(1, Options{})
	a, b := &recycler{}, &reqRecycler{}
	w.AddNode("a", func() Node { return a })
	w.AddNode("b", func() Node { return b })
	timeouts := 0
	a.env.Call(1, &note{N: 1}, 100*Millisecond, func(reply Message, ok bool) {
		if ok {
			t.Errorf("an unanswered call got a reply %v", reply)
		}
		timeouts++
	})
	w.RunFor(10 * Millisecond) // delivered and recycled, not yet timed out
	if spareCount(w) != 0 {
		t.Fatal("a request was taken back while its call's timeout holds it")
	}
	m := Reuse[Request](a.env)
	m.ID = 99
	w.RunFor(Second)
	if timeouts != 1 {
		t.Fatalf("the call timed out %d times, want 1", timeouts)
	}
}
